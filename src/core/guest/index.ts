import { type ByteSource, SliceSource } from '../io/byte-source.js';
import { type DetectedFs, detectFs } from './detect.js';
import { Ext4Fs } from './ext4/ext4-fs.js';
import { type PartitionTable, readPartitions } from './partitions.js';
import type { GuestFs, GuestPartition } from './types.js';

export type { GuestEntry, GuestEntryType, GuestFs, GuestFsType, GuestPartition } from './types.js';
export { detectFs, type DetectedFs } from './detect.js';
export { readPartitions, type PartitionTable } from './partitions.js';
export { Ext4Fs } from './ext4/ext4-fs.js';

export interface InspectedPartition extends GuestPartition {
  fs: DetectedFs;
}

/** Partition table of a disk plus the filesystem type found in each partition. */
export async function inspectDisk(disk: ByteSource): Promise<{ table: PartitionTable; partitions: InspectedPartition[] }> {
  const table = await readPartitions(disk);
  const partitions: InspectedPartition[] = [];
  for (const p of table.partitions) partitions.push({ ...p, fs: await detectFs(partitionSource(disk, p)) });
  return { table, partitions };
}

export function partitionSource(disk: ByteSource, p: Pick<GuestPartition, 'offset' | 'length' | 'index'>): ByteSource {
  return p.offset === 0 && p.length === disk.size ? disk : new SliceSource(disk, p.offset, p.length, `${disk.name} partition ${p.index}`);
}

/** What ./ntfs exports (written separately, same GuestFs contract). */
type NtfsModule = { openNtfs(src: ByteSource): Promise<GuestFs> };

/**
 * A browsable filesystem for a partition, or null when its type has no reader here
 * (XFS, FAT, LVM, swap, unknown). Readers throw RescueErrors on damaged structures.
 */
export async function openGuestFs(disk: ByteSource, partition: Pick<GuestPartition, 'offset' | 'length' | 'index'>): Promise<GuestFs | null> {
  const src = partitionSource(disk, partition);
  const { type } = await detectFs(src);
  if (type === 'ext2' || type === 'ext3' || type === 'ext4') return Ext4Fs.open(src);
  if (type === 'ntfs') {
    // Loaded on demand: the NTFS reader is a separate chunk in the app.
    const mod: NtfsModule = await import('./ntfs/index.js');
    return mod.openNtfs(src);
  }
  return null;
}
