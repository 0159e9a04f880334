import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { GPT_TYPE_VMFS, guidToBytes, readGpt } from '../../src/core/partition/gpt.js';
import { parseMbr } from '../../src/core/partition/mbr.js';
import { crc32 } from '../../src/core/util/crc32.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { scanDump } from '../../src/core/vmfs/device-scan.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { fixtureImage } from '../helpers/vmfs3-fixture.js';
import { PatchedSource } from '../helpers/patched-source.js';

/**
 * Mutates the metadata of the real VMFS3 volume (LVM header and PE table, FS descriptor, FDC
 * bitmaps and FDs, root directory, .fbb/.sbc/.pbc cluster headers) through an overlay, then opens,
 * lists, stats and reads everything: each case must end within 1 s in a result or a RescueError.
 */
const VOL = 0x1100000; // device offset of volume offset 0 on this image

const REGIONS: [string, number, number][] = [
  ['LVM header + volume table', 0x100000, 0x400],
  ['PE table', 0x180600, 0x200],
  ['FS descriptor', VOL + 0x200000, 0x200],
  ['FDC cluster headers', VOL + 0x410000, 0x2000],
  ['system FDs', VOL + 0x418000, 0x3000],
  ['file FDs', VOL + 0x478000, 0x5000],
  ['root directory', VOL + 0x500000, 0x900],
  ['.fbb.sf header + clusters', VOL + 0x600000, 0x10000 + 0x2000],
  ['.pbc.sf header', VOL + 0x700000, 0x10400],
  ['.sbc.sf header + clusters', VOL + 0x800000, 0x10000 + 0x2000],
];

describe('VMFS metadata fuzz (real VMFS3 seed)', () => {
  let base: NodeFileSource;
  let seeds: { name: string; at: number; bytes: Uint8Array }[];
  beforeAll(async () => {
    base = await NodeFileSource.open(await fixtureImage());
    seeds = [];
    for (const [name, at, len] of REGIONS) seeds.push({ name, at, bytes: (await base.read(at, len)).slice() });
  });
  afterAll(async () => {
    await base?.close();
  });

  it(`${FUZZ_CASES} mutated volumes end in a result or a RescueError`, async () => {
    let ok = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const r = rng(seed);
      const patches: { at: number; bytes: Uint8Array }[] = [];
      const n = 1 + Math.floor(r() * 2);
      for (let k = 0; k < n; k++) {
        const s = seeds[Math.floor(r() * seeds.length)]!;
        patches.push({ at: s.at, bytes: mutate(s.bytes, r) });
      }
      const res = await fuzzCase('vmfs3 metadata', seed, async () => {
        const ds = await openDatastore([new PatchedSource(base, patches)]);
        await ds.usage();
        const entries = await ds.readdir('/');
        for (const e of entries) {
          if (e.error || e.type === 'directory') continue;
          const f = await ds.openFile(e.fdAddressText).catch(() => null);
          if (!f || f.size === 0) continue;
          await f.read(0, Math.min(f.size, 65536)).catch((err: unknown) => {
            if (!(err instanceof Error) || !('kind' in err)) throw err;
          });
          await f.read(f.size - 1, 1).catch((err: unknown) => {
            if (!(err instanceof Error) || !('kind' in err)) throw err;
          });
        }
        await ds.allocationMap();
      });
      if (res === 'ok') ok++;
    }
    console.log(`vmfs3 fuzz: ${ok} of ${FUZZ_CASES} opened and read`);
    // Most single-region mutations leave a readable volume.
    expect(ok).toBeGreaterThan(0);
  });
});

describe('GPT / MBR fuzz', () => {
  function gptDisk(): Uint8Array {
    const size = 4 << 20;
    const d = new Uint8Array(size);
    const v = new DataView(d.buffer);
    d[0x1be + 4] = 0xee;
    v.setUint32(0x1be + 8, 1, true);
    v.setUint32(0x1be + 12, size / 512 - 1, true);
    d[0x1fe] = 0x55;
    d[0x1ff] = 0xaa;
    const entries = d.subarray(1024, 1024 + 128 * 128);
    entries.set(guidToBytes(GPT_TYPE_VMFS), 0);
    new DataView(entries.buffer, entries.byteOffset).setBigUint64(0x20, 2048n, true);
    new DataView(entries.buffer, entries.byteOffset).setBigUint64(0x28, 8000n, true);
    const h = d.subarray(512, 1024);
    const hv = new DataView(h.buffer, h.byteOffset);
    h.set(new TextEncoder().encode('EFI PART'));
    hv.setUint32(12, 92, true);
    hv.setBigUint64(0x18, 1n, true);
    hv.setBigUint64(0x20, BigInt(size / 512 - 1), true);
    hv.setBigUint64(0x48, 2n, true);
    hv.setUint32(0x50, 128, true);
    hv.setUint32(0x54, 128, true);
    hv.setUint32(0x58, crc32(entries), true);
    hv.setUint32(0x10, crc32(h.subarray(0, 92)), true);
    // Backup copy at the last LBA, entries just before it.
    const last = size / 512 - 1;
    d.set(entries, (last - 32) * 512);
    const bh = d.subarray(last * 512, size);
    bh.set(h);
    const bv = new DataView(bh.buffer, bh.byteOffset);
    bv.setBigUint64(0x18, BigInt(last), true);
    bv.setBigUint64(0x20, 1n, true);
    bv.setBigUint64(0x48, BigInt(last - 32), true);
    bv.setUint32(0x10, 0, true);
    bv.setUint32(0x10, crc32(bh.subarray(0, 92)), true);
    new DataView(d.buffer).setUint32(2048 * 512 + (1 << 20), 0xc001d00d, true);
    return d;
  }

  it(`${FUZZ_CASES} mutated partition tables end in a result or a RescueError`, async () => {
    const disk = gptDisk();
    expect((await readGpt(new MemorySource(disk)))?.partitions.length).toBe(1);
    const last = disk.length - 512;
    const regions: [number, number][] = [
      [0x1be, 0x200],
      [512, 604],
      [1024, 1024 + 256],
      [last, last + 92],
    ];
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const m = mutate(disk, rng(seed), regions);
      await fuzzCase('gpt/mbr', seed, async () => {
        parseMbr(m.subarray(0, 512));
        await readGpt(new MemorySource(m));
        await scanDump(new MemorySource(m, 'fuzz.img'), 0);
      });
    }
  });
});
