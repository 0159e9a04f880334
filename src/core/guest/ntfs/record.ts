import { CorruptError } from '../../errors.js';
import { defineStruct, u16, u32 } from '../../util/struct.js';
import { applyFixup } from './fixup.js';

export const MFT_RECORD = defineStruct('NTFS MFT record header', 0x30, {
  sequence: [0x10, 'u16'],
  linkCount: [0x12, 'u16'],
  attrsOffset: [0x14, 'u16'],
  flags: [0x16, 'u16'],
  bytesUsed: [0x18, 'u32'],
  bytesAllocated: [0x1c, 'u32'],
  baseRef: [0x20, 'u64n'],
});

export const ATTR_HEADER = defineStruct('NTFS attribute header', 0x10, {
  type: [0x00, 'u32'],
  length: [0x04, 'u32'],
  nonResident: [0x08, 'u8'],
  nameLength: [0x09, 'u8'],
  nameOffset: [0x0a, 'u16'],
  flags: [0x0c, 'u16'],
  instance: [0x0e, 'u16'],
});

export const RESIDENT_ATTR = defineStruct('NTFS resident attribute', 0x18, {
  valueLength: [0x10, 'u32'],
  valueOffset: [0x14, 'u16'],
});

export const NONRESIDENT_ATTR = defineStruct('NTFS non-resident attribute', 0x40, {
  lowestVcn: [0x10, 'u64'],
  highestVcn: [0x18, 'u64n'],
  runsOffset: [0x20, 'u16'],
  compressionUnit: [0x22, 'u8'],
  allocatedSize: [0x28, 'u64'],
  dataSize: [0x30, 'u64'],
  initializedSize: [0x38, 'u64'],
});

export const AT = {
  STANDARD_INFORMATION: 0x10,
  ATTRIBUTE_LIST: 0x20,
  FILE_NAME: 0x30,
  VOLUME_NAME: 0x60,
  DATA: 0x80,
  INDEX_ROOT: 0x90,
  INDEX_ALLOCATION: 0xa0,
  BITMAP: 0xb0,
  REPARSE_POINT: 0xc0,
  END: 0xffffffff,
} as const;

export const RECORD_IN_USE = 0x0001;
export const RECORD_IS_DIRECTORY = 0x0002;
export const ATTR_COMPRESSED = 0x00ff;
export const ATTR_ENCRYPTED = 0x4000;
export const ATTR_SPARSE = 0x8000;

export interface Attribute {
  type: number;
  name: string;
  flags: number;
  /** Resident value (a view into the record), or null for a non-resident attribute. */
  value: Uint8Array | null;
  nonResident: null | {
    lowestVcn: number;
    runs: Uint8Array;
    compressionUnit: number;
    allocatedSize: number;
    dataSize: number;
    initializedSize: number;
  };
}

export interface MftRecord {
  number: number;
  sequence: number;
  flags: number;
  /** Base record number for an extension record, 0 for a base record. */
  baseRecord: number;
  attributes: Attribute[];
}

/** File reference: low 48 bits record number, high 16 bits sequence number. */
export function refRecord(b: Uint8Array, off: number): number {
  return u32(b, off) + u16(b, off + 4) * 0x1_0000_0000;
}

export function utf16(b: Uint8Array, off: number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += String.fromCharCode(u16(b, off + 2 * i));
  return s;
}

/** Parses one MFT record (fixups applied, attributes listed); `what` names it in errors. */
export function parseRecord(raw: Uint8Array, number: number, what: string): MftRecord {
  const b = applyFixup(raw, 'FILE', what);
  const h = MFT_RECORD.parse(b);
  const used = Math.min(h.bytesUsed, b.length);
  if (h.attrsOffset < 0x18 || h.attrsOffset >= used || h.attrsOffset % 8 !== 0) {
    throw new CorruptError(`${what}: attribute offset 0x${h.attrsOffset.toString(16)} is out of range`);
  }
  const attributes: Attribute[] = [];
  let off = h.attrsOffset;
  // Each attribute is at least 0x18 bytes, so the loop is bounded by the record size.
  while (off + 4 <= used) {
    const type = u32(b, off);
    if (type === AT.END) break;
    if (off + 0x10 > used) throw new CorruptError(`${what}: attribute at 0x${off.toString(16)} is truncated`);
    const a = ATTR_HEADER.parse(b, off);
    if (a.length < 0x18 || a.length % 8 !== 0 || off + a.length > used) {
      throw new CorruptError(`${what}: attribute 0x${type.toString(16)} at 0x${off.toString(16)} has bad length ${a.length}`);
    }
    const body = b.subarray(off, off + a.length);
    let name = '';
    if (a.nameLength > 0) {
      if (a.nameOffset + a.nameLength * 2 > a.length) throw new CorruptError(`${what}: attribute 0x${type.toString(16)} name is out of range`);
      name = utf16(body, a.nameOffset, a.nameLength);
    }
    if (a.nonResident === 0) {
      const r = RESIDENT_ATTR.parse(body);
      if (r.valueOffset + r.valueLength > a.length) throw new CorruptError(`${what}: resident attribute 0x${type.toString(16)} value is out of range`);
      attributes.push({ type, name, flags: a.flags, value: body.subarray(r.valueOffset, r.valueOffset + r.valueLength), nonResident: null });
    } else {
      if (a.length < 0x40) throw new CorruptError(`${what}: non-resident attribute 0x${type.toString(16)} is too short`);
      const n = NONRESIDENT_ATTR.parse(body);
      if (n.runsOffset < 0x40 || n.runsOffset > a.length) throw new CorruptError(`${what}: runlist offset 0x${n.runsOffset.toString(16)} is out of range`);
      if (n.dataSize > n.allocatedSize || n.initializedSize > n.allocatedSize) {
        throw new CorruptError(`${what}: attribute 0x${type.toString(16)} sizes are inconsistent (data ${n.dataSize}, initialized ${n.initializedSize}, allocated ${n.allocatedSize})`);
      }
      attributes.push({
        type,
        name,
        flags: a.flags,
        value: null,
        nonResident: {
          lowestVcn: n.lowestVcn,
          runs: body.subarray(n.runsOffset),
          compressionUnit: n.compressionUnit,
          allocatedSize: n.allocatedSize,
          dataSize: n.dataSize,
          initializedSize: n.initializedSize,
        },
      });
    }
    off += a.length;
  }
  return {
    number,
    sequence: h.sequence,
    flags: h.flags,
    baseRecord: refRecord(b, 0x20),
    attributes,
  };
}

/** u64 little-endian NTFS time (100 ns since 1601) as Unix milliseconds, or undefined when unset or absurd. */
export function ntfsTime(b: Uint8Array, off: number): number | undefined {
  const lo = u32(b, off);
  const hi = u32(b, off + 4);
  const ms = (hi * 0x1_0000_0000 + lo) / 10000 - 11644473600000;
  if ((lo === 0 && hi === 0) || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined;
  return Math.round(ms);
}

