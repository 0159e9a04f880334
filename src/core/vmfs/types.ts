import type { ByteSource } from '../io/byte-source.js';
import type { FileResolver } from '../vmdk/types.js';

/** 3, 5 or 6, from the FS descriptor's majorVersion (4 / 14 / 24). */
export type VmfsVersion = 3 | 5 | 6;

/** A path inside the volume ('/a/b'), an FD address string '<0x...>', or an FD address number. */
export type PathOrFd = string | number;

/** One VMFS candidate found on a supplied dump. */
export interface PartitionInfo {
  /** Index of the source in the array given to openDatastore. */
  source: number;
  sourceName: string;
  scheme: 'gpt' | 'gpt-backup' | 'mbr' | 'bare';
  /** 1-based partition number in its table; 0 for a bare partition dump. */
  index: number;
  /** Byte offset and length of the partition in the dump. */
  offset: number;
  length: number;
  /** MBR type byte as '0xfb' or GPT type GUID text. */
  type: string;
  /** Non-fatal problems (bad primary GPT CRC, entry past the end of the dump...). */
  warnings: string[];
}

/** One LVM device (an extent of the volume) as its header describes it. */
export interface LvmDeviceInfo {
  source: number;
  sourceName: string;
  /** Partition offset in the dump; the LVM header is at offset + 0x100000. */
  partitionOffset: number;
  lvmMajor: number;
  lvmMinor: number;
  deviceUuid: string;
  deviceSize: number;
  dataOffset: number;
  numPEs: number;
  firstPE: number;
  lastPE: number;
  volumeUuid: string;
  snapId: number;
  numDevs: number;
}

/** A range of the logical volume with no supplied device behind it (a missing extent dump). */
export interface VolumeHole {
  offset: number;
  length: number;
}

export interface VolumeInfo {
  version: VmfsVersion;
  fsMajor: number;
  fsMinor: number;
  /** "VMFS-3.31" style text. */
  versionText: string;
  label: string;
  uuid: string;
  /** LVM logical-volume UUID (the identity spanned dumps are grouped by). */
  lvmUuid: string;
  /** Unix seconds. */
  creationTime: number;
  blockSize: number;
  subBlockSize: number;
  /** VMFS6 metadata block size (0 on VMFS3/5). */
  mdAlignment: number;
  configFlags: number;
  /** Logical volume size in bytes. */
  volumeSize: number;
  /** totalBlocks × blockSize, from the .fbb.sf header (cheap; free space needs usage()). */
  capacity: number;
  totalBlocks: number;
  partitions: PartitionInfo[];
  devices: LvmDeviceInfo[];
  holes: VolumeHole[];
  warnings: string[];
}

export interface VolumeUsage {
  blockSize: number;
  totalBlocks: number;
  freeBlocks: number;
  capacity: number;
  free: number;
  /** 'bitmap' (cluster bitmaps: VMFS3/5, VMFS6 in the vmfs6-tools layout) or 'counts' (ESXi VMFS6 'rcmd' cluster free counts; bit layout undecoded). */
  basis: 'bitmap' | 'counts';
}

export type FileType = 'volume' | 'directory' | 'file' | 'symlink' | 'system' | 'rdm' | 'unknown';

/** One directory entry, merged with what its FD says (size, allocation, times). */
export interface DirEntry {
  name: string;
  type: FileType;
  /** FD address (type bits 4). */
  fdAddress: number;
  /** '<0x00800184>' form of fdAddress. */
  fdAddressText: string;
  generation: number;
  /** File length in bytes (from the FD; 0 if the FD could not be read). */
  size: number;
  /** Bytes of storage the file holds (blocks, sub-blocks, resident data), from its FD. */
  allocatedBytes: number;
  /** Unix seconds: FD 0x2C (mtime), 0x30 (ctime: what debugvmfs `ls -l` prints). */
  mtime: number;
  ctime: number;
  mode: number;
  uid: number;
  gid: number;
  /** Set when the FD behind the entry is unreadable or inconsistent; the entry is still listed. */
  error?: string;
}

/** What the SCSI identity in an RDM mapping file says (the mapped LUN is not on this volume). */
export interface RdmInfo {
  lun: number;
  vendor: string;
  model: string;
  revision: string;
  id: string;
}

export interface FileStat {
  fdAddress: number;
  fdAddressText: string;
  /** Volume byte offset of the FD itself. */
  fdVolOffset: number;
  type: FileType;
  /** Raw FD type code (1 volume, 2 dir, 3 file, 4 symlink, 5 system, 6 RDM). */
  typeCode: number;
  size: number;
  /** Granule of the slot array in bytes (FS block, sub-block, or 8 KiB for resident files). */
  blockSize: number;
  numBlocks: number;
  /** Zero-level address type: 1 direct, 2 sub-block, 3/5 pointer blocks, 4304 double, 4305 resident. */
  zla: number;
  addressing: 'resident' | 'direct' | 'sub-block' | 'pointer-block' | 'double-indirect';
  generation: number;
  linkCount: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  ctime: number;
  atime: number;
  tbzBlocks: number;
  allocatedBytes: number;
  /** Symlink target (type symlink). */
  symlinkTarget?: string;
  /** RDM mapping (type rdm): reported, never followed. */
  rdm?: RdmInfo;
}

/** A run of FS blocks [start, start + count) in one state. */
export interface BlockRun {
  start: number;
  count: number;
  state: 'used' | 'free';
}

/** Allocation of one resource file (.fbb .fdc .pbc .sbc .pb2 .jbc). */
export interface ResourceUsage {
  name: string;
  /** Items the resource file holds and how many are free, from its cluster bitmaps. */
  total: number;
  free: number;
  itemSize: number;
  /**
   * Returns whether item `i` (cluster × R + resource) is allocated according to the bitmap;
   * on ESXi VMFS6 'rcmd' clusters (bitmap undecoded) whether the live tree references it; null when unknown.
   */
  isAllocated(i: number): Promise<boolean | null>;
}

export interface AllocationMap {
  blockSize: number;
  totalBlocks: number;
  freeBlocks: number;
  /** Runs over [0, totalBlocks), sorted, adjacent runs of the same state merged. */
  runs: BlockRun[];
  /** Block numbers that hold the system files' data (for colouring the map). */
  systemRuns: { start: number; count: number; file: string }[];
  resources: ResourceUsage[];
  /**
   * 'bitmap' when runs come from .fbb.sf's cluster bitmaps (VMFS3/5; VMFS6 in the vmfs6-tools
   * layout); 'reachability' when they could not be decoded (ESXi VMFS6 'rcmd' layout): blocks the
   * live tree and system files reference are used, the rest free.
   */
  basis: 'bitmap' | 'reachability';
  /** Where the live tree disagrees with the resource files' own counts ('rcmd' clusters). */
  warnings?: string[];
}

export interface Datastore {
  readonly info: VolumeInfo;
  /** The logical volume as one address space (holes of missing extents throw VolumeHoleError). */
  readonly volume: ByteSource;
  /** FD of a path or FD address; UserError when it does not exist. */
  stat(p: PathOrFd): Promise<FileStat>;
  /** FD address of a path (or the address itself); UserError when it does not exist. */
  lookup(p: PathOrFd): Promise<number>;
  /** Entries of a directory, '.' and '..' included, in on-disk order. */
  readdir(p: PathOrFd): Promise<DirEntry[]>;
  /** The content of a regular, system or symlink file as a ByteSource of length size. */
  openFile(p: PathOrFd): Promise<ByteSource>;
  readlink(p: PathOrFd): Promise<string>;
  /** Free space from the .fbb.sf cluster headers (reads every cluster group header: not instant on huge volumes). */
  usage(): Promise<VolumeUsage>;
  /** FS-block allocation and per-resource bitmaps. */
  allocationMap(): Promise<AllocationMap>;
  /** FileResolver over the volume for openChain ('/dir/disk.vmdk' paths). */
  resolver(): FileResolver;
}
