/**
 * Public API of the VMFS datastore reader (VMFS3/5/6 over bare, MBR, GPT and spanned LUN dumps).
 * The CLI, the app workers and the recovery stage use only what this file exports.
 *
 *   const ds = await openDatastore([lun0, lun1]);        // ByteSources, any order
 *   ds.info.label; ds.info.version;                       // VolumeInfo
 *   const entries = await ds.readdir('/vm1');             // DirEntry[]
 *   const st = await ds.stat('/vm1/vm1-flat.vmdk');       // FileStat (or stat('<0x00800184>'))
 *   const src = await ds.openFile('/vm1/vm1-flat.vmdk');  // ByteSource of the file content
 *   const chain = await openChain('/vm1/vm1.vmdk', ds.resolver());
 *   const map = await ds.allocationMap();                 // block runs + per-resource bitmaps
 *
 * Paths are absolute, '/'-separated, inside the volume ('/' is the root). Anywhere a path is
 * accepted, an FD address written `<0x00800184>` (or a number) names a file directly.
 * Errors are RescueErrors: UserError (no such file, not a directory), CorruptError (metadata
 * contradicts the format), UnsupportedError (e.g. reading an RDM), OutOfRangeError, and
 * VolumeHoleError (a read lands in an extent whose LUN dump was not supplied).
 */
export type { ByteSource } from '../io/byte-source.js';
export { openDatastore, type OpenDatastoreOptions } from './datastore.js';
export { TruncatedDumpError, VolumeHoleError } from './lvm.js';
export { parsePathOrFd, formatFdAddress } from './fd-address.js';
export { bulkBuffer, canReadInto, readInto, type ReadIntoSource } from '../io/read-into.js';
export type {
  Datastore,
  VolumeInfo,
  VolumeUsage,
  VmfsVersion,
  PartitionInfo,
  LvmDeviceInfo,
  VolumeHole,
  FileType,
  DirEntry,
  FileStat,
  RdmInfo,
  AllocationMap,
  BlockRun,
  ResourceUsage,
  PathOrFd,
} from './types.js';

// ---- internals for the recovery stage (src/core/recovery only) ----
export type { VmfsFs } from './filesystem.js';
export type { FileDescriptor } from './fd.js';
export { parseFd, FD_META } from './fd.js';
export { ADDR_FB, addrText, encodeFd, pbEntry, ZLA_DOUBLE, ZLA_FB, ZLA_PB, ZLA_RESIDENT } from './address.js';
export { dataBlockOf, fdItems, fdParentDir, pointerBlockInUse, pointerBlockItems, readFdItem, residentBytes, subBlockItems, MAX_RESOURCE_ITEMS, type ResourceItems } from './resource-items.js';
export { readLinearDir } from './directory.js';
export { fileVolumeRuns } from './allocation.js';
export { fsOf } from './datastore.js';
export { listFolder, MAX_SNIFF, MAX_PEEK_DIRS, type FolderEntry, type FolderListing } from './folder-listing.js';
export { summarizeAllocation, MAX_BUCKETS as MAX_ALLOCATION_BUCKETS, type AllocationSummary } from './allocation-summary.js';
