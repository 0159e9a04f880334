import { crc32 } from './crc32.js';
import { Le, type PositionalWriter } from './writer.js';

/** VMFS partition type GUID, text form (GPT stores it mixed-endian, see guidBytes). */
export const VMFS_GPT_TYPE = 'AA31E02A-400F-11DB-9590-000C2911D1B8';
/** Linux filesystem data, used for a non-VMFS neighbour partition ("several partitions per LUN"). */
export const LINUX_GPT_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

const SECTOR = 512;

/** GUID text → 16 on-disk bytes: the first three groups little-endian, the last two as written. */
export function guidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`bad GUID ${text}`);
  const b = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  const out = new Uint8Array(16);
  out.set([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!], 0);
  out.set(b.subarray(8), 8);
  return out;
}

export interface TablePartition {
  /** First byte (multiple of 512). */
  offset: number;
  length: number;
  typeGuid: string;
  name: string;
}

/**
 * Protective MBR + primary GPT (LBA 1, entries LBA 2-33) + backup entries and header at the end,
 * with correct header and entry-array CRC32s.
 */
export function writeGpt(file: PositionalWriter, parts: TablePartition[], diskGuid: string, opts: { corruptPrimary?: boolean } = {}): void {
  const totalLba = Math.floor(file.size / SECTOR);
  const mbr = new Uint8Array(SECTOR);
  const m = new Le(mbr);
  m.u8(446 + 4, 0xee).u32(446 + 8, 1).u32(446 + 12, Math.min(totalLba - 1, 0xffffffff));
  m.u8(446 + 1, 0).u8(446 + 2, 2).u8(446 + 5, 0xff).u8(446 + 6, 0xff).u8(446 + 7, 0xff);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  file.write(0, mbr);

  const entries = new Uint8Array(128 * 128);
  parts.forEach((p, i) => {
    if (p.offset % SECTOR || p.length % SECTOR) throw new Error('partition not sector aligned');
    const e = new Le(entries.subarray(i * 128, i * 128 + 128));
    e.bytes(0, guidBytes(p.typeGuid));
    e.bytes(16, guidBytes(`6a7b8c9d-0000-4000-8000-${(0x1000 + i).toString(16).padStart(12, '0')}`));
    e.u64(32, p.offset / SECTOR).u64(40, (p.offset + p.length) / SECTOR - 1);
    for (let k = 0; k < p.name.length && k < 36; k++) e.u16(56 + 2 * k, p.name.charCodeAt(k));
  });
  const entriesCrc = crc32(entries);

  const header = (myLba: number, altLba: number, entriesLba: number): Uint8Array => {
    const h = new Uint8Array(SECTOR);
    const w = new Le(h);
    w.ascii(0, 'EFI PART', 8).u32(8, 0x00010000).u32(12, 92).u32(16, 0).u32(20, 0);
    w.u64(24, myLba).u64(32, altLba).u64(40, 34).u64(48, totalLba - 34);
    w.bytes(56, guidBytes(diskGuid));
    w.u64(72, entriesLba).u32(80, 128).u32(84, 128).u32(88, entriesCrc);
    w.u32(16, crc32(h.subarray(0, 92)));
    return h;
  };
  const primary = header(1, totalLba - 1, 2);
  // A damaged primary: a reserved byte flipped after the CRC was computed, so only the CRC check catches it.
  if (opts.corruptPrimary) primary[20] = primary[20]! ^ 0xff;
  file.write(SECTOR, primary);
  file.write(2 * SECTOR, entries);
  file.write((totalLba - 33) * SECTOR, entries);
  file.write((totalLba - 1) * SECTOR, header(totalLba - 1, 1, totalLba - 33));
}

/** Classic MBR with primary entries; VMFS is type 0xFB (what vmfs-tools scans for). */
export function writeMbr(file: PositionalWriter, parts: { offset: number; length: number; type: number }[]): void {
  const mbr = new Uint8Array(SECTOR);
  const m = new Le(mbr);
  parts.forEach((p, i) => {
    const o = 446 + 16 * i;
    m.u8(o + 4, p.type).u32(o + 8, p.offset / SECTOR).u32(o + 12, p.length / SECTOR);
    m.u8(o + 1, 0xfe).u8(o + 2, 0xff).u8(o + 3, 0xff).u8(o + 5, 0xfe).u8(o + 6, 0xff).u8(o + 7, 0xff);
  });
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  file.write(0, mbr);
}
