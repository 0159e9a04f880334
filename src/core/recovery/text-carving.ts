import { RescueError, throwIfAborted } from '../errors.js';
import type { JobOptions } from '../progress.js';
import type { DescriptorInfo } from './types.js';
import { hex } from '../util/struct.js';
import { decodeDescriptorBytes, descriptorSectors, looksLikeDescriptor, parseDescriptor } from '../vmdk/descriptor.js';
import { parseVmsd } from '../vmdk/vmsd.js';
import { subBlockItems, type VmfsFs } from '../vmfs/index.js';
import type { Rejections } from './rejected.js';

/**
 * Descriptor and `.vmsd` text found in free space: freed resident FDs, free
 * sub-blocks and the start of free file blocks. Detection looks at the first bytes only; a
 * remnant is parsed from at most MAX_TEXT_BYTES, and all results are plain serialisable data.
 */

/** Where a text remnant was found. */
export type TextLocation = 'freed-fd' | 'free-sub-block' | 'free-block' | 'live-file';

/** A descriptor (live-freed FD or carved text) and what it says. */
export interface DescriptorRemnant {
  volOffset: number;
  /** FD address text for a freed FD's resident text, '' for carved text. */
  fd: string;
  /** FD of the folder the freed FD was in (0 when unknown: always for carved text). */
  parentDir: number;
  location: TextLocation;
  cid: string;
  parentCid: string;
  createType: string;
  parentFileNameHint: string | null;
  capacityBytes: number;
  extentFile: string | null;
  /** Length of the text found (up to its NUL or MAX_TEXT_BYTES). */
  textBytes: number;
}

/** A `.vmsd` (live file or carved text): the snapshot the running state descends from, and the disks it froze. */
export interface VmsdRemnant {
  volOffset: number;
  location: TextLocation;
  /** Path of a live .vmsd, or FD address text of a freed one, or null for carved text. */
  path: string | null;
  /** Live folder of the .vmsd (disk names resolve against it), or null when unknown. */
  dir: string | null;
  /** FD of the folder a freed .vmsd FD was in (0 when unknown). */
  parentDir: number;
  currentUid: number | null;
  currentName: string;
  /** `snapshotN.diskM.fileName` of the current snapshot, as written. */
  currentDisks: string[];
  snapshots: number;
  textBytes: number;
}

export type TextKind = 'descriptor' | 'vmsd';

/** Text read per remnant: real descriptors and .vmsd files are < 4 KiB; a few snapshots more fit in 8. */
export const MAX_TEXT_BYTES = 8 * 1024;
/** Bytes read first from a free sub-block (enough to recognise a text's first lines). */
export const TEXT_PROBE_BYTES = 512;
/** Remnants kept per kind (free space of a busy datastore may hold many stale copies). */
export const MAX_REMNANTS = 4096;

const VMSD_MARK = /(^|\n)\s*(snapshot\.(lastuid|current|numsnapshots)|snapshot\d{1,9}\.uid)\s*=/i;

/** Printable ASCII text bytes (tab, LF, CR allowed) up to the first NUL (or the end). */
function textPrefix(b: Uint8Array): Uint8Array | null {
  let n = 0;
  for (; n < b.length; n++) {
    const x = b[n]!;
    if (x === 0) break;
    if ((x < 0x20 && x !== 0x09 && x !== 0x0a && x !== 0x0d) || x >= 0x7f) {
      // UTF-8 names are allowed past the first line; binary is not.
      if (x >= 0x80 && n > 16) continue;
      return null;
    }
  }
  return n >= 16 ? b.subarray(0, n) : null;
}

/**
 * What text starts at `bytes[0]` (cheap: rejects binary on the first bytes), or null. Used on the
 * first bytes of free blocks and sub-blocks; the caller then reads up to MAX_TEXT_BYTES to parse.
 */
export function textKindOf(bytes: Uint8Array): TextKind | null {
  const b0 = bytes[0];
  // Descriptors begin with '#' or a key; .vmsd files with '.encoding' or a key. Zeros and binary stop here.
  if (b0 === undefined || !((b0 >= 0x41 && b0 <= 0x5a) || (b0 >= 0x61 && b0 <= 0x7a) || b0 === 0x23 || b0 === 0x2e || b0 === 0x0a || b0 === 0x20)) return null;
  const t = textPrefix(bytes);
  if (!t) return null;
  if (looksLikeDescriptor(t)) return 'descriptor';
  const text = new TextDecoder('utf-8').decode(t);
  return VMSD_MARK.test(text) ? 'vmsd' : null;
}

/** The text up to the first NUL; when the bytes end inside the text, only its complete lines. */
function completeText(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return bytes.subarray(0, nul);
  const nl = bytes.lastIndexOf(0x0a);
  return nl >= 0 ? bytes.subarray(0, nl + 1) : bytes;
}

/** Parses descriptor text (a remnant), or null when it does not parse. */
export function parseDescriptorRemnant(bytes: Uint8Array, at: { volOffset: number; location: TextLocation; fd?: string; parentDir?: number }, rejected?: Rejections): DescriptorRemnant | null {
  const body = completeText(bytes.subarray(0, MAX_TEXT_BYTES));
  if (!looksLikeDescriptor(body)) {
    rejected?.add('descriptor-text', at.volOffset, 'descriptor text ends before its header lines are complete');
    return null;
  }
  const name = at.fd || `descriptor text at volume ${hex(at.volOffset)}`;
  try {
    const d = parseDescriptor(decodeDescriptorBytes(body, name), name);
    const capacityBytes = descriptorSectors(d) * 512;
    if (!Number.isSafeInteger(capacityBytes)) {
      rejected?.add('descriptor-text', at.volOffset, `${name}: extents add up to ${descriptorSectors(d)} sectors, out of range`);
      return null;
    }
    return {
      volOffset: at.volOffset,
      fd: at.fd ?? '',
      parentDir: at.parentDir ?? 0,
      location: at.location,
      cid: d.cid,
      parentCid: d.parentCid,
      createType: d.createType,
      parentFileNameHint: d.parentFileNameHint,
      capacityBytes,
      extentFile: d.extents[0]?.fileName ?? null,
      textBytes: body.length,
    };
  } catch (e) {
    if (e instanceof RescueError && e.kind !== 'cancelled') return (rejected?.add('descriptor-text', at.volOffset, e.message), null);
    throw e;
  }
}

/** Parses .vmsd text (a remnant), or null when it is not a snapshot database with snapshot keys. */
export function parseVmsdRemnant(bytes: Uint8Array, at: { volOffset: number; location: TextLocation; path?: string | null; dir?: string | null; parentDir?: number }, rejected?: Rejections): VmsdRemnant | null {
  const body = completeText(bytes.subarray(0, MAX_TEXT_BYTES));
  const text = new TextDecoder('utf-8').decode(body);
  if (!VMSD_MARK.test(text)) return null;
  try {
    const v = parseVmsd(text, at.path ?? `.vmsd text at volume ${hex(at.volOffset)}`);
    const cur = v.currentUid !== null ? v.byUid.get(v.currentUid) : undefined;
    return {
      volOffset: at.volOffset,
      location: at.location,
      path: at.path ?? null,
      dir: at.dir ?? null,
      parentDir: at.parentDir ?? 0,
      currentUid: v.currentUid,
      currentName: cur?.displayName ?? '',
      currentDisks: cur ? cur.disks.map((d) => d.fileName).filter((f) => f.length > 0) : [],
      snapshots: v.snapshots.length,
      textBytes: body.length,
    };
  } catch (e) {
    if (e instanceof RescueError && e.kind !== 'cancelled') return (rejected?.add('vmsd-text', at.volOffset, e.message), null);
    throw e;
  }
}

/** Descriptor or .vmsd remnant from text bytes (kind from textKindOf), or null. */
export function parseTextRemnant(bytes: Uint8Array, at: { volOffset: number; location: TextLocation; fd?: string; parentDir?: number }, rejected?: Rejections): { descriptor: DescriptorRemnant } | { vmsd: VmsdRemnant } | null {
  const kind = textKindOf(bytes);
  if (kind === 'descriptor') {
    const d = parseDescriptorRemnant(bytes, at, rejected);
    return d ? { descriptor: d } : null;
  }
  if (kind === 'vmsd') {
    const v = parseVmsdRemnant(bytes, { volOffset: at.volOffset, location: at.location, path: at.fd || null, parentDir: at.parentDir ?? 0 }, rejected);
    return v ? { vmsd: v } : null;
  }
  return null;
}

/** Where a remnant was found, for evidence text. */
export function remnantWhere(r: { location: TextLocation; volOffset: number; fd?: string; path?: string | null }): string {
  switch (r.location) {
    case 'freed-fd':
      return `freed FD ${r.fd || r.path || '?'}`;
    case 'free-sub-block':
      return `a free sub-block at volume ${hex(r.volOffset)}`;
    case 'free-block':
      return `the first bytes of a free block at volume ${hex(r.volOffset)}`;
    case 'live-file':
      return r.path ?? `live file at volume ${hex(r.volOffset)}`;
  }
}

/**
 * Free sub-blocks (.sbc.sf bitmap: free) that start with descriptor or .vmsd text: reads
 * TEXT_PROBE_BYTES per free item, MAX_TEXT_BYTES more only where text starts. Items whose bitmap
 * is not decoded (ESXi VMFS6 'rcmd' clusters) are not known to be free and are skipped.
 */
export async function carveFreeSubBlocks(fs: VmfsFs, opts: JobOptions = {}, rejected?: Rejections): Promise<{ descriptors: DescriptorRemnant[]; vmsds: VmsdRemnant[]; warnings: string[] }> {
  const descriptors: DescriptorRemnant[] = [];
  const vmsds: VmsdRemnant[] = [];
  const warnings: string[] = [];
  const sbc = subBlockItems(fs);
  if (!sbc || sbc.itemSize < TEXT_PROBE_BYTES) return { descriptors, vmsds, warnings };
  let undecoded = false;
  for (let i = 0; i < sbc.count; i++) {
    if ((i & 255) === 0) throwIfAborted(opts.signal);
    try {
      const allocated = await sbc.allocated(i);
      if (allocated === null) undecoded = true;
      if (allocated !== false) continue;
      const head = await sbc.read(i, TEXT_PROBE_BYTES);
      if (!textKindOf(head)) continue;
      const volOffset = (await sbc.place(i))?.volOffset ?? -1;
      const bytes = await sbc.read(i, MAX_TEXT_BYTES);
      const t = parseTextRemnant(bytes, { volOffset, location: 'free-sub-block' }, rejected);
      if (!t) continue;
      if ('descriptor' in t) {
        if (descriptors.length < MAX_REMNANTS) descriptors.push(t.descriptor);
      } else if (vmsds.length < MAX_REMNANTS) vmsds.push(t.vmsd);
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      // A sub-block that cannot be read is just not evidence.
    }
  }
  if (undecoded) warnings.push('.sbc.sf: some sub-block bitmaps are not decoded; text in those sub-blocks is not searched');
  return { descriptors, vmsds, warnings };
}

/** Re-reads text at the start of free block `block` (from a range result), bounded, or null. */
export async function readBlockText(fs: VmfsFs, block: number, rejected?: Rejections): Promise<{ descriptor: DescriptorRemnant } | { vmsd: VmsdRemnant } | null> {
  const bs = fs.geometry.blockSize;
  const at = block * bs;
  if (!Number.isSafeInteger(at) || at < 0 || at >= fs.vol.size) return null;
  try {
    const bytes = await fs.vol.read(at, Math.min(MAX_TEXT_BYTES, bs, fs.vol.size - at));
    return parseTextRemnant(bytes, { volOffset: at, location: 'free-block' }, rejected);
  } catch (e) {
    if (e instanceof RescueError && e.kind !== 'cancelled') return null;
    throw e;
  }
}

/** The plain facts of a remnant that reports carry (CLI JSON, worker messages): no raw text. */
export function descriptorInfo(d: DescriptorRemnant): DescriptorInfo {
  return { cid: d.cid, parentCid: d.parentCid, parentFileNameHint: d.parentFileNameHint, createType: d.createType, extentFile: d.extentFile, location: d.location, volOffset: d.volOffset };
}
