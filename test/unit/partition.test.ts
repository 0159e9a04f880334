import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { GPT_TYPE_VMFS, guidToBytes, guidToString, readGpt } from '../../src/core/partition/gpt.js';
import { parseMbr } from '../../src/core/partition/mbr.js';
import { crc32 } from '../../src/core/util/crc32.js';
import { scanDump } from '../../src/core/vmfs/device-scan.js';

/**
 * Synthetic MBR/GPT disks built here from the UEFI layout; CRCs come from Node's zlib.crc32,
 * not from our crc32, so the builder and the parser do not share code.
 */
const SECTOR = 512;
const MiB = 1 << 20;

function putGuid(b: Uint8Array, at: number, text: string) {
  // Mixed-endian by hand: the first three fields little-endian, the rest as written.
  const h = text.replace(/-/g, '');
  const bytes = Array.from({ length: 16 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  order.forEach((src, i) => (b[at + i] = bytes[src]!));
}

interface Part {
  type: string;
  first: number;
  last: number;
  name?: string;
}

function buildGpt(sizeBytes: number, parts: Part[]): Uint8Array {
  const disk = new Uint8Array(sizeBytes);
  const dv = new DataView(disk.buffer);
  const lastLba = sizeBytes / SECTOR - 1;
  // Protective MBR.
  disk[0x1be + 4] = 0xee;
  dv.setUint32(0x1be + 8, 1, true);
  dv.setUint32(0x1be + 12, Math.min(0xffffffff, lastLba), true);
  disk[0x1fe] = 0x55;
  disk[0x1ff] = 0xaa;
  const entries = new Uint8Array(128 * 128);
  const edv = new DataView(entries.buffer);
  parts.forEach((p, i) => {
    putGuid(entries, i * 128, p.type);
    putGuid(entries, i * 128 + 16, `0000000${i}-1111-2222-3333-444455556666`);
    edv.setBigUint64(i * 128 + 0x20, BigInt(p.first), true);
    edv.setBigUint64(i * 128 + 0x28, BigInt(p.last), true);
    [...(p.name ?? '')].forEach((c, k) => edv.setUint16(i * 128 + 0x38 + 2 * k, c.charCodeAt(0), true));
  });
  const entriesCrc = zlibCrc32(entries);
  const header = (self: number, other: number, entriesLba: number) => {
    const h = new Uint8Array(SECTOR);
    const hv = new DataView(h.buffer);
    h.set(new TextEncoder().encode('EFI PART'), 0);
    hv.setUint32(8, 0x00010000, true);
    hv.setUint32(12, 92, true);
    hv.setBigUint64(0x18, BigInt(self), true);
    hv.setBigUint64(0x20, BigInt(other), true);
    hv.setBigUint64(0x28, 34n, true);
    hv.setBigUint64(0x30, BigInt(lastLba - 33), true);
    putGuid(h, 0x38, 'DEADBEEF-0001-0002-0003-000000000004');
    hv.setBigUint64(0x48, BigInt(entriesLba), true);
    hv.setUint32(0x50, 128, true);
    hv.setUint32(0x54, 128, true);
    hv.setUint32(0x58, entriesCrc, true);
    hv.setUint32(0x10, zlibCrc32(h.subarray(0, 92)), true);
    return h;
  };
  disk.set(header(1, lastLba, 2), SECTOR);
  disk.set(entries, 2 * SECTOR);
  disk.set(entries, (lastLba - 32) * SECTOR);
  disk.set(header(lastLba, 1, lastLba - 32), lastLba * SECTOR);
  return disk;
}

function putLvmMagic(disk: Uint8Array, partOffset: number) {
  new DataView(disk.buffer).setUint32(partOffset + MiB, 0xc001d00d, true);
}

describe('crc32', () => {
  it('matches zlib on known and random data', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const b = new Uint8Array(5000).map((_, i) => (i * 7919) & 0xff);
    expect(crc32(b)).toBe(zlibCrc32(b));
    expect(crc32(b.subarray(100), crc32(b.subarray(0, 100)))).toBe(zlibCrc32(b));
  });
});

describe('GUID encoding', () => {
  it('VMFS type GUID is stored mixed-endian', () => {
    const b = guidToBytes(GPT_TYPE_VMFS);
    expect(Array.from(b)).toEqual([0x2a, 0xe0, 0x31, 0xaa, 0x0f, 0x40, 0xdb, 0x11, 0x95, 0x90, 0x00, 0x0c, 0x29, 0x11, 0xd1, 0xb8]);
    expect(guidToString(b)).toBe(GPT_TYPE_VMFS);
  });
});

describe('MBR', () => {
  it('lists primary entries and rejects a sector without the signature', () => {
    const s = new Uint8Array(512);
    const dv = new DataView(s.buffer);
    s[0x1be + 4] = 0xfb;
    dv.setUint32(0x1be + 8, 128, true);
    dv.setUint32(0x1be + 12, 4096, true);
    s[0x1ce + 4] = 0x83;
    dv.setUint32(0x1ce + 8, 8192, true);
    dv.setUint32(0x1ce + 12, 100, true);
    expect(parseMbr(s)).toBeNull();
    s[0x1fe] = 0x55;
    s[0x1ff] = 0xaa;
    expect(parseMbr(s)).toEqual([
      { index: 1, type: 0xfb, offset: 128 * 512, length: 4096 * 512 },
      { index: 2, type: 0x83, offset: 8192 * 512, length: 100 * 512 },
    ]);
    s[0x1be] = 0x12; // invalid status byte: not an MBR
    expect(parseMbr(s)).toBeNull();
  });

  it('finds an LVM device in a 0xFB partition', async () => {
    const disk = new Uint8Array(4 * MiB);
    const dv = new DataView(disk.buffer);
    disk[0x1be + 4] = 0xfb;
    dv.setUint32(0x1be + 8, 128, true);
    dv.setUint32(0x1be + 12, (3 * MiB) / 512, true);
    disk[0x1fe] = 0x55;
    disk[0x1ff] = 0xaa;
    putLvmMagic(disk, 128 * 512);
    const { candidates } = await scanDump(new MemorySource(disk, 'mbr.img'), 0);
    expect(candidates.map((c) => [c.kind, c.info.scheme, c.info.offset, c.info.type])).toEqual([['lvm', 'mbr', 65536, '0xfb']]);
  });

  it('an MBR-only dump whose last sector holds data has no GPT (not a corrupt one)', async () => {
    const disk = new Uint8Array(4 * MiB);
    const dv = new DataView(disk.buffer);
    disk[0x1be + 4] = 0xfb;
    dv.setUint32(0x1be + 8, 128, true);
    dv.setUint32(0x1be + 12, (4 * MiB) / 512 - 128, true);
    disk[0x1fe] = 0x55;
    disk[0x1ff] = 0xaa;
    putLvmMagic(disk, 128 * 512);
    // File data up to the end: every u64 "field" of the would-be backup header is above 2^53.
    disk.fill(0xff, disk.length - 4096);
    const src = new MemorySource(disk, 'mbr-full.img');
    expect(await readGpt(src)).toBeNull();
    const scan = await scanDump(src, 0);
    expect(scan.candidates.map((c) => [c.kind, c.info.scheme, c.info.offset])).toEqual([['lvm', 'mbr', 65536]]);
    expect(scan.warnings).toEqual([]);
  });
});

describe('GPT', () => {
  const parts: Part[] = [
    { type: GPT_TYPE_VMFS, first: 2048, last: 2048 + 4096 - 1, name: 'lun-a' },
    { type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', first: 8192, last: 8192 + 2047 },
    { type: GPT_TYPE_VMFS, first: 12288, last: 12288 + 4096 - 1 },
  ];
  const size = 10 * MiB;

  it('reads the primary table, several VMFS partitions per LUN', async () => {
    const disk = buildGpt(size, parts);
    putLvmMagic(disk, 2048 * 512);
    putLvmMagic(disk, 12288 * 512);
    const t = await readGpt(new MemorySource(disk, 'gpt.img'));
    expect(t?.from).toBe('primary');
    expect(t?.partitions.map((p) => [p.index, p.typeGuid, p.offset, p.length])).toEqual([
      [1, GPT_TYPE_VMFS, 2048 * 512, 4096 * 512],
      [2, 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', 8192 * 512, 2048 * 512],
      [3, GPT_TYPE_VMFS, 12288 * 512, 4096 * 512],
    ]);
    expect(t?.partitions[0]!.name).toBe('lun-a');
    const { candidates } = await scanDump(new MemorySource(disk, 'gpt.img'), 0);
    expect(candidates.map((c) => [c.info.scheme, c.info.index])).toEqual([
      ['gpt', 1],
      ['gpt', 3],
    ]);
  });

  it('falls back to the backup GPT when the primary header CRC is bad', async () => {
    const disk = buildGpt(size, parts);
    disk[SECTOR + 0x30]! ^= 0xff; // corrupt a header field: header CRC no longer matches
    const t = await readGpt(new MemorySource(disk, 'gpt.img'));
    expect(t?.from).toBe('backup');
    expect(t?.partitions.length).toBe(3);
    expect(t?.warnings.join()).toMatch(/header CRC/);
  });

  it('falls back to the backup GPT when the primary entry array CRC is bad', async () => {
    const disk = buildGpt(size, parts);
    disk[2 * SECTOR + 0x20]! ^= 0x01; // first entry's start LBA
    const t = await readGpt(new MemorySource(disk, 'gpt.img'));
    expect(t?.from).toBe('backup');
    expect(t?.partitions[0]!.offset).toBe(2048 * 512);
    expect(t?.warnings.join()).toMatch(/entry array CRC/);
  });

  it('falls back to the backup when the primary is wiped, and reports nothing when both are bad', async () => {
    const disk = buildGpt(size, parts);
    disk.fill(0, SECTOR, 34 * SECTOR);
    expect((await readGpt(new MemorySource(disk)))?.from).toBe('backup');
    const both = buildGpt(size, parts);
    both[SECTOR + 0x30]! ^= 0xff;
    both[size - SECTOR + 0x30]! ^= 0xff;
    expect(await readGpt(new MemorySource(both))).toBeNull();
    const scan = await scanDump(new MemorySource(both, 'bad.img'), 0);
    expect(scan.candidates).toEqual([]);
    expect(scan.warnings.join()).toMatch(/GPT/);
  });

  it('a signed primary header with an out-of-range 64-bit field is damaged: the backup is used', async () => {
    const disk = buildGpt(size, parts);
    disk.fill(0xff, SECTOR + 0x18, SECTOR + 0x20); // currentLba = 2^64 - 1
    const t = await readGpt(new MemorySource(disk, 'gpt.img'));
    expect(t?.from).toBe('backup');
    expect(t?.partitions.length).toBe(3);
    expect(t?.warnings.join()).toMatch(/currentLba/);
  });

  it('reads a GPT with 4096-byte logical sectors', async () => {
    // Same builder, scaled: a 4 KiB-sector disk has its header at byte 4096.
    const small = buildGpt(size, parts);
    const big = new Uint8Array(size * 8);
    // Re-layout the three header/entry regions at 4 KiB LBAs.
    const lastLba = big.length / 4096 - 1;
    const h = small.slice(SECTOR, 2 * SECTOR);
    const hv = new DataView(h.buffer);
    hv.setBigUint64(0x18, 1n, true);
    hv.setBigUint64(0x20, BigInt(lastLba), true);
    hv.setBigUint64(0x48, 2n, true);
    hv.setUint32(0x10, 0, true);
    hv.setUint32(0x10, zlibCrc32(h.subarray(0, 92)), true);
    big.set(small.subarray(0, SECTOR), 0);
    big.set(h, 4096);
    big.set(small.subarray(2 * SECTOR, 34 * SECTOR), 2 * 4096);
    const t = await readGpt(new MemorySource(big));
    expect(t?.sectorSize).toBe(4096);
    expect(t?.partitions[0]!.offset).toBe(2048 * 4096);
  });
});

describe('bare dumps', () => {
  it('a partition dump has the LVM header at +1 MiB', async () => {
    const disk = new Uint8Array(3 * MiB);
    putLvmMagic(disk, 0);
    const { candidates } = await scanDump(new MemorySource(disk, 'part.img'), 0);
    expect(candidates.map((c) => [c.kind, c.info.scheme])).toEqual([['lvm', 'bare']]);
  });
  it('a logical-volume dump has the FS descriptor at +2 MiB', async () => {
    const disk = new Uint8Array(3 * MiB);
    new DataView(disk.buffer).setUint32(2 * MiB, 0x2fabf15e, true);
    const { candidates } = await scanDump(new MemorySource(disk, 'vol.img'), 0);
    expect(candidates.map((c) => [c.kind, c.info.scheme])).toEqual([['volume', 'bare']]);
  });
});
