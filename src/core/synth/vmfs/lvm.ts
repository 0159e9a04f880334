import { DATA_OFFSET, LVM_HEADER, MiB, SEGMENT, type Geometry } from './geometry.js';
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

const PES_PER_MAP = 8192;
/** PE maps (bitmap + table pairs) per header: 8 fit between the LVM header and the volume data. */
const MAPS_PER_HEADER = 8;
/** Offset of the first PE bitmap from its (device or extended) header, LVM3/4/5 (docs/format-notes.md "VMFS structures the reader cites"). */
const MAP_PAIRS_REL = 0x80200;
const PAIR_SIZE = 1024 + PES_PER_MAP * 128;
/** Room for one extended header and its map pairs, rounded up to whole MiB. */
const EXT_REGION = Math.ceil((MAP_PAIRS_REL + MAPS_PER_HEADER * PAIR_SIZE) / MiB) * MiB;

/**
 * PE length. Default: at most 8192 PE entries (one PE map), so bigger devices get fewer, longer
 * PEs. `extended`: 256 MiB PEs as ESXi makes them; a device needing more than 8 PE maps gets a
 * chain of extended headers (8 maps each) after its volume data.
 */
export function peLength(numSegments: number, extended = false): number {
  return extended ? SEGMENT : Math.ceil(numSegments / PES_PER_MAP) * SEGMENT;
}

/** Bytes a device needs after its volume data for its extended LVM headers (0 when 8 maps suffice). */
export function extendedLvmBytes(numSegments: number, extended: boolean): number {
  if (!extended) return 0;
  const maps = Math.ceil(numSegments / PES_PER_MAP);
  return Math.ceil(Math.max(0, maps - MAPS_PER_HEADER) / MAPS_PER_HEADER) * EXT_REGION;
}

/**
 * LVM device header (0xC001D00D at partition + 1 MiB), the single volume descriptor and the PE
 * bitmap/table. Volume byte 0 sits at partition + 0x1100000 on every extent, which is where
 * vmfs-tools (which ignores the PE table) expects it, and what the PE entries say too.
 */
export function writeLvm(g: Geometry, ext: ExtentLayout, vol: VolumeIdentity, index: number, extended = false): void {
  const base = ext.partOffset + LVM_HEADER;
  const peLen = peLength(ext.numSegments, extended);
  const numPEs = Math.ceil((ext.numSegments * SEGMENT) / peLen);
  const numMaps = Math.ceil(numPEs / PES_PER_MAP);
  if (numMaps > MAPS_PER_HEADER && (!extended || g.version !== 5)) throw new Error('builder: extended LVM headers are built for VMFS5 only');
  // Extended headers go after the volume data (partition-relative offsets, as the chain stores them).
  const extBase = DATA_OFFSET + ext.numSegments * SEGMENT;
  const extCount = Math.ceil(Math.max(0, numMaps - MAPS_PER_HEADER) / MAPS_PER_HEADER);

  const hdr = new Uint8Array(g.volTable + 512);
  const h = new Le(hdr);
  h.u32(0x00, 0xc001d00d).u32(0x04, g.lvmMajor).u32(0x08, g.lvmMinor);
  // SCSI identity: type, len, lun, devType, level, vendor[8], model[16], revision[4], id[44]
  h.u8(0x0c, 0).u8(0x0d, 78).u16(0x0e, index).u8(0x10, 0).u8(0x11, 2);
  h.ascii(0x12, 'VMware  ', 8).ascii(0x1a, 'Virtual disk    ', 16).ascii(0x2a, '1.0 ', 4);
  h.ascii(0x2e, `naa.6000c29d2synth${index.toString().padStart(4, '0')}`, 44);
  h.u32(0x5a, 512).u64(0x5e, ext.partLength).u32(0x66, 1).u32(0x6a, numPEs).u32(0x6e, numPEs - 1);
  h.u64(0x72, 1).u64(0x7a, DATA_OFFSET).bytes(0x82, ext.deviceUuid).u64(0x92, vol.timeUs).u64(0x9a, vol.timeUs);
  h.u32(0xbe, Math.min(numMaps, MAPS_PER_HEADER)).u64(0xc2, extCount > 0 ? extBase : 0);
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

  for (let e = 0; e < extCount; e++) {
    const at = extBase + e * EXT_REGION;
    const x = new Uint8Array(0x18);
    const maps = Math.min(MAPS_PER_HEADER, numMaps - (e + 1) * MAPS_PER_HEADER);
    new Le(x).u32(0x00, 0xc001d00d).u32(0x04, maps).u64(0x08, DATA_OFFSET).u64(0x10, e + 1 < extCount ? at + EXT_REGION : 0);
    ext.file.write(ext.partOffset + at, x);
  }

  // PE maps: each a bitmap (bit set = PE in use, opposite polarity to the FS resource bitmaps) and
  // a table of up to 8192 entries; maps 0-7 after the device header, the rest after extended ones.
  const firstPeId = Math.floor((ext.firstSegment * SEGMENT) / peLen);
  for (let m = 0; m < numMaps; m++) {
    const first = m * PES_PER_MAP;
    const n = Math.min(PES_PER_MAP, numPEs - first);
    const region = m < MAPS_PER_HEADER ? LVM_HEADER : extBase + (Math.floor(m / MAPS_PER_HEADER) - 1) * EXT_REGION;
    // Map 0 at the geometry's offsets (LVM6 differs); further maps (VMFS5 only) by the PE-map rule (docs/format-notes.md "VMFS structures the reader cites").
    const bitmapAt = m === 0 ? ext.partOffset + g.peBitmap : ext.partOffset + region + MAP_PAIRS_REL + (m % MAPS_PER_HEADER) * PAIR_SIZE;
    const tableAt = m === 0 ? ext.partOffset + g.peTable : bitmapAt + 1024;
    const bm = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) bm[i >> 3]! |= 1 << (i & 7);
    ext.file.write(bitmapAt, bm);
    const table = new Uint8Array(n * 128);
    const t = new Le(table);
    for (let k = 0; k < n; k++) {
      const i = first + k;
      const o = k * 128;
      const len = Math.min(peLen, ext.numSegments * SEGMENT - i * peLen);
      t.u8(o, 1).u32(o + 1, firstPeId + i).u32(o + 5, 0);
      t.u64(o + 0x09, DATA_OFFSET + i * peLen).u64(o + 0x11, ext.firstSegment * SEGMENT + i * peLen);
      t.u64(o + 0x19, len).u32(o + 0x21, 1);
    }
    ext.file.write(tableAt, table);
  }
}
