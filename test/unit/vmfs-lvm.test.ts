import { describe, expect, it } from 'vitest';
import { checkRange, MemorySource, SliceSource } from '../../src/core/io/byte-source.js';
import { assembleVolumes, readLvmDevice, VolumeHoleError } from '../../src/core/vmfs/lvm.js';

/**
 * Synthetic LVM devices laid out from the format doc's tables (§2.2–2.4): header at +1 MiB,
 * volume table at +1 MiB + 512, PE table at device 0x180600 (LVM ≤ 5).
 */
const MiB = 1 << 20;
const PE = MiB; // small PEs keep the devices in memory
const DATA = 0x1100000;

function device(opts: { devUuidByte: number; firstPE: number; numDevs: number; lOffsets: number[]; logicalSize: number; fill: number }): Uint8Array {
  const d = new Uint8Array(DATA + opts.lOffsets.length * PE);
  const v = new DataView(d.buffer);
  const h = 0x100000;
  v.setUint32(h, 0xc001d00d, true);
  v.setUint32(h + 4, 5, true);
  v.setUint32(h + 8, 0, true);
  v.setUint32(h + 0x5a, 512, true);
  v.setBigUint64(h + 0x5e, BigInt(d.length), true);
  v.setUint32(h + 0x66, 1, true);
  v.setUint32(h + 0x6a, opts.lOffsets.length, true);
  v.setBigUint64(h + 0x7a, BigInt(DATA), true);
  d[h + 0x82] = opts.devUuidByte;
  const vt = h + 512;
  v.setBigUint64(vt, BigInt(opts.logicalSize), true);
  v.setUint32(vt + 0x10, 1, true);
  for (let i = 0; i < 16; i++) d[vt + 0x54 + i] = 0xa0 + i; // LV UUID
  v.setUint32(vt + 0x64, 1, true); // snapID
  v.setUint32(vt + 0x70, 0, true); // volumeID
  v.setUint32(vt + 0x74, opts.lOffsets.length, true);
  v.setBigUint64(vt + 0x78, BigInt(opts.firstPE), true);
  v.setBigUint64(vt + 0x80, BigInt(opts.firstPE + opts.lOffsets.length - 1), true);
  v.setUint32(vt + 0x90, opts.numDevs, true);
  opts.lOffsets.forEach((l, i) => {
    const e = 0x180600 + i * 128;
    d[e] = 1;
    v.setUint32(e + 1, opts.firstPE + i, true);
    v.setUint32(e + 5, 0, true);
    v.setBigUint64(e + 9, BigInt(DATA + i * PE), true);
    v.setBigUint64(e + 0x11, BigInt(l), true);
    v.setBigUint64(e + 0x19, BigInt(PE), true);
    d.fill(opts.fill + i, DATA + i * PE, DATA + (i + 1) * PE);
  });
  return d;
}

describe('LVM volume assembly', () => {
  const size = 4 * PE;
  // Device A maps PEs at logical 0 and 2 MiB (out of order on purpose), device B maps 1 and 3 MiB.
  const aBytes = () => device({ devUuidByte: 1, firstPE: 0, numDevs: 2, lOffsets: [2 * PE, 0], logicalSize: size, fill: 0x10 });
  const bBytes = () => device({ devUuidByte: 2, firstPE: 2, numDevs: 2, lOffsets: [PE, 3 * PE], logicalSize: size, fill: 0x20 });
  const a = () => new MemorySource(aBytes(), 'lunA');
  const b = () => new MemorySource(bBytes(), 'lunB');

  it('assembles a spanned volume from devices given in any order', async () => {
    for (const order of [[a(), b()], [b(), a()]]) {
      const devs = await Promise.all(order.map((s) => readLvmDevice(s)));
      const vols = assembleVolumes(devs);
      expect(vols.length).toBe(1);
      const v = vols[0]!;
      expect(v.lvUuid).toBe('a3a2a1a0-a7a6a5a4-a9a8-aaabacadaeaf');
      expect(v.holes).toEqual([]);
      expect(v.size).toBe(size);
      const bytes = await v.source.read(0, size);
      expect([0, 1, 2, 3].map((k) => bytes[k * PE])).toEqual([0x11, 0x20, 0x10, 0x21]);
      // A read across three PEs on two devices.
      const x = await v.source.read(PE - 2, PE + 4);
      expect([x[0], x[2], x[PE + 1], x[PE + 3]]).toEqual([0x11, 0x20, 0x20, 0x10]);
    }
  });

  it('opens with a missing extent as holes; reading a hole throws VolumeHoleError', async () => {
    const v = assembleVolumes([await readLvmDevice(a())])[0]!;
    expect(v.holes).toEqual([
      { offset: PE, length: PE },
      { offset: 3 * PE, length: PE },
    ]);
    expect(v.warnings.join()).toMatch(/1 of 2 devices/);
    expect((await v.source.read(0, 16))[0]).toBe(0x11);
    await expect(v.source.read(PE + 5, 10)).rejects.toBeInstanceOf(VolumeHoleError);
    await expect(v.source.read(PE - 5, 10)).rejects.toThrow(/not supplied/);
    const kind = await v.source.read(3 * PE, 1).catch((e: VolumeHoleError) => e.kind);
    expect(kind).toBe('user');
  });

  it('readInto fills a caller buffer across PEs and devices, through slices to the device', async () => {
    // Devices behind a slice (as partitions are), with a readInto that records where it was asked.
    const calls: string[] = [];
    const withInto = (bytes: Uint8Array, tag: string) => {
      const outer = new Uint8Array(bytes.length + 512);
      outer.set(bytes, 512);
      const dev = Object.assign(new MemorySource(outer, tag), {
        async readInto(offset: number, dest: Uint8Array) {
          checkRange(dev, offset, dest.length);
          calls.push(`${tag}@${offset}+${dest.length}`);
          dest.set(outer.subarray(offset, offset + dest.length));
        },
      });
      return new SliceSource(dev, 512, bytes.length, `${tag}#p1`);
    };
    const v = assembleVolumes(await Promise.all([withInto(aBytes(), 'A'), withInto(bBytes(), 'B')].map((s) => readLvmDevice(s))))[0]!;
    calls.length = 0; // the PE tables read while opening
    const src = v.source as typeof v.source & { readInto(o: number, d: Uint8Array): Promise<void> };
    const dest = new Uint8Array(PE + 4).fill(0xee);
    await src.readInto(PE - 2, dest);
    expect([dest[0], dest[2], dest[PE + 1], dest[PE + 3]]).toEqual([0x11, 0x20, 0x20, 0x10]);
    expect(Buffer.from(dest).equals(Buffer.from(await v.source.read(PE - 2, PE + 4)))).toBe(true);
    // Three device reads, straight into `dest`, at device offsets shifted by the slice start.
    expect(calls.slice(0, 3)).toEqual([`A@${512 + DATA + 2 * PE - 2}+2`, `B@${512 + DATA}+${PE}`, `A@${512 + DATA}+2`]);
    const holey = assembleVolumes([await readLvmDevice(a())])[0]!.source as typeof src;
    await expect(holey.readInto(PE - 5, new Uint8Array(10))).rejects.toBeInstanceOf(VolumeHoleError);
    await expect(holey.readInto(4 * PE - 1, new Uint8Array(2))).rejects.toThrow(/past end/);
  });

  it('keeps one copy when the same dump is given twice', async () => {
    const vols = assembleVolumes(await Promise.all([a(), a(), b()].map((s) => readLvmDevice(s))));
    expect(vols[0]!.devices.length).toBe(2);
    expect(vols[0]!.holes).toEqual([]);
  });

  it('rejects a bad magic and implausible counts with CorruptError', async () => {
    const d = device({ devUuidByte: 1, firstPE: 0, numDevs: 1, lOffsets: [0], logicalSize: PE, fill: 1 });
    const bad = d.slice();
    bad[0x100000] = 0;
    await expect(readLvmDevice(new MemorySource(bad))).rejects.toThrow(/no LVM magic/);
    const many = d.slice();
    new DataView(many.buffer).setUint32(0x100000 + 0x6a, 0xffffffff, true);
    await expect(readLvmDevice(new MemorySource(many))).rejects.toThrow(/numPEs/);
  });
});
