import { defineStruct, putU16, putU32, putU64, SECTOR } from '../../util/struct.js';

/**
 * The hosted sparse ("KDMV") header and stream markers (docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized"), declared
 * once: the reader (hosted-sparse.ts) parses with it, the export writers encode with it.
 * Offsets and sizes are sectors.
 */
export const KDMV_HEADER = defineStruct('KDMV header', 0x200, {
  magic: [0x00, 'u32'],
  version: [0x04, 'u32'],
  flags: [0x08, 'u32'],
  capacity: [0x0c, 'u64n'],
  grainSize: [0x14, 'u64n'],
  descriptorOffset: [0x1c, 'u64n'],
  descriptorSize: [0x24, 'u64n'],
  numGTEsPerGT: [0x2c, 'u32'],
  rgdOffset: [0x30, 'u64n'],
  gdOffset: [0x38, 'u64n'], // GD_AT_END = read the footer
  overHead: [0x40, 'u64n'],
  uncleanShutdown: [0x48, 'u8'],
  singleEndLineChar: [0x49, 'u8'],
  nonEndLineChar: [0x4a, 'u8'],
  doubleEndLineChar1: [0x4b, 'u8'],
  doubleEndLineChar2: [0x4c, 'u8'],
  compressAlgorithm: [0x4d, 'u16'],
});

export const KDMV_MAGIC = 0x564d444b; // "KDMV"
export const GD_AT_END = 0xffffffffffffffffn;
export const KDMV_FLAGS = {
  newlineCheck: 0x1,
  redundantGd: 0x2,
  zeroGrain: 0x4,
  compressed: 0x10000,
  markers: 0x20000,
} as const;
/** The text-mode transfer check bytes at 0x49..0x4c: "\n", " ", "\r\n". */
export const NEWLINE_CHECK = [0x0a, 0x20, 0x0d, 0x0a] as const;
/** compressAlgorithm 1: deflate (zlib streams). */
export const COMPRESS_DEFLATE = 1;

/** One metadata marker sector of a stream: u64 val, u32 size = 0, u32 type, zero padding. */
export const KDMV_MARKER = defineStruct('KDMV marker', 0x200, {
  val: [0x00, 'u64n'],
  size: [0x08, 'u32'],
  type: [0x0c, 'u32'],
});
export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;

/** The header fields a writer chooses (magic and the newline check bytes are fixed). */
export interface KdmvHeaderValues {
  version: number;
  flags: number;
  capacity: number;
  grainSize: number;
  descriptorOffset: number;
  descriptorSize: number;
  numGTEsPerGT: number;
  rgdOffset: number;
  gdOffset: number | bigint;
  overHead: number;
  compressAlgorithm: number;
}

export function encodeKdmvHeader(v: KdmvHeaderValues): Uint8Array {
  const f = KDMV_HEADER.fields;
  const b = new Uint8Array(KDMV_HEADER.size);
  putU32(b, f.magic[0], KDMV_MAGIC);
  putU32(b, f.version[0], v.version);
  putU32(b, f.flags[0], v.flags);
  putU64(b, f.capacity[0], v.capacity);
  putU64(b, f.grainSize[0], v.grainSize);
  putU64(b, f.descriptorOffset[0], v.descriptorOffset);
  putU64(b, f.descriptorSize[0], v.descriptorSize);
  putU32(b, f.numGTEsPerGT[0], v.numGTEsPerGT);
  putU64(b, f.rgdOffset[0], v.rgdOffset);
  putU64(b, f.gdOffset[0], v.gdOffset);
  putU64(b, f.overHead[0], v.overHead);
  b[f.uncleanShutdown[0]] = 0;
  b.set(NEWLINE_CHECK, f.singleEndLineChar[0]);
  putU16(b, f.compressAlgorithm[0], v.compressAlgorithm);
  return b;
}

export function encodeMarker(val: number, type: number): Uint8Array {
  const f = KDMV_MARKER.fields;
  const b = new Uint8Array(SECTOR);
  putU64(b, f.val[0], val);
  putU32(b, f.size[0], 0);
  putU32(b, f.type[0], type);
  return b;
}
