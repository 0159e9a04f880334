import { defineStruct, putU16, putU32, putU64, SECTOR } from '../util/struct.js';

/**
 * KDMV hosted sparse header (vmdk-format.md §3.1), as the writers fill it. The field table is the
 * same one a reader parses; `encodeKdmvHeader` writes each field at its declared offset.
 */
export const KDMV_HEADER = defineStruct('KDMV header', SECTOR, {
  magic: [0x00, 'u32'],
  version: [0x04, 'u32'],
  flags: [0x08, 'u32'],
  capacity: [0x0c, 'u64'],
  grainSize: [0x14, 'u64'],
  descriptorOffset: [0x1c, 'u64'],
  descriptorSize: [0x24, 'u64'],
  numGTEsPerGT: [0x2c, 'u32'],
  rgdOffset: [0x30, 'u64'],
  gdOffset: [0x38, 'u64n'],
  overHead: [0x40, 'u64'],
  uncleanShutdown: [0x48, 'u8'],
  singleEndLineChar: [0x49, 'u8'],
  nonEndLineChar: [0x4a, 'u8'],
  doubleEndLineChar1: [0x4b, 'u8'],
  doubleEndLineChar2: [0x4c, 'u8'],
  compressAlgorithm: [0x4d, 'u16'],
});

export const KDMV_MAGIC = 0x564d444b;
export const FLAG_NEWLINE_CHECK = 0x1;
export const FLAG_REDUNDANT_GD = 0x2;
export const FLAG_COMPRESSED = 0x10000;
export const FLAG_MARKERS = 0x20000;
export const GD_AT_END = 0xffffffffffffffffn;
export const GRAIN_SECTORS = 128; // 64 KiB grains
export const GTES_PER_GT = 512;
export const DESCRIPTOR_SECTORS = 20;

export type KdmvHeaderValues = {
  version: number;
  flags: number;
  capacity: number; // sectors
  descriptorOffset: number;
  descriptorSize: number;
  rgdOffset: number;
  gdOffset: number | bigint;
  overHead: number;
  compressAlgorithm: number;
};

export function encodeKdmvHeader(v: KdmvHeaderValues): Uint8Array {
  const f = KDMV_HEADER.fields;
  const b = new Uint8Array(SECTOR);
  putU32(b, f.magic[0], KDMV_MAGIC);
  putU32(b, f.version[0], v.version);
  putU32(b, f.flags[0], v.flags);
  putU64(b, f.capacity[0], v.capacity);
  putU64(b, f.grainSize[0], GRAIN_SECTORS);
  putU64(b, f.descriptorOffset[0], v.descriptorOffset);
  putU64(b, f.descriptorSize[0], v.descriptorSize);
  putU32(b, f.numGTEsPerGT[0], GTES_PER_GT);
  putU64(b, f.rgdOffset[0], v.rgdOffset);
  putU64(b, f.gdOffset[0], v.gdOffset);
  putU64(b, f.overHead[0], v.overHead);
  b[f.uncleanShutdown[0]] = 0;
  // Text-mode transfer check bytes: "\n", " ", "\r\n".
  b[f.singleEndLineChar[0]] = 0x0a;
  b[f.nonEndLineChar[0]] = 0x20;
  b[f.doubleEndLineChar1[0]] = 0x0d;
  b[f.doubleEndLineChar2[0]] = 0x0a;
  putU16(b, f.compressAlgorithm[0], v.compressAlgorithm);
  return b;
}

/** Stream marker types (§3.6). */
export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;

/** One metadata marker sector: u64 val, u32 size = 0, u32 type, zero padding. */
export function encodeMarker(val: number, type: number): Uint8Array {
  const b = new Uint8Array(SECTOR);
  putU64(b, 0, val);
  putU32(b, 8, 0);
  putU32(b, 12, type);
  return b;
}

/** Descriptor text padded with NULs to `sectors` sectors (the reader stops at the first NUL). */
export function descriptorSectors(text: string, sectors: number, name: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length >= sectors * SECTOR) throw new RangeError(`${name}: descriptor of ${bytes.length} bytes does not fit in ${sectors} sectors`);
  const out = new Uint8Array(sectors * SECTOR);
  out.set(bytes);
  return out;
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
export const roundUp = (a: number, b: number): number => Math.ceil(a / b) * b;
