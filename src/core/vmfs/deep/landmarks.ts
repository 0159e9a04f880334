import { FS_DESCRIPTOR, VMFS_MAGIC, VMFSL_MAGIC, FS_DESCRIPTOR_OFFSET, versionOf } from '../fs-descriptor.js';
import { FD_LOCK_MAGIC, FD_META } from '../fd.js';
import { LVM_DEV_HEADER, LVM_HEADER_OFFSET, LVM_MAGIC, LVM_VOL_DESC } from '../lvm.js';
import { cString, u32 } from '../../util/struct.js';

/**
 * Landmarks of VMFS metadata found by a byte scan of a LUN, each parsed from a buffer at a
 * sector-aligned position. Self-addressed structures (FDs, cluster headers) say where the
 * volume's address 0 lies: origin = dump position − the volume offset they name.
 * Every parser bounds each number it uses and returns null for anything implausible.
 */

/** Cluster-header lock types of the resource files (docs/format-notes.md "VMFS structures the reader cites"). */
export const CLUSTER_MAGIC: Readonly<Record<number, string>> = {
  0x10c00002: '.fbb.sf',
  0x10c00003: '.sbc.sf',
  0x10c00004: '.pbc.sf',
  0x10c00005: '.fdc.sf',
  0x10c00006: '.pb2.sf',
  0x10c00007: '.jbc.sf',
};
export const VMFS6_DIR_MAGIC = 0x00f50001;
const FDMD = 0x66646d64;
/** Largest volume offset a landmark may name: 64 TiB is VMFS's maximum volume. */
export const MAX_VOLUME = 2 ** 46;
/** Bytes a parser may look at past its start (an FD with 8 KiB metadata alignment; a linear dir's two first entries). */
export const LANDMARK_SPAN = 0x1400;

export interface FdLandmark {
  kind: 'fd';
  /** Dump offset of the FD. */
  at: number;
  origin: number;
  volOffset: number;
  /** 2048 (VMFS3/5) or 8192 (VMFS6). */
  fdSize: number;
  address: number;
  generation: number;
  linkCount: number;
  typeCode: number;
  length: number;
  blockSize: number;
  zla: number;
  /** 'fdmd' signature present (VMFS5/6; absent on VMFS3). */
  signed: boolean;
}

export interface ClusterLandmark {
  kind: 'cluster';
  at: number;
  origin: number;
  volOffset: number;
  resource: string;
}

export interface FsDescLandmark {
  kind: 'fs-descriptor';
  at: number;
  origin: number;
  version: 3 | 5 | 6;
  fsMajor: number;
  fsMinor: number;
  uuid: string;
  lvUuid: string;
  label: string;
  blockSize: number;
  subBlockSize: number;
  mdAlignment: number;
  creationTime: number;
  fdcGroupOffset: number;
  fdcClustersPerGroup: number;
}

export interface LvmLandmark {
  kind: 'lvm';
  at: number;
  /** Dump offset of the partition (device) that holds the header. */
  partition: number;
  major: number;
  dataOffset: number;
  deviceSize: number;
  lvUuid: string;
}

export interface DirLandmark {
  kind: 'directory';
  at: number;
  /** 5: linear array starting with '.' and '..'; 6: hashed directory header. */
  layout: 5 | 6;
  /** FD address of the directory itself ('.'), when the block names it. */
  self: number;
}

export type Landmark = FdLandmark | ClusterLandmark | FsDescLandmark | LvmLandmark | DirLandmark;

const isPow2 = (n: number, lo: number, hi: number) => Number.isSafeInteger(n) && n >= lo && n <= hi && (n & (n - 1)) === 0;

/** u64 as a number, or -1 when above 2^53. */
function u64s(b: Uint8Array, off: number): number {
  const hi = u32(b, off + 4);
  return hi > 0x1fffff ? -1 : hi * 2 ** 32 + u32(b, off);
}

/**
 * The landmark starting at b[i] (dump offset `at`), or null. `b` must hold LANDMARK_SPAN bytes
 * past i where the dump has them; shorter tails are checked, never read past.
 */
export function parseLandmark(b: Uint8Array, i: number, at: number): Landmark | null {
  if (i + 4 > b.length) return null;
  const w = u32(b, i);
  if (w === FD_LOCK_MAGIC) return parseFdAt(b, i, at);
  if (w >= 0x10c00002 && w <= 0x10c00007) return parseClusterAt(b, i, at, w);
  if (w === VMFS_MAGIC || w === VMFSL_MAGIC) return parseFsDescAt(b, i, at);
  if (w === LVM_MAGIC) return parseLvmAt(b, i, at);
  if (w === VMFS6_DIR_MAGIC) return parseDir6At(b, i, at);
  if (w === 2) return parseDir5At(b, i, at);
  return null;
}

function selfOffset(b: Uint8Array, i: number, at: number, align: number): number {
  if (i + 12 > b.length) return -1;
  const v = u64s(b, i + 4);
  if (v < 0 || v > at || v > MAX_VOLUME || v % align !== 0) return -1;
  return v;
}

function parseFdAt(b: Uint8Array, i: number, at: number): FdLandmark | null {
  const volOffset = selfOffset(b, i, at, 512);
  if (volOffset < 0) return null;
  // The metadata block sits at 0x200 (VMFS3/5) or at mdAlignment = 0x1000 (VMFS6).
  for (const [meta, fdSize] of [[0x200, 2048], [0x1000, 8192]] as const) {
    const m = i + meta;
    if (m + FD_META.size > b.length) continue;
    const addr = u32(b, m);
    const type = u32(b, m + 0x0c);
    if ((addr & 7) !== 4 || type < 1 || type > 6) continue;
    if (volOffset % 2048 !== 0) continue;
    const length = u64s(b, m + 0x14);
    const blockSize = u64s(b, m + 0x1c);
    if (length < 0 || length > 2 ** 50 || blockSize < 0) continue;
    return {
      kind: 'fd', at, origin: at - volOffset, volOffset, fdSize, address: addr,
      generation: u32(b, m + 0x04), linkCount: u32(b, m + 0x08), typeCode: type, length, blockSize,
      zla: u32(b, m + 0x44), signed: u32(b, m + 0x64) === FDMD,
    };
  }
  return null;
}

function parseClusterAt(b: Uint8Array, i: number, at: number, magic: number): ClusterLandmark | null {
  const volOffset = selfOffset(b, i, at, 512);
  if (volOffset < 0) return null;
  return { kind: 'cluster', at, origin: at - volOffset, volOffset, resource: CLUSTER_MAGIC[magic]! };
}

function parseFsDescAt(b: Uint8Array, i: number, at: number): FsDescLandmark | null {
  if (i + FS_DESCRIPTOR.size > b.length || at < FS_DESCRIPTOR_OFFSET) return null;
  const f = FS_DESCRIPTOR.fields;
  const major = u32(b, i + f.majorVersion[0]);
  const version = versionOf(major);
  if (!version) return null;
  const blockSize = u64s(b, i + f.fileBlockSize[0]);
  const subBlockSize = u32(b, i + f.subBlockSize[0]);
  if (!isPow2(blockSize, 0x10000, 2 ** 28) || !isPow2(subBlockSize, 512, blockSize)) return null;
  const md = version === 6 ? u32(b, i + f.mdAlignment[0]) : 0;
  if (version === 6 && !isPow2(md, 4096, 2 ** 20)) return null;
  let d: ReturnType<typeof FS_DESCRIPTOR.parse>;
  try {
    d = FS_DESCRIPTOR.parse(b, i);
  } catch {
    return null; // a u64 field past 2^53: not a descriptor worth trusting
  }
  return {
    kind: 'fs-descriptor', at, origin: at - FS_DESCRIPTOR_OFFSET, version, fsMajor: major, fsMinor: d.minorVersion,
    uuid: d.uuid, lvUuid: d.lvUuid, label: d.label, blockSize, subBlockSize, mdAlignment: md, creationTime: d.creationTime,
    fdcGroupOffset: Math.min(d.fdcClusterGroupOffset, 2 ** 26), fdcClustersPerGroup: Math.min(d.fdcClustersPerGroup, 4096),
  };
}

function parseLvmAt(b: Uint8Array, i: number, at: number): LvmLandmark | null {
  if (i + LVM_DEV_HEADER.size > b.length || at < LVM_HEADER_OFFSET) return null;
  const f = LVM_DEV_HEADER.fields;
  const major = u32(b, i + f.majorVersion[0]);
  if (major < 3 || major > 6) return null;
  const dataOffset = u64s(b, i + f.dataOffset[0]);
  const deviceSize = u64s(b, i + f.totalBytes[0]);
  if (dataOffset < LVM_HEADER_OFFSET || dataOffset > 2 ** 32 || deviceSize < dataOffset || deviceSize > MAX_VOLUME) return null;
  // The volume table follows at +512 (LVM3-5) or +mdAlignment (LVM6).
  const md = u32(b, i + f.mdAlignment[0]);
  const vt = major >= 6 && isPow2(md, 512, 0x1000) ? md : 512;
  let lvUuid = '';
  if (i + vt + LVM_VOL_DESC.size <= b.length) {
    try {
      lvUuid = LVM_VOL_DESC.parse(b, i + vt).lvUuid;
    } catch {
      lvUuid = ''; // an out-of-range size field: the UUID is not trusted either
    }
  }
  return { kind: 'lvm', at, partition: at - LVM_HEADER_OFFSET, major, dataOffset, deviceSize, lvUuid };
}

/** A VMFS3/5 linear directory begins with the '.' and '..' entries (140 bytes each, docs/format-notes.md "VMFS structures the reader cites"). */
function parseDir5At(b: Uint8Array, i: number, at: number): DirLandmark | null {
  if (i + 0x8c * 2 > b.length) return null;
  const self = u32(b, i + 4);
  const up = u32(b, i + 0x8c + 4);
  if ((self & 7) !== 4 || (up & 7) !== 4 || u32(b, i + 0x8c) !== 2) return null;
  if (cString(b.subarray(i + 0x0c, i + 0x0c + 4)) !== '.' || b[i + 0x0d] !== 0) return null;
  if (cString(b.subarray(i + 0x8c + 0x0c, i + 0x8c + 0x0c + 4)) !== '..' || b[i + 0x8c + 0x0e] !== 0) return null;
  return { kind: 'directory', at, layout: 5, self };
}

/** A VMFS6 hashed directory header: version word, '.' at 0x3B8 (docs/format-notes.md "VMFS structures the reader cites"). */
function parseDir6At(b: Uint8Array, i: number, at: number): DirLandmark | null {
  if (i + 0x3b8 + 0x20 > b.length) return null;
  const self = u32(b, i + 0x3b8 + 4);
  if ((self & 7) !== 4 || b[i + 0x3b8 + 0x18] !== 0x2e || b[i + 0x3b8 + 0x19] !== 0) return null;
  return { kind: 'directory', at, layout: 6, self };
}
