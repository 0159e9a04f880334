import { afterAll, describe, expect, it } from 'vitest';
import { buildFlatBase, buildFlatBaseQemu, randomRuns, sectorPattern } from '../builders/delta-common.js';
import { buildSeSparseDelta } from '../builders/sesparse.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';
import { compareWithQemu } from './delta-oracle.js';

/**
 * seSparse chains made by our generator over flat bases; qemu-img convert is the judge.
 * qemu reads seSparse (read-only) and follows parentFileNameHint to the base.
 */
const ok = oracleAvailable('qemu-img', 'qemu-io');
const MiB = 1024 * 1024;
const G = 4096;

describe.skipIf(!ok)('seSparse chains vs qemu-img', () => {
  const tmp = makeTempDir('sesparse-oracle-');
  afterAll(() => tmp.cleanup());
  let k = 0;
  const dir = () => {
    const d = `${tmp.dir}/s${k++}`;
    run('mkdir', ['-p', d]);
    return d;
  };

  it('seSparse over a qemu flat base: data, zero and unmapped grains over parent data, GT boundary, index ≥ 4096, last grain', async () => {
    const d = dir();
    const cap = 40 * MiB; // GTs cover 16 MiB
    const base = buildFlatBaseQemu(d, 'base', cap, [
      { offset: 0, length: cap, pattern: 0x11 },
      { offset: 16 * MiB - 64 * 1024, length: 128 * 1024, pattern: 0x5a },
    ]);
    const b = 4096; // first grain of GT1
    const delta = buildSeSparseDelta({
      dir: d,
      name: 'base-000001',
      capacity: cap,
      firstGrainIndex: 4090, // grain indices cross 4096 (the split-bit encoding)
      runs: [
        { firstGrain: b - 4, count: 8, kind: 'data', fill: sectorPattern(1) },
        { firstGrain: 3, count: 2, kind: 'data', fill: sectorPattern(2) },
        { firstGrain: b - 8, count: 2, kind: 'zero' }, // over the 0x5a parent data
        { firstGrain: b + 6, count: 2, kind: 'unmapped' }, // over the 0x5a parent data
        { firstGrain: cap / G - 1, count: 1, kind: 'data', fill: sectorPattern(3) },
        { firstGrain: 2 * 4096 + 100, count: 300, kind: 'data', fill: sectorPattern(4) },
      ],
      parentFileNameHint: 'base.vmdk',
      parentCid: base.cid,
    });
    expect(run('qemu-img', ['info', delta.descriptorPath])).toMatch(/SESPARSE/);
    const r = await compareWithQemu(delta.descriptorPath, d);
    expect(r.formats).toEqual(['seSparse', expect.any(String)]);
    expect(r.ours).toBe(r.qemu);
  });

  it('seSparse over seSparse over our own vmfs flat base (checked by qemu too)', async () => {
    const d = dir();
    const cap = 48 * MiB;
    const base = buildFlatBase(d, 'base', cap, randomRuns({ capacity: cap, grainBytes: 64 * 1024, fraction: 0.6, seed: 21 }));
    // Our flat base alone must read in qemu exactly as its -flat file.
    const raw = `${d}/base-check.raw`;
    run('qemu-img', ['convert', '-O', 'raw', base.descriptorPath, raw]);
    expect(sha256File(raw)).toBe(sha256File(base.flatPath));
    run('rm', ['-f', raw]);
    const mid = buildSeSparseDelta({
      dir: d,
      name: 'base-000001',
      capacity: cap,
      runs: randomRuns({ capacity: cap, grainBytes: G, fraction: 0.3, seed: 22, meanRunBytes: 128 * 1024 }),
      parentFileNameHint: 'base.vmdk',
      parentCid: base.cid,
    });
    const top = buildSeSparseDelta({
      dir: d,
      name: 'base-000002',
      capacity: cap,
      runs: [
        // Written in descending table order, so GD entry i does not point at GT slot i.
        { firstGrain: 2 * 4096 + 7, count: 50, kind: 'data', fill: sectorPattern(23) },
        { firstGrain: 4096 - 2, count: 4, kind: 'data', fill: sectorPattern(24) },
        { firstGrain: 10, count: 500, kind: 'zero' },
        { firstGrain: 1000, count: 500, kind: 'unmapped' },
        ...randomRuns({ capacity: cap, grainBytes: G, fraction: 0.1, seed: 25, meanRunBytes: 16 * 1024 }),
      ],
      parentFileNameHint: 'base-000001.vmdk',
      parentCid: mid.cid,
    });
    const r = await compareWithQemu(top.descriptorPath, d);
    expect(r.layers).toBe(3);
    expect(r.formats.slice(0, 2)).toEqual(['seSparse', 'seSparse']);
    expect(r.ours).toBe(r.qemu);
  });
});
