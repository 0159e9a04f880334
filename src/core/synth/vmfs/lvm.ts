import { DATA_OFFSET, LVM_HEADER, SEGMENT, type Geometry } from './geometry.js';
import { Le, type PositionalWriter } from './writer.js';

/** One LVM device (extent) of the volume, as the builder lays it out. */
export interface ExtentLayout {
  file: PositionalWriter;
  /** Partition start in the dump. */
  partOffset: number;
  partLength: number;
  firstSegment: number;
  numSegments: number;
  deviceUuid: Uint8Array;
}

export interface VolumeIdentity {
  lvUuid: Uint8Array;
  lvUuidText: string;
  logicalSize: number;
  numExtents: number;
  totalSegments: number;
  timeUs: bigint;
}

/** At most 8192 PE entries fit one PE map; bigger devices get fewer, longer PEs (bench volumes). */
export function peLength(numSegments: number): number {
  return Math.ceil(numSegments / 8192) * SEGMENT;
}

/**
 * LVM device header (0xC001D00D at partition + 1 MiB), the single volume descriptor and the PE
 * bitmap/table. Volume byte 0 sits at partition + 0x1100000 on every extent, which is where
 * vmfs-tools (which ignores the PE table) expects it, and what the PE entries say too.
 */
export function writeLvm(g: Geometry, ext: ExtentLayout, vol: VolumeIdentity, index: number): void {
  const base = ext.partOffset + LVM_HEADER;
  const peLen = peLength(ext.numSegments);
  const numPEs = Math.ceil((ext.numSegments * SEGMENT) / peLen);

  const hdr = new Uint8Array(g.volTable + 512);
  const h = new Le(hdr);
  h.u32(0x00, 0xc001d00d).u32(0x04, g.lvmMajor).u32(0x08, g.lvmMinor);
  // SCSI identity: type, len, lun, devType, level, vendor[8], model[16], revision[4], id[44]
  h.u8(0x0c, 0).u8(0x0d, 78).u16(0x0e, index).u8(0x10, 0).u8(0x11, 2);
  h.ascii(0x12, 'VMware  ', 8).ascii(0x1a, 'Virtual disk    ', 16).ascii(0x2a, '1.0 ', 4);
  h.ascii(0x2e, `naa.6000c29d2synth${index.toString().padStart(4, '0')}`, 44);
  h.u32(0x5a, 512).u64(0x5e, ext.partLength).u32(0x66, 1).u32(0x6a, numPEs).u32(0x6e, numPEs - 1);
  h.u64(0x72, 1).u64(0x7a, DATA_OFFSET).bytes(0x82, ext.deviceUuid).u64(0x92, vol.timeUs).u64(0x9a, vol.timeUs);
  h.u32(0xbe, 0).u64(0xc2, 0);
  if (g.version === 6) h.u32(0xca, g.mdAlignment).u32(0xce, numPEs);

  const v = g.volTable;
  h.u64(v + 0x00, vol.logicalSize);
  // vmfs-tools checks this is equal on every extent; it equals sum(segments) + extents on real volumes.
  h.u64(v + 0x08, vol.totalSegments + vol.numExtents);
  h.u32(v + 0x10, 1).ascii(v + 0x14, vol.lvUuidText, 64).bytes(v + 0x54, vol.lvUuid).u32(v + 0x64, 1);
  h.u64(v + 0x68, vol.timeUs).u32(v + 0x70, 0).u32(v + 0x74, ext.numSegments);
  h.u64(v + 0x78, ext.firstSegment).u64(v + 0x80, ext.firstSegment + ext.numSegments - 1);
  h.u64(v + 0x88, vol.timeUs).u32(v + 0x90, vol.numExtents);
  ext.file.write(base, hdr);

  // PE bitmap: bit set = PE in use (opposite polarity to the FS resource bitmaps).
  const bm = new Uint8Array(Math.ceil(numPEs / 8));
  for (let i = 0; i < numPEs; i++) bm[i >> 3]! |= 1 << (i & 7);
  ext.file.write(ext.partOffset + g.peBitmap, bm);

  const table = new Uint8Array(numPEs * 128);
  const t = new Le(table);
  const firstPeId = Math.floor((ext.firstSegment * SEGMENT) / peLen);
  for (let i = 0; i < numPEs; i++) {
    const o = i * 128;
    const len = Math.min(peLen, ext.numSegments * SEGMENT - i * peLen);
    t.u8(o, 1).u32(o + 1, firstPeId + i).u32(o + 5, 0);
    t.u64(o + 0x09, DATA_OFFSET + i * peLen).u64(o + 0x11, ext.firstSegment * SEGMENT + i * peLen);
    t.u64(o + 0x19, len).u32(o + 0x21, 1);
  }
  ext.file.write(ext.partOffset + g.peTable, table);
}
