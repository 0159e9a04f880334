import { afterAll, describe, expect, it } from 'vitest';
import { buildCowdDelta } from '../builders/cowd.js';
import { buildFlatBaseQemu, randomRuns, sectorPattern, type GrainRun } from '../builders/delta-common.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';
import { compareWithQemu } from './delta-oracle.js';

/**
 * COWD (vmfsSparse) chains made by our generator over flat bases made by qemu-img + qemu-io;
 * qemu-img convert is the judge of what the chain reads as.
 */
const ok = oracleAvailable('qemu-img', 'qemu-io');
const MiB = 1024 * 1024;

describe.skipIf(!ok)('COWD chains vs qemu-img', () => {
  const tmp = makeTempDir('cowd-oracle-');
  afterAll(() => tmp.cleanup());
  let k = 0;
  const dir = () => {
    const d = `${tmp.dir}/c${k++}`;
    run('mkdir', ['-p', d]);
    return d;
  };

  const baseWrites = (cap: number) => [
    { offset: 0, length: cap, pattern: 0x11 },
    { offset: 1 * MiB, length: 3 * MiB, pattern: 0x5a },
    { offset: cap - 64 * 1024, length: 64 * 1024, pattern: 0x77 },
  ];

  it('grain 1: data, zeroed grains over parent data, both sides of a GT boundary, last sector', async () => {
    const d = dir();
    const cap = 16 * MiB;
    const base = buildFlatBaseQemu(d, 'base', cap, baseWrites(cap));
    const delta = buildCowdDelta({
      dir: d,
      name: 'base-000001',
      capacity: cap,
      grainSectors: 1,
      writes: [
        { offset: 512, data: patternBytes(3 * 512, 1) },
        { offset: 4094 * 512, data: patternBytes(4 * 512, 2) }, // sectors 4094..4097: GT0 | GT1
        { offset: 5 * MiB + 512 * 7, data: patternBytes(64 * 1024, 3) },
        { offset: cap - 512, data: patternBytes(512, 4) },
      ],
      zeroed: [
        { offset: 2 * MiB - 1024, length: 2048 }, // over the 0x5a parent data, across a GT boundary
        { offset: 9 * MiB, length: 512 },
      ],
      parentFileNameHint: 'base.vmdk',
      parentCid: base.cid,
    });
    expect(run('qemu-img', ['info', delta.descriptorPath])).toMatch(/backing file: base\.vmdk/);
    const r = await compareWithQemu(delta.descriptorPath, d);
    expect(r.formats).toEqual(['vmfsSparse', expect.any(String)]);
    expect(r.ours).toBe(r.qemu);
  });

  it('grain 16 with a capacity that is not a grain multiple', async () => {
    const d = dir();
    const cap = 40 * MiB + 5 * 512; // GT covers 32 MiB; last grain is partial
    const base = buildFlatBaseQemu(d, 'base', cap, [{ offset: 0, length: cap, pattern: 0x21 }]);
    const boundary = 4096; // first grain of GT1
    const last = Math.floor(cap / (16 * 512));
    const delta = buildCowdDelta({
      dir: d,
      name: 'base-000001',
      capacity: cap,
      grainSectors: 16,
      runs: [
        { firstGrain: boundary - 3, count: 6, kind: 'data', fill: sectorPattern(5) },
        { firstGrain: 1, count: 1, kind: 'data', fill: sectorPattern(6) },
        { firstGrain: last, count: 1, kind: 'data', fill: sectorPattern(7) },
        { firstGrain: 100, count: 50, kind: 'data', fill: sectorPattern(8) },
      ],
      parentFileNameHint: 'base.vmdk',
      parentCid: base.cid,
    });
    const r = await compareWithQemu(delta.descriptorPath, d);
    expect(r.ours).toBe(r.qemu);
  });

  it('three levels: COWD (grain 1, zeroed grains) over COWD (grain 16) over flat', async () => {
    const d = dir();
    const cap = 24 * MiB;
    const base = buildFlatBaseQemu(d, 'base', cap, baseWrites(cap));
    const mid = buildCowdDelta({
      dir: d,
      name: 'base-000001',
      capacity: cap,
      grainSectors: 16,
      runs: randomRuns({ capacity: cap, grainBytes: 16 * 512, fraction: 0.3, seed: 11, meanRunBytes: 256 * 1024 }),
      parentFileNameHint: 'base.vmdk',
      parentCid: base.cid,
    });
    const top = buildCowdDelta({
      dir: d,
      name: 'base-000002',
      capacity: cap,
      grainSectors: 1,
      runs: [
        ...randomRuns({ capacity: cap, grainBytes: 512, fraction: 0.2, seed: 12, meanRunBytes: 32 * 1024 }),
        { firstGrain: 4090, count: 12, kind: 'zero' }, // zeroes over mid/base data across a GT boundary
        { firstGrain: cap / 512 - 1, count: 1, kind: 'data', fill: sectorPattern(13) },
      ],
      parentFileNameHint: 'base-000001.vmdk',
      parentCid: mid.cid,
    });
    const r = await compareWithQemu(top.descriptorPath, d);
    expect(r.layers).toBe(3);
    expect(r.formats.slice(0, 2)).toEqual(['vmfsSparse', 'vmfsSparse']);
    expect(r.ours).toBe(r.qemu);
  });

  it('grains written in reverse LBA order (file order ≠ LBA order)', async () => {
    const d = dir();
    const cap = 8 * MiB;
    const base = buildFlatBaseQemu(d, 'base', cap, [{ offset: 0, length: cap, pattern: 0x33 }]);
    const runs: GrainRun[] = [];
    for (let gr = cap / 512 - 1; gr >= 0; gr -= 997) runs.push({ firstGrain: gr, count: 1, kind: 'data', fill: sectorPattern(gr) });
    const delta = buildCowdDelta({ dir: d, name: 'base-000001', capacity: cap, runs, parentFileNameHint: 'base.vmdk', parentCid: base.cid });
    const r = await compareWithQemu(delta.descriptorPath, d);
    expect(r.ours).toBe(r.qemu);
  });
});

function patternBytes(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  sectorPattern(seed)(b, 0);
  return b;
}
