import { readUpTo, type ByteSource } from '../core/io/byte-source.js';
import { basename, type FileSetResolver } from '../platform/browser/file-set-resolver.js';

/**
 * A quick look at the picked files to suggest the top of the chain, before the real chain opener
 * runs: which files are descriptors (or hosted sparse files with one embedded), which parent each
 * names and which data files each references. Only headers are read (a few KiB per file).
 */
export type PickedKind = 'descriptor' | 'hostedSparse' | 'cowd' | 'seSparse' | 'data' | 'other';

export interface PickedFile {
  path: string;
  size: number;
  kind: PickedKind;
  createType: string | null;
  parentHint: string | null;
  extentFiles: string[];
}

export interface ScanResult {
  files: PickedFile[];
  /** Files that can be opened as a chain top (descriptors and hosted sparse files), best first. */
  tops: string[];
  suggestedTop: string | null;
  /** The folder walk stopped early (too many files or folders too deep). */
  truncatedListing: boolean;
}

/** Files beyond this many are listed but not probed (a wrongly picked huge folder stays fast). */
const MAX_PROBED = 2000;
const MAX_DESCRIPTOR_BYTES = 64 * 1024;

export async function scanPicked(resolver: FileSetResolver): Promise<ScanResult> {
  const paths = await resolver.list();
  const files: PickedFile[] = [];
  for (const path of paths) {
    const info: PickedFile = { path, size: 0, kind: 'other', createType: null, parentHint: null, extentFiles: [] };
    files.push(info);
    if (!/\.vmdk$/i.test(path) || files.length > MAX_PROBED) continue;
    const src = await resolver.open(path).catch(() => null);
    if (!src) continue;
    info.size = src.size;
    await probe(src, info).catch(() => {
      info.kind = 'other'; // unreadable: the chain opener will say why if the user picks it
    });
  }
  return { files, ...rankTops(files), truncatedListing: resolver.truncatedListing };
}

async function probe(src: ByteSource, info: PickedFile): Promise<void> {
  const head = await readUpTo(src, 0, 512);
  const magic = ascii(head.subarray(0, 4));
  let text: string | null = null;
  if (magic === 'KDMV' && head.length >= 44) {
    info.kind = 'hostedSparse';
    const dv = new DataView(head.buffer, head.byteOffset, head.length);
    const off = Number(dv.getBigUint64(0x1c, true));
    const len = Number(dv.getBigUint64(0x24, true));
    if (off > 0 && len > 0 && len * 512 <= MAX_DESCRIPTOR_BYTES && off * 512 < src.size) {
      text = latin1(await readUpTo(src, off * 512, len * 512));
    }
  } else if (magic === 'COWD') {
    info.kind = 'cowd';
  } else if (head.length >= 8 && head[0] === 0xbe && head[1] === 0xba && head[2] === 0xfe && head[3] === 0xca && isZero(head.subarray(4, 8))) {
    info.kind = 'seSparse';
  } else if (src.size <= MAX_DESCRIPTOR_BYTES && looksLikeDescriptor(latin1(head))) {
    info.kind = 'descriptor';
    text = latin1(await readUpTo(src, 0, src.size));
  } else {
    info.kind = 'data';
  }
  if (text !== null) parseHints(text.split('\0')[0]!, info);
}

function looksLikeDescriptor(s: string): boolean {
  return /^\s*#\s*Disk DescriptorFile/i.test(s) || /^\s*createType\s*=/im.test(s);
}

function parseHints(text: string, info: PickedFile): void {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const kv = /^([A-Za-z]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (kv) {
      const key = kv[1]!.toLowerCase();
      if (key === 'createtype') info.createType = kv[2]!;
      else if (key === 'parentfilenamehint' && kv[2]) info.parentHint = kv[2]!;
      continue;
    }
    // Extent line: ACCESS SECTORS TYPE "FILE" [OFFSET]; the name runs from the first to the last quote.
    const ext = /^(RW|RDONLY|NOACCESS)\s+\d+\s+\w+\s+"(.*)"/i.exec(line);
    if (ext) info.extentFiles.push(ext[2]!);
  }
}

/**
 * Tops are openable files that no other picked file names as its parent or as an extent. The
 * suggestion is the top with the longest chain of picked parents behind it (a lone base disk loses
 * to the snapshot that uses it).
 */
function rankTops(files: PickedFile[]): { tops: string[]; suggestedTop: string | null } {
  const openable = files.filter((f) => f.kind === 'descriptor' || f.kind === 'hostedSparse');
  const referenced = new Set<string>();
  for (const f of files) {
    if (f.parentHint) referenced.add(basename(f.parentHint).toLowerCase());
    for (const e of f.extentFiles) referenced.add(basename(e).toLowerCase());
  }
  const byName = new Map(openable.map((f) => [basename(f.path).toLowerCase(), f]));
  const depth = (f: PickedFile): number => {
    let d = 0;
    const seen = new Set<PickedFile>();
    for (let cur: PickedFile | undefined = f; cur && !seen.has(cur); d++) {
      seen.add(cur);
      cur = cur.parentHint ? byName.get(basename(cur.parentHint).toLowerCase()) : undefined;
    }
    return d;
  };
  const free = openable.filter((f) => !referenced.has(basename(f.path).toLowerCase()));
  const ranked = (free.length > 0 ? free : openable)
    .map((f) => ({ f, d: depth(f) }))
    .sort((a, b) => b.d - a.d || a.f.path.localeCompare(b.f.path));
  const tops = ranked.map((r) => r.f.path);
  // Referenced descriptors stay selectable (the user may want an older point of the chain).
  // Pieces of a split hosted disk (KDMV without an embedded descriptor) are never a top.
  for (const f of openable) if (!tops.includes(f.path) && (f.kind === 'descriptor' || f.createType)) tops.push(f.path);
  return { tops, suggestedTop: tops[0] ?? null };
}

function ascii(b: Uint8Array): string {
  return String.fromCharCode(...b);
}
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}
function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}
