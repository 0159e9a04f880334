import { CorruptError } from '../errors.js';
import type { Descriptor, DescriptorExtent } from './types.js';

/**
 * The VMDK text descriptor (docs/format-notes.md "VMDK text descriptor"): a separate small file or text embedded in a
 * KDMV file. Parsing is by line shape (header `key=value`, extent lines starting with an access
 * word, `ddb.key = "value"`), keys compared case-insensitively, so descriptors written by
 * VMware, qemu and VirtualBox all read. Serialising follows VMware's exact spelling (same section).
 */

/** Real descriptors are < 4 KiB; twoGbMaxExtent* with thousands of extents stay far below this. */
export const MAX_DESCRIPTOR_BYTES = 1024 * 1024;
/** 64 TiB in 2 GiB pieces is 32768 extents. */
export const MAX_EXTENTS = 65536;

export const NO_PARENT_CID = 'ffffffff';
/** Seen in hand-made templates; means "unknown", never grounds to reject a link (docs/format-notes.md "VMDK text descriptor"). */
export const UNKNOWN_CID = 'fffffffe';

const ACCESS = new Set(['RW', 'RDONLY', 'NOACCESS']);
const EXTENT_TYPES = new Set<DescriptorExtent['type']>(['FLAT', 'SPARSE', 'ZERO', 'VMFS', 'VMFSSPARSE', 'SESPARSE', 'VMFSRDM', 'VMFSRAW']);

/**
 * Decodes descriptor bytes: text ends at the first NUL (embedded descriptors and qemu-rewritten
 * files are NUL padded). Non-UTF-8 encodings named by `encoding="…"` are honoured when the
 * platform's TextDecoder knows them.
 */
export function decodeDescriptorBytes(bytes: Uint8Array, name = 'descriptor'): string {
  if (bytes.length > MAX_DESCRIPTOR_BYTES) {
    throw new CorruptError(`${name}: descriptor is ${bytes.length} bytes, more than the ${MAX_DESCRIPTOR_BYTES} a descriptor can be`);
  }
  const nul = bytes.indexOf(0);
  const body = nul >= 0 ? bytes.subarray(0, nul) : bytes;
  let text = new TextDecoder('utf-8').decode(body);
  const m = /^\s*encoding\s*=\s*"?([A-Za-z0-9_.:-]+)"?/im.exec(text);
  const enc = m?.[1]?.toLowerCase();
  if (enc && enc !== 'utf-8' && enc !== 'utf8') {
    try {
      text = new TextDecoder(enc).decode(body);
    } catch {
      // Unknown label on this platform: keep the UTF-8 reading (ASCII parts are identical).
    }
  }
  return text;
}

/** True when `head` (the first bytes of a file) looks like a text descriptor. */
export function looksLikeDescriptor(head: Uint8Array): boolean {
  const nul = head.indexOf(0);
  const body = nul >= 0 ? head.subarray(0, nul) : head;
  if (body.length < 8) return false;
  for (const b of body) if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  const text = new TextDecoder('utf-8').decode(body).toLowerCase();
  return text.includes('disk descriptorfile') || /(^|\n)\s*createtype\s*=/.test(text) || /(^|\n)\s*(rw|rdonly|noaccess)\s+\d+\s+[a-z]+/.test(text);
}

/** Strips one pair of surrounding double quotes. */
function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/** A CID as 8 lower-case hex digits (qemu writes them without leading zeros), or null if not hex. */
export function normalizeCid(v: string): string | null {
  const t = unquote(v).trim().toLowerCase();
  if (!/^[0-9a-f]{1,8}$/.test(t)) return null;
  return t.padStart(8, '0');
}

function parseExtentLine(line: string, lineNo: number, name: string): DescriptorExtent {
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
  if (!m) throw new CorruptError(`${name}: line ${lineNo}: bad extent line "${clip(line)}"`);
  const access = m[1]!.toUpperCase();
  const sectorsText = m[2]!;
  const type = m[3]!.toUpperCase() as DescriptorExtent['type'];
  let rest = m[4]!.trim();
  if (!ACCESS.has(access)) throw new CorruptError(`${name}: line ${lineNo}: bad extent access "${clip(access)}"`);
  if (!/^\d{1,16}$/.test(sectorsText) || !Number.isSafeInteger(Number(sectorsText)) || Number(sectorsText) * 512 > Number.MAX_SAFE_INTEGER) {
    throw new CorruptError(`${name}: line ${lineNo}: bad extent size "${clip(sectorsText)}"`);
  }
  if (!EXTENT_TYPES.has(type)) throw new CorruptError(`${name}: line ${lineNo}: unknown extent type "${clip(m[3]!)}"`);
  let fileName: string | null = null;
  let offset = 0;
  if (rest.startsWith('"')) {
    // The file name runs from the first quote to the last quote; names may contain quotes and spaces.
    const close = rest.lastIndexOf('"');
    if (close <= 0) throw new CorruptError(`${name}: line ${lineNo}: unterminated extent file name`);
    fileName = rest.slice(1, close);
    rest = rest.slice(close + 1).trim();
    if (rest.length > 0) {
      const off = rest.split(/\s+/)[0]!;
      if (!/^\d{1,16}$/.test(off) || Number(off) * 512 > Number.MAX_SAFE_INTEGER) {
        throw new CorruptError(`${name}: line ${lineNo}: bad extent offset "${clip(off)}"`);
      }
      offset = Number(off);
    }
  } else if (rest.length > 0) {
    throw new CorruptError(`${name}: line ${lineNo}: extent file name must be quoted: "${clip(rest)}"`);
  }
  if (type !== 'ZERO' && fileName === null) throw new CorruptError(`${name}: line ${lineNo}: ${type} extent without a file name`);
  if (fileName !== null && fileName.length === 0) throw new CorruptError(`${name}: line ${lineNo}: empty extent file name`);
  return { access: access as DescriptorExtent['access'], sectors: Number(sectorsText), type, fileName, offset };
}

function clip(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * Parses descriptor text. Throws CorruptError (naming `name` and the line) for text that is not
 * a descriptor: no extents, an extent line that does not parse, a non-hex CID.
 */
export function parseDescriptor(text: string, name = 'descriptor'): Descriptor {
  if (text.length > MAX_DESCRIPTOR_BYTES) throw new CorruptError(`${name}: descriptor text is longer than ${MAX_DESCRIPTOR_BYTES} characters`);
  const header: Record<string, string> = {};
  const ddb: Record<string, string> = {};
  const extents: DescriptorExtent[] = [];
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\0+$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const first = line.split(/\s+/, 1)[0]!.toUpperCase();
    if (ACCESS.has(first) && !/^\S+\s*=/.test(line)) {
      if (extents.length >= MAX_EXTENTS) throw new CorruptError(`${name}: more than ${MAX_EXTENTS} extents`);
      extents.push(parseExtentLine(line, i + 1, name));
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      // A stray line in a damaged descriptor: ignored unless the whole text yields nothing.
      continue;
    }
    const key = line.slice(0, eq).trim();
    const value = unquote(line.slice(eq + 1));
    if (/^ddb\./i.test(key)) ddb[key.slice(4)] = value;
    else header[key.toLowerCase()] = value;
  }
  if (extents.length === 0) throw new CorruptError(`${name}: not a VMDK descriptor (no extent lines)`);

  const cidText = header['cid'];
  const parentText = header['parentcid'];
  const hint = header['parentfilenamehint'];
  let cid = UNKNOWN_CID;
  if (cidText !== undefined) {
    const c = normalizeCid(cidText);
    if (!c) throw new CorruptError(`${name}: CID "${clip(cidText)}" is not 8 hex digits`);
    cid = c;
  }
  let parentCid = hint ? UNKNOWN_CID : NO_PARENT_CID;
  if (parentText !== undefined) {
    const c = normalizeCid(parentText);
    if (!c) throw new CorruptError(`${name}: parentCID "${clip(parentText)}" is not 8 hex digits`);
    parentCid = c;
  }
  const versionText = header['version'] ?? '1';
  const version = /^\d{1,6}$/.test(versionText) ? Number(versionText) : NaN;
  if (!Number.isFinite(version)) throw new CorruptError(`${name}: bad descriptor version "${clip(versionText)}"`);
  return {
    version,
    encoding: header['encoding'] ?? 'UTF-8',
    cid,
    parentCid,
    createType: header['createtype'] ?? '',
    parentFileNameHint: hint && hint.length > 0 ? hint : null,
    extents,
    ddb,
    header,
  };
}

/** Case-insensitive `ddb.*` lookup (`key` without the `ddb.` prefix). */
export function ddbGet(desc: Descriptor, key: string): string | undefined {
  const k = key.toLowerCase();
  for (const [name, v] of Object.entries(desc.ddb)) if (name.toLowerCase() === k) return v;
  return undefined;
}

/** Total size in sectors: the disk is the concatenation of its extents. */
export function descriptorSectors(desc: Descriptor): number {
  return desc.extents.reduce((n, e) => n + e.sectors, 0);
}

/**
 * Writes a descriptor the way VMware does and qemu/libvmdk accept (docs/format-notes.md "VMDK text descriptor"): no spaces around
 * `=` in the header, `RW` extents, FLAT with its sector offset and VMFS without, a DDB section
 * always present, `ddb.key = "value"` with spaces. `desc.ddb` keys are written in the given
 * spelling (without the `ddb.` prefix).
 */
export function serializeDescriptor(desc: Descriptor): string {
  const q = (s: string) => {
    if (/[\r\n\0]/.test(s)) throw new CorruptError(`descriptor value contains a line break: "${clip(s)}"`);
    return `"${s}"`;
  };
  const cid = normalizeCid(desc.cid) ?? UNKNOWN_CID;
  const parentCid = normalizeCid(desc.parentCid) ?? NO_PARENT_CID;
  if (!/^[A-Za-z]+$/.test(desc.createType)) throw new CorruptError(`bad createType "${clip(desc.createType)}"`);
  const out: string[] = ['# Disk DescriptorFile', `version=${desc.version}`, `encoding=${q(desc.encoding || 'UTF-8')}`, `CID=${cid}`, `parentCID=${parentCid}`];
  const native = desc.header['isnativesnapshot'];
  if (native !== undefined) out.push(`isNativeSnapshot=${q(native)}`);
  out.push(`createType=${q(desc.createType)}`);
  if (desc.parentFileNameHint) out.push(`parentFileNameHint=${q(desc.parentFileNameHint)}`);
  out.push('', '# Extent description');
  for (const e of desc.extents) {
    if (!Number.isSafeInteger(e.sectors) || e.sectors < 0) throw new CorruptError(`bad extent size ${e.sectors}`);
    let line = `${e.access} ${e.sectors} ${e.type}`;
    if (e.type !== 'ZERO') {
      if (!e.fileName) throw new CorruptError(`${e.type} extent needs a file name`);
      line += ` ${q(e.fileName)}`;
      if (e.type === 'FLAT') line += ` ${e.offset}`;
    }
    out.push(line);
  }
  out.push('', '# The Disk Data Base', '#DDB', '');
  for (const [k, v] of Object.entries(desc.ddb)) {
    if (!/^[A-Za-z0-9_.]+$/.test(k)) throw new CorruptError(`bad ddb key "${clip(k)}"`);
    out.push(`ddb.${k} = ${q(v)}`);
  }
  return out.join('\n') + '\n';
}

/** A fresh random CID (8 hex digits, never the special ffffffff/fffffffe values). */
export function randomCid(): string {
  const b = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(b);
    const c = b[0]!.toString(16).padStart(8, '0');
    if (c !== NO_PARENT_CID && c !== UNKNOWN_CID) return c;
  }
}
