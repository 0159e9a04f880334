import { CorruptError, UnsupportedError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { defineStruct, hex } from '../util/struct.js';
import type { VmfsVersion } from './types.js';

export const FS_DESCRIPTOR_OFFSET = 0x200000;
export const VMFS_MAGIC = 0x2fabf15e;
/** VMFS-L (ESXi 7+ OSDATA): same layout. */
export const VMFSL_MAGIC = 0x2fabf15f;
export const CONFIG_DENSE_SBPC = 0x4;

/** FS descriptor ("superblock") at volume offset 0x200000; packed, so u64s sit at odd offsets. */
export const FS_DESCRIPTOR = defineStruct('VMFS FS descriptor', 0x200, {
  magic: [0x00, 'u32'],
  majorVersion: [0x04, 'u32'],
  minorVersion: [0x08, 'u8'],
  uuid: [0x09, 'uuid'],
  config: [0x19, 'u32'],
  label: [0x1d, 'ascii', 128],
  diskBlockSize: [0x9d, 'u32'],
  fileBlockSize: [0xa1, 'u64'],
  creationTime: [0xa9, 'u32'],
  snapId: [0xad, 'u32'],
  lvUuid: [0xb1, 'uuid'],
  lvSnapId: [0xc1, 'u32'],
  fdcClusterGroupOffset: [0xd1, 'u32'],
  fdcClustersPerGroup: [0xd5, 'u32'],
  subBlockSize: [0xd9, 'u32'],
  pb2VolAddr: [0xe1, 'u64'],
  pb2FdAddr: [0xe9, 'u32'],
  sddVolAddr: [0x105, 'u64'],
  sddFdAddr: [0x10d, 'u32'],
  mdAlignment: [0x134, 'u32'],
  sfbToLfbShift: [0x138, 'u16'],
});

export interface FsDescriptor {
  magic: number;
  majorVersion: number;
  minorVersion: number;
  version: VmfsVersion;
  uuid: string;
  config: number;
  label: string;
  fileBlockSize: number;
  creationTime: number;
  lvUuid: string;
  lvSnapId: number;
  fdcClusterGroupOffset: number;
  fdcClustersPerGroup: number;
  subBlockSize: number;
  pb2VolAddr: number;
  pb2FdAddr: number;
  sddVolAddr: number;
  sddFdAddr: number;
  /** VMFS6 metadata block (normally 4096); 0 on VMFS3/5. */
  mdAlignment: number;
  sfbToLfbShift: number;
}

const isPow2 = (n: number) => n > 0 && Number.isSafeInteger(n) && (n & (n - 1)) === 0 && n <= 2 ** 30;

export function versionOf(major: number): VmfsVersion | null {
  if (major >= 24 && major < 34) return 6;
  if (major >= 14 && major < 24) return 5;
  if (major >= 3 && major < 14) return 3;
  return null;
}

/** Reads and validates the FS descriptor; every geometry number is bounded here once. */
export async function readFsDescriptor(vol: ByteSource): Promise<FsDescriptor> {
  if (vol.size < FS_DESCRIPTOR_OFFSET + 0x200) throw new CorruptError(`${vol.name}: volume too small for a VMFS descriptor (${vol.size} bytes)`);
  const d = FS_DESCRIPTOR.parse(await vol.read(FS_DESCRIPTOR_OFFSET, 0x200));
  if (d.magic !== VMFS_MAGIC && d.magic !== VMFSL_MAGIC) throw new CorruptError(`${vol.name}: no VMFS magic at volume 0x200000 (found ${hex(d.magic, 8)})`);
  const version = versionOf(d.majorVersion);
  if (!version) throw new UnsupportedError(`${vol.name}: VMFS major version ${d.majorVersion} is not VMFS3/5/6`);
  if (!isPow2(d.fileBlockSize) || d.fileBlockSize < 0x10000 || d.fileBlockSize > 256 * 1024 * 1024) {
    throw new CorruptError(`${vol.name}: file block size ${d.fileBlockSize} is not a power of two in [64 KiB, 256 MiB]`);
  }
  if (!isPow2(d.subBlockSize) || d.subBlockSize < 512 || d.subBlockSize > d.fileBlockSize) {
    throw new CorruptError(`${vol.name}: sub-block size ${d.subBlockSize} is invalid`);
  }
  if (d.fdcClustersPerGroup === 0 || d.fdcClustersPerGroup > 4096) throw new CorruptError(`${vol.name}: FDC clusters per group ${d.fdcClustersPerGroup}`);
  if (d.fdcClusterGroupOffset > 64 * 1024 * 1024) throw new CorruptError(`${vol.name}: FDC cluster group offset ${hex(d.fdcClusterGroupOffset)}`);
  let md = 0;
  let sfbToLfbShift = 0;
  if (version === 6) {
    md = d.mdAlignment;
    if (!isPow2(md) || md < 4096 || md > 1024 * 1024) throw new CorruptError(`${vol.name}: VMFS6 mdAlignment ${md} is not a power of two in [4 KiB, 1 MiB]`);
    sfbToLfbShift = d.sfbToLfbShift;
    if (sfbToLfbShift > 16) throw new CorruptError(`${vol.name}: sfbToLfbShift ${sfbToLfbShift}`);
  }
  return {
    magic: d.magic,
    majorVersion: d.majorVersion,
    minorVersion: d.minorVersion,
    version,
    uuid: d.uuid,
    config: d.config,
    label: d.label,
    fileBlockSize: d.fileBlockSize,
    creationTime: d.creationTime,
    lvUuid: d.lvUuid,
    lvSnapId: d.lvSnapId,
    fdcClusterGroupOffset: d.fdcClusterGroupOffset,
    fdcClustersPerGroup: d.fdcClustersPerGroup,
    subBlockSize: d.subBlockSize,
    pb2VolAddr: d.pb2VolAddr,
    pb2FdAddr: d.pb2FdAddr,
    sddVolAddr: d.sddVolAddr,
    sddFdAddr: d.sddFdAddr,
    mdAlignment: md,
    sfbToLfbShift,
  };
}

/** Geometry derived from the descriptor: FD container layout, pointer-block size, FDC base. */
export interface Layout {
  v6: boolean;
  blockSize: number;
  subBlockSize: number;
  /** FD size (2048, or 2 × mdAlignment on VMFS6). */
  fdSize: number;
  fdMetaOffset: number;
  /** Resident data offset inside the FD and its capacity. */
  fdDataOffset: number;
  fdDataSize: number;
  /** Slot array offset, count and width (4 or 8 bytes). */
  fdSlotsOffset: number;
  fdSlots: number;
  addrWidth: 4 | 8;
  /** Cluster header size in resource files (1024, or 2 × mdAlignment). */
  clusterHeaderSize: number;
  /** Pointer block bytes and entries. */
  pbSize: number;
  pbEntries: number;
  /** Volume offset of the FDC's first cluster group. */
  fdcBase: number;
  /** SFBs per cluster before .fbb.sf is open (VMFS6). */
  sfbPerCluster: number;
  /** LFB size (VMFS6). */
  lfbSize: number;
}

export function layoutOf(d: FsDescriptor): Layout {
  const fbs = d.fileBlockSize;
  if (d.version !== 6) {
    return {
      v6: false,
      blockSize: fbs,
      subBlockSize: d.subBlockSize,
      fdSize: 2048,
      fdMetaOffset: 0x200,
      fdDataOffset: 0x400,
      fdDataSize: 1024,
      fdSlotsOffset: 0x400,
      fdSlots: 256,
      addrWidth: 4,
      clusterHeaderSize: 1024,
      pbSize: 4096,
      pbEntries: 1024,
      // First FS-block boundary at or above 4 MiB.
      fdcBase: fbs * Math.floor((fbs + 0x3fffff) / fbs),
      sfbPerCluster: 0,
      lfbSize: 0,
    };
  }
  const md = d.mdAlignment;
  const fdSize = 2 * md;
  const slotsBytes = md <= 4096 ? 2560 : md >> 1;
  return {
    v6: true,
    blockSize: fbs,
    subBlockSize: d.subBlockSize,
    fdSize,
    fdMetaOffset: md,
    fdDataOffset: md + 512,
    fdDataSize: md - 512,
    fdSlotsOffset: fdSize - slotsBytes,
    fdSlots: slotsBytes / 8,
    addrWidth: 8,
    clusterHeaderSize: fdSize,
    pbSize: Math.max(0x10000, md),
    pbEntries: md < 0x10000 ? 8192 : md >> 3,
    fdcBase: Math.floor((md * 1024 + 0x3fffff) / 0x100000) * 0x100000,
    sfbPerCluster: Math.min(8192, Math.floor(0x20000000 / fbs)),
    lfbSize: fbs * 2 ** d.sfbToLfbShift,
  };
}
