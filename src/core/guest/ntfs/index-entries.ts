import { CorruptError } from '../../errors.js';
import { defineStruct, u16, u32 } from '../../util/struct.js';
import { ntfsTime, refRecord, utf16 } from './record.js';

/** Header in front of index entries, in $INDEX_ROOT (at 0x10) and in INDX records (at 0x18). */
export const INDEX_HEADER = defineStruct('NTFS index header', 0x10, {
  entriesOffset: [0x00, 'u32'],
  indexLength: [0x04, 'u32'],
  allocatedSize: [0x08, 'u32'],
  flags: [0x0c, 'u8'],
});

export const INDEX_ROOT = defineStruct('NTFS $INDEX_ROOT', 0x20, {
  indexedType: [0x00, 'u32'],
  collation: [0x04, 'u32'],
  indexRecordSize: [0x08, 'u32'],
  clustersPerIndexRecord: [0x0c, 'u8'],
});

export const NS_POSIX = 0;
export const NS_WIN32 = 1;
export const NS_DOS = 2;
export const NS_WIN32_AND_DOS = 3;
/** $FILE_NAME flag: the named record is a directory (has a $I30 index). */
export const FN_DIRECTORY = 0x10000000;

/** A directory index entry: the key is a copy of the child's $FILE_NAME. */
export interface IndexEntry {
  record: number;
  name: string;
  namespace: number;
  fileFlags: number;
  dataSize: number;
  mtime?: number;
}

/** Entries are bounded per directory so a corrupt index cannot build an unbounded list. */
export const MAX_DIR_ENTRIES = 1 << 20;

/** Parses the entries of one index node whose header sits at `hdrAt` in `b`. */
export function parseIndexNode(b: Uint8Array, hdrAt: number, what: string, out: IndexEntry[]): void {
  const h = INDEX_HEADER.parse(b, hdrAt);
  const end = hdrAt + h.indexLength;
  if (h.indexLength > b.length - hdrAt || h.entriesOffset < 0x10 || hdrAt + h.entriesOffset > end) {
    throw new CorruptError(`${what}: index header (entries at 0x${h.entriesOffset.toString(16)}, length 0x${h.indexLength.toString(16)}) is out of range`);
  }
  let off = hdrAt + h.entriesOffset;
  // Each entry is at least 0x10 bytes, so the loop is bounded by the node size.
  while (off + 0x10 <= end) {
    const entryLen = u16(b, off + 8);
    const keyLen = u16(b, off + 0x0a);
    const flags = u16(b, off + 0x0c);
    if (entryLen < 0x10 || entryLen % 8 !== 0 || off + entryLen > end) {
      throw new CorruptError(`${what}: index entry at 0x${off.toString(16)} has bad length ${entryLen}`);
    }
    if (flags & 2) return; // last entry: carries only a sub-node pointer
    if (keyLen < 0x42 || 0x10 + keyLen > entryLen) throw new CorruptError(`${what}: index entry at 0x${off.toString(16)} has bad key length ${keyLen}`);
    const k = off + 0x10;
    const nameLen = b[k + 0x40]!;
    if (0x42 + nameLen * 2 > keyLen) throw new CorruptError(`${what}: file name in index entry at 0x${off.toString(16)} overruns its key`);
    if (out.length >= MAX_DIR_ENTRIES) throw new CorruptError(`${what}: more than ${MAX_DIR_ENTRIES} directory entries`);
    const dataLo = u32(b, k + 0x30);
    const dataHi = u32(b, k + 0x34);
    out.push({
      record: refRecord(b, off),
      name: utf16(b, k + 0x42, nameLen),
      namespace: b[k + 0x41]!,
      fileFlags: u32(b, k + 0x38),
      dataSize: dataHi > 0x1fffff ? 0 : dataHi * 0x1_0000_0000 + dataLo,
      mtime: ntfsTime(b, k + 0x10),
    });
    off += entryLen;
  }
  throw new CorruptError(`${what}: index node has no end entry`);
}

/**
 * The names a directory shows: one per (record, name), without the directory itself (the root
 * lists itself as "."), and without a DOS 8.3 alias when the same record has a long name here
 * (Windows indexes both; a name in the WIN32_AND_DOS namespace is one entry). Sorted by name.
 */
export function childNames(raw: readonly IndexEntry[], self: number): IndexEntry[] {
  const longNamed = new Set<number>();
  for (const e of raw) if (e.namespace !== NS_DOS) longNamed.add(e.record);
  const seen = new Set<string>();
  const out: IndexEntry[] = [];
  for (const e of raw) {
    if (e.record === self) continue;
    if (e.namespace === NS_DOS && longNamed.has(e.record)) continue;
    const key = `${e.record}/${e.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
