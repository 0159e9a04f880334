/**
 * Per-version constants and block-address encoders of the synthetic VMFS builder.
 * Sources: docs/format-notes.md "VMFS geometry the builder and RAID detection use", cross-checked against what debugvmfs (vmfs-tools 0.2.5, VMFS3/5)
 * and debugvmfs6 (vmfs6-tools 0.2.1) decode; where they differ, the builder stays inside the range
 * on which all of them agree (see the notes on each encoder).
 */

export const MiB = 1 << 20;
export const SEGMENT = 256 * MiB;
/** Partition offset of logical-volume byte 0 (vmfs-tools hard-codes 0x1000000 + 0x100000). */
export const DATA_OFFSET = 0x1100000;
export const LVM_HEADER = 0x100000;

export interface Geometry {
  version: 5 | 6;
  fsMajor: number;
  fsMinor: number;
  lvmMajor: number;
  lvmMinor: number;
  blockSize: number;
  subBlockSize: number;
  /** FD size = one FDC item. */
  fdSize: number;
  /** Cluster header size H in resource files (VMFS6: 2 × mdAlignment). */
  clusterHeader: number;
  mdAlignment: number;
  /** FD metadata block offset inside the FD. */
  fdMeta: number;
  /** Resident data offset inside the FD. */
  fdData: number;
  /** Block-slot array offset inside the FD, slot count and width. */
  fdSlots: number;
  slotCount: number;
  slotWidth: 4 | 8;
  /** Pointer block size and entries (VMFS6: a 64 KiB sub-block of u64). */
  pbSize: number;
  pbEntries: number;
  /** FS block number where .fdc.sf starts (VMFS3/5: 4 MiB; VMFS6: 7 MiB). */
  fdcBaseBlock: number;
  /** Offset of the LVM volume table from the LVM header (512, or mdAlignment on LVM6). */
  volTable: number;
  peBitmap: number;
  peTable: number;
  heartbeatSlot: number;
  /** Resident data limit used by the builder (VMFS5/6 "small files" are ≤ 1 KiB). */
  residentMax: number;
}

export function geometry(version: 5 | 6): Geometry {
  if (version === 5) {
    return {
      version, fsMajor: 14, fsMinor: 81, lvmMajor: 5, lvmMinor: 82,
      blockSize: MiB, subBlockSize: 8192, fdSize: 2048, clusterHeader: 1024, mdAlignment: 0,
      fdMeta: 0x200, fdData: 0x400, fdSlots: 0x400, slotCount: 256, slotWidth: 4,
      pbSize: 4096, pbEntries: 1024, fdcBaseBlock: 4,
      volTable: 0x200, peBitmap: 0x180200, peTable: 0x180600, heartbeatSlot: 0x200, residentMax: 1024,
    };
  }
  return {
    version, fsMajor: 24, fsMinor: 82, lvmMajor: 6, lvmMinor: 82,
    blockSize: MiB, subBlockSize: 65536, fdSize: 8192, clusterHeader: 8192, mdAlignment: 4096,
    fdMeta: 0x1000, fdData: 0x1200, fdSlots: 0x1600, slotCount: 320, slotWidth: 8,
    pbSize: 65536, pbEntries: 8192, fdcBaseBlock: 7,
    volTable: 0x1000, peBitmap: 0x181000, peTable: 0x182000, heartbeatSlot: 0x1000, residentMax: 1024,
  };
}

/** FD address: type 4, cluster bits 6-21, resource bits 22-31 (the same 32-bit form on every version). */
export function fdAddr(cluster: number, resource: number): number {
  if (cluster >= 1 << 16 || resource >= 1 << 10) throw new Error('FD address out of range');
  return ((resource << 22) | (cluster << 6) | 4) >>> 0;
}

/** VMFS5 FB: block << 6, TBZ = bit 5, type 1. */
export function fb5(block: number, tbz: boolean): number {
  if (block >= 1 << 26) throw new Error('FB out of range');
  return ((block << 6) | (tbz ? 0x20 : 0) | 1) >>> 0;
}

/**
 * VMFS5 SB: cluster bits 6-27, resource low bits 28-31. Resources stay < 16, so the DENSE_SBPC
 * high bits (3-4) are never needed: vmfs-tools reads bits 3-4 unconditionally, dissect only with
 * the flag, and both agree when they are zero.
 */
export function sb5(cluster: number, resource: number): number {
  if (resource >= 16 || cluster >= 1 << 22) throw new Error('SB out of range');
  return ((resource << 28) | (cluster << 6) | 2) >>> 0;
}

/** VMFS5 PB: cluster bits 6-27, resource bits 28-31, type 3. */
export function pb5(cluster: number, resource: number): number {
  if (resource >= 16 || cluster >= 1 << 22) throw new Error('PB out of range');
  return ((resource << 28) | (cluster << 6) | 3) >>> 0;
}

/**
 * VMFS6 SFB for FS block b: cluster = b >> 9 at bits 15+, resource = b & 511 at bits 51+, TBZ mask
 * at bits 7-14 (dissect). vmfs6-tools reads the resource from bits 51-59 and the cluster from
 * bits 15-31 (b < 2^26 keeps both decodings equal) and ignores the TBZ mask (it tests bit 5).
 */
export function sfb6(block: number, tbzMask = 0): bigint {
  if (block >= 2 ** 26) throw new Error('SFB out of range');
  return (BigInt(block & 511) << 51n) | (BigInt(block >>> 9) << 15n) | (BigInt(tbzMask & 0xff) << 7n) | 1n;
}

/** VMFS6 LFB n (vol offset n × 512 MiB): n at bits 15+, type 7. vmfs6-tools reads it as item n << 9 MiB. */
export function lfb6(n: number): bigint {
  if (n >= 1 << 17) throw new Error('LFB out of range');
  return (BigInt(n) << 15n) | 7n;
}

/**
 * VMFS6 SB (also used for pointer blocks): cluster bits 6+, resource bits 56-63. vmfs6-tools reads
 * the cluster from bits 6-13 only, so the builder keeps clusters < 256.
 */
export function sb6(cluster: number, resource: number): bigint {
  if (cluster >= 256 || resource >= 256) throw new Error('VMFS6 SB out of range');
  return (BigInt(resource) << 56n) | (BigInt(cluster) << 6n) | 2n;
}

/** UUID bytes as VMFS stores them: u32 timeLo, u32 timeHi, u16 rand, 6-byte MAC. */
export function vmfsUuid(seed: number): { bytes: Uint8Array; text: string } {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x5f000000 + (seed & 0xffffff), true);
  dv.setUint32(4, (0x1234567 * (seed + 1)) >>> 0, true);
  dv.setUint16(8, (seed * 7919) & 0xffff, true);
  b.set([0x00, 0x50, 0x56, 0x9a, (seed >> 8) & 0xff, seed & 0xff], 10);
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const mac = Array.from(b.subarray(10), (x) => hex(x, 2)).join('');
  const text = `${hex(dv.getUint32(0, true), 8)}-${hex(dv.getUint32(4, true), 8)}-${hex(dv.getUint16(8, true), 4)}-${mac}`;
  return { bytes: b, text };
}
