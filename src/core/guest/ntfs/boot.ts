import { CorruptError, UnsupportedError } from '../../errors.js';
import { defineStruct } from '../../util/struct.js';

/** NTFS boot sector (the BPB NTFS uses), first 512 bytes of the volume. */
export const NTFS_BOOT = defineStruct('NTFS boot sector', 0x200, {
  oem: [0x03, 'ascii', 8],
  bytesPerSector: [0x0b, 'u16'],
  sectorsPerCluster: [0x0d, 'u8'],
  totalSectors: [0x28, 'u64'],
  mftLcn: [0x30, 'u64'],
  mftMirrLcn: [0x38, 'u64'],
  clustersPerMftRecord: [0x40, 'u8'],
  clustersPerIndexRecord: [0x44, 'u8'],
  serial: [0x48, 'u64n'],
  signature: [0x1fe, 'u16'],
});

export interface NtfsGeometry {
  sectorSize: number;
  clusterSize: number;
  totalClusters: number;
  mftLcn: number;
  mftRecordSize: number;
  indexRecordSize: number;
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * Record sizes are stored as a signed byte: positive = clusters, negative = log2 of the size in
 * bytes (used when a record is smaller than a cluster, e.g. 0xF6 = 2^10 = 1024).
 */
function recordSize(name: string, what: string, raw: number, clusterSize: number): number {
  const v = raw > 0x7f ? raw - 0x100 : raw;
  let size: number;
  if (v > 0) size = v * clusterSize;
  else if (v < 0 && -v <= 31) size = 2 ** -v;
  else throw new CorruptError(`${name}: NTFS ${what} size byte 0x${raw.toString(16)} is invalid`);
  if (!isPow2(size) || size < 256 || size > 65536) {
    throw new CorruptError(`${name}: NTFS ${what} size ${size} is outside 256..65536`);
  }
  return size;
}

/** Reads and checks the geometry; `volumeSize` bounds the cluster numbers. */
export function parseBoot(b: Uint8Array, name: string, volumeSize: number): NtfsGeometry {
  const h = NTFS_BOOT.parse(b);
  if (h.oem !== 'NTFS    ') throw new CorruptError(`${name}: no NTFS signature (OEM id "${h.oem}")`);
  if (!isPow2(h.bytesPerSector) || h.bytesPerSector < 256 || h.bytesPerSector > 4096) {
    throw new CorruptError(`${name}: NTFS bytes per sector ${h.bytesPerSector} is invalid`);
  }
  // Values above 0x80 encode 2^(256 - v) sectors (clusters larger than 64 KiB).
  const spc = h.sectorsPerCluster > 0x80 ? 2 ** (256 - h.sectorsPerCluster) : h.sectorsPerCluster;
  if (!isPow2(spc)) throw new CorruptError(`${name}: NTFS sectors per cluster byte 0x${h.sectorsPerCluster.toString(16)} is invalid`);
  const clusterSize = spc * h.bytesPerSector;
  if (clusterSize > 2 * 1024 * 1024) throw new UnsupportedError(`${name}: NTFS cluster size ${clusterSize} is above 2 MiB`);
  const totalClusters = Math.floor(Math.min(h.totalSectors * h.bytesPerSector, volumeSize) / clusterSize);
  if (h.mftLcn >= totalClusters) {
    throw new CorruptError(`${name}: NTFS MFT cluster ${h.mftLcn} is past the end of the volume (${totalClusters} clusters)`);
  }
  return {
    sectorSize: h.bytesPerSector,
    clusterSize,
    totalClusters,
    mftLcn: h.mftLcn,
    mftRecordSize: recordSize(name, 'MFT record', h.clustersPerMftRecord, clusterSize),
    indexRecordSize: recordSize(name, 'index record', h.clustersPerIndexRecord, clusterSize),
  };
}
