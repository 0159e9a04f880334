import { CorruptError } from '../errors.js';
import { defineStruct, hex, u32, u64n } from '../util/struct.js';
import { ZLA_DOUBLE, ZLA_FB, ZLA_PB, ZLA_PB2, ZLA_RESIDENT, ZLA_SB } from './address.js';
import type { Layout } from './fs-descriptor.js';
import type { FileType } from './types.js';

/** Lock block at offset 0 of every FD. */
export const FD_LOCK = defineStruct('FD lock', 0x40, {
  type: [0x00, 'u32'],
  volOffset: [0x04, 'u64n'],
  mode: [0x24, 'u32'],
  owner: [0x28, 'uuid'],
  mtime: [0x38, 'u64n'],
});
export const FD_LOCK_MAGIC = 0x10c00001;

/** FD metadata, at 0x200 (VMFS3/5) or mdAlignment (VMFS6). */
export const FD_META = defineStruct('FD metadata', 0x94, {
  descAddr: [0x00, 'u32'],
  generation: [0x04, 'u32'],
  linkCount: [0x08, 'u32'],
  type: [0x0c, 'u32'],
  flags: [0x10, 'u32'],
  fileLength: [0x14, 'u64n'],
  blockSize: [0x1c, 'u64n'],
  numBlocks: [0x24, 'u64n'],
  mtime: [0x2c, 'u32'],
  ctime: [0x30, 'u32'],
  atime: [0x34, 'u32'],
  uid: [0x38, 'u32'],
  gid: [0x3c, 'u32'],
  mode: [0x40, 'u32'],
  zla: [0x44, 'u32'],
  tbzLo: [0x48, 'u32'],
  cowLo: [0x4c, 'u32'],
  tbzHi: [0x54, 'u32'],
  numPointerBlocks: [0x5c, 'u32'],
  signature: [0x64, 'u32'],
  parentFd: [0x70, 'u32'],
  blockOffsetShift: [0x89, 'u8'],
  numLfb: [0x8c, 'u32'],
});

export const FD_TYPE = { volume: 1, directory: 2, file: 3, symlink: 4, system: 5, rdm: 6 } as const;
/** Mode bits: S_IFDIR tells directory-like system files (.sdd.sf) apart. */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export function fileTypeOf(code: number, mode: number): FileType {
  switch (code) {
    case 1:
      return 'volume';
    case 2:
      return 'directory';
    case 3:
      return 'file';
    case 4:
      return 'symlink';
    case 5:
      return (mode & S_IFMT) === S_IFDIR ? 'directory' : 'system';
    case 6:
      return 'rdm';
    default:
      return 'unknown';
  }
}

export interface FileDescriptor {
  address: number;
  volOffset: number;
  raw: Uint8Array;
  generation: number;
  linkCount: number;
  typeCode: number;
  type: FileType;
  length: number;
  blockSize: number;
  numBlocks: number;
  mtime: number;
  ctime: number;
  atime: number;
  uid: number;
  gid: number;
  mode: number;
  zla: number;
  tbzBlocks: number;
  /** log2 of the slot granule. */
  shift: number;
  /** Slot array as u32 halves: slotsLo[i], slotsHi[i] (hi = 0 on VMFS3/5). */
  slotsLo: Uint32Array;
  slotsHi: Uint32Array;
}

const MAX_FILE = 2 ** 50; // 1 PiB: VMFS6's 62 TiB max file is far below; anything larger is corrupt.

/**
 * Parses and validates an FD read at `volOffset` for `address`. The lock's self offset and the
 * metadata's descAddr must match, which rejects stale or misdirected FD reads.
 */
export function parseFd(raw: Uint8Array, address: number, volOffset: number, L: Layout, majorVersion: number, where: string): FileDescriptor {
  if (raw.length < L.fdSize) throw new CorruptError(`${where}: FD ${hex(address, 8)} truncated`);
  // Only the fields used are read, at the structs' declared offsets, straight from the bytes: a
  // directory listing parses thousands of FDs, and full parses (bigints, the owner UUID) dominated it.
  const mb = L.fdMetaOffset;
  if (mb + FD_META.size > raw.length) FD_META.parse(raw, mb); // the struct's own out-of-range error
  const m = (at: number) => u32(raw, mb + at);
  const lockType = u32(raw, LOCK_TYPE);
  if (lockType !== FD_LOCK_MAGIC) throw new CorruptError(`${where}: FD ${hex(address, 8)} at volume ${hex(volOffset)} has lock type ${hex(lockType, 8)}, not 0x10c00001`);
  if (u32(raw, LOCK_VOL) !== volOffset % 2 ** 32 || u32(raw, LOCK_VOL + 4) !== Math.floor(volOffset / 2 ** 32)) {
    throw new CorruptError(`${where}: FD ${hex(address, 8)} at volume ${hex(volOffset)} says it lives at ${hex(u64n(raw, LOCK_VOL))}`);
  }
  const descAddr = m(M.descAddr);
  if (descAddr !== address) throw new CorruptError(`${where}: FD at volume ${hex(volOffset)} holds address ${hex(descAddr, 8)}, expected ${hex(address, 8)}`);
  const lenAt = mb + FD_META.fields.fileLength[0];
  const lenHi = u32(raw, lenAt + 4);
  const length = lenHi * 2 ** 32 + u32(raw, lenAt);
  if (lenHi >= 2 ** 21 || length > MAX_FILE) throw new CorruptError(`${where}: FD ${hex(address, 8)} length ${u64n(raw, lenAt)} is implausible`);
  const typeCode = m(M.type);
  const mode = m(M.mode);
  const type = fileTypeOf(typeCode, mode);
  const zla = m(M.zla);
  const bsAt = mb + FD_META.fields.blockSize[0];
  const bsHi = u32(raw, bsAt + 4);
  let blockSize = bsHi > 1 || (bsHi === 1 && u32(raw, bsAt) > 0) ? 0 : bsHi * 2 ** 32 + u32(raw, bsAt);
  let shift: number;
  if (zla === ZLA_RESIDENT) {
    if (length > L.fdDataSize) throw new CorruptError(`${where}: resident FD ${hex(address, 8)} length ${length} > ${L.fdDataSize}`);
    shift = 0;
    if (blockSize === 0) blockSize = L.fdDataSize;
  } else {
    if (blockSize === 0 || (blockSize & (blockSize - 1)) !== 0 || blockSize < 512) {
      // An empty file may carry no block size; anything that has data must.
      if (length !== 0) throw new CorruptError(`${where}: FD ${hex(address, 8)} block size ${u64n(raw, bsAt)} is not a power of two`);
      blockSize = L.blockSize;
    }
    // blockOffsetShift is honoured on VMFS6 (major > 19); VMFS3/5 use log2(blockSize) (docs/format-notes.md "VMFS structures the reader cites").
    const bos = raw[mb + FD_META.fields.blockOffsetShift[0]]!;
    shift = majorVersion > 19 && bos > 0 && bos < 40 ? bos : Math.log2(blockSize);
  }
  if (length > 0 && !KNOWN_ZLA.has(zla)) {
    throw new CorruptError(`${where}: FD ${hex(address, 8)} has unknown addressing (ZLA ${zla})`);
  }
  const nbAt = mb + FD_META.fields.numBlocks[0];
  const nbHi = u32(raw, nbAt + 4);
  const numBlocks = nbHi >= 2 ** 21 ? Number.MAX_SAFE_INTEGER : nbHi * 2 ** 32 + u32(raw, nbAt);
  // The slot array is decoded on first use: listings and stats never need it.
  let slots: [Uint32Array, Uint32Array] | null = null;
  const decodeSlots = (): [Uint32Array, Uint32Array] => {
    if (slots) return slots;
    const lo = new Uint32Array(L.fdSlots);
    const hi = new Uint32Array(L.fdSlots);
    if (zla !== ZLA_RESIDENT && typeCode !== FD_TYPE.rdm) {
      const w = L.addrWidth;
      for (let i = 0; i < L.fdSlots; i++) {
        lo[i] = u32(raw, L.fdSlotsOffset + i * w);
        if (w === 8) hi[i] = u32(raw, L.fdSlotsOffset + i * 8 + 4);
      }
    }
    return (slots = [lo, hi]);
  };
  return {
    address,
    volOffset,
    raw,
    generation: m(M.generation),
    linkCount: m(M.linkCount),
    typeCode,
    type,
    length,
    blockSize,
    numBlocks,
    mtime: m(M.mtime),
    ctime: m(M.ctime),
    atime: m(M.atime),
    uid: m(M.uid),
    gid: m(M.gid),
    mode,
    zla,
    tbzBlocks: m(M.tbzHi) * 2 ** 32 + m(M.tbzLo),
    shift,
    get slotsLo() {
      return decodeSlots()[0];
    },
    get slotsHi() {
      return decodeSlots()[1];
    },
  };
}

const LOCK_TYPE = FD_LOCK.fields.type[0];
/** FD_META's u32 field offsets, looked up once (a listing parses thousands of FDs). */
const M = Object.fromEntries(Object.entries(FD_META.fields).map(([k, f]) => [k, f[0]])) as Record<keyof typeof FD_META.fields, number>;
const KNOWN_ZLA = new Set([ZLA_FB, ZLA_SB, ZLA_PB, ZLA_PB2, ZLA_DOUBLE, ZLA_RESIDENT]);
const LOCK_VOL = FD_LOCK.fields.volOffset[0];

export function addressingOf(zla: number): 'resident' | 'direct' | 'sub-block' | 'pointer-block' | 'double-indirect' {
  switch (zla) {
    case ZLA_RESIDENT:
      return 'resident';
    case ZLA_SB:
      return 'sub-block';
    case ZLA_PB:
    case ZLA_PB2:
      return 'pointer-block';
    case ZLA_DOUBLE:
      return 'double-indirect';
    default:
      return 'direct';
  }
}
