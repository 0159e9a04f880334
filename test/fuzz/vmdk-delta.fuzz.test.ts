import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { openCowdExtent } from '../../src/core/vmdk/formats/cowd.js';
import { openSeSparseExtent } from '../../src/core/vmdk/formats/sesparse.js';
import type { DiskLayer } from '../../src/core/vmdk/types.js';
import { writeCowd } from '../builders/cowd.js';
import { sectorPattern, type GrainRun } from '../builders/delta-common.js';
import { writeSeSparse } from '../builders/sesparse.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * Mutated COWD and seSparse headers, directories and tables: every case ends within 1 s in a
 * result or a RescueError, reading a few ranges of the layer, and never writes to its source.
 */
const tmp = makeTempDir('delta-fuzz-');
afterAll(() => tmp.cleanup());
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const runs = (tables: number, perTable: number): GrainRun[] => {
  const out: GrainRun[] = [];
  for (let t = tables - 1; t >= 0; t--) out.push({ firstGrain: t * perTable + 3, count: 5, kind: 'data', fill: sectorPattern(t) }, { firstGrain: t * perTable + 20, count: 2, kind: 'zero' });
  return out;
};

/** Exercises a layer the way the chain and export do: a few ranges, data reads, the allocation sum. */
async function exercise(layer: DiskLayer, r: () => number): Promise<void> {
  const cap = layer.capacity;
  const ranges: [number, number][] = [
    [0, Math.min(cap, 4 * MiB)],
    [Math.max(0, cap - 64 * 1024), Math.min(cap, 64 * 1024)],
  ];
  const mid = Math.floor((r() * cap) / 512) * 512;
  ranges.push([mid, Math.min(cap - mid, 1 * MiB)]);
  for (const [o, n] of ranges) {
    const es = await layer.mapRange(o, n);
    let pos = o;
    for (const e of es) {
      expect(e.offset).toBe(pos);
      pos += e.length;
      if (e.kind === 'data') await e.source.read(e.sourceOffset, Math.min(e.length, 64 * 1024));
    }
    expect(pos).toBe(o + n);
  }
  await layer.allocatedBytes();
}

describe('delta readers survive mutated input', () => {
  const cowdPath = path.join(tmp.dir, 'f-delta.vmdk');
  const cowd = writeCowd({ dataPath: cowdPath, capacity: 6 * MiB, grainSectors: 1, runs: runs(3, 4096) });
  const cowdBytes = new Uint8Array(readFileSync(cowdPath));
  const cowdRegions: [number, number][] = [
    [0, 0x800],
    [0x800, 0xa00],
    ...[...cowd.gtSectors.values()].map((s): [number, number] => [s * 512, s * 512 + 16384]),
  ];

  const sePath = path.join(tmp.dir, 'f-sesparse.vmdk');
  const se = writeSeSparse({ dataPath: sePath, capacity: 40 * MiB, runs: runs(3, 4096) });
  const seBytes = new Uint8Array(readFileSync(sePath));
  const seRegions: [number, number][] = [
    [0, 0x400],
    [se.layout.gdOffset * 512, se.layout.gdOffset * 512 + 64],
    ...[...se.gtOffsets.values()].map((o): [number, number] => [o, o + 32768]),
  ];

  it(`COWD: ${FUZZ_CASES} mutated files`, async () => {
    let opened = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const r = rng(seed);
      const bytes = mutate(cowdBytes, r, cowdRegions);
      const before = sha(bytes);
      const res = await fuzzCase('cowd', seed, async () => exercise(await openCowdExtent(new MemorySource(bytes, 'fuzz-delta.vmdk'), 'fuzz-delta.vmdk'), r));
      if (res === 'ok') opened++;
      expect(sha(bytes)).toBe(before);
    }
    expect(opened).toBeGreaterThan(0);
  }, Math.max(120_000, FUZZ_CASES * 200));

  it(`seSparse: ${FUZZ_CASES} mutated files`, async () => {
    let opened = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const r = rng(seed + 100_000);
      const bytes = mutate(seBytes, r, seRegions);
      const before = sha(bytes);
      const res = await fuzzCase('sesparse', seed, async () => exercise(await openSeSparseExtent(new MemorySource(bytes, 'fuzz-sesparse.vmdk'), 'fuzz-sesparse.vmdk'), r));
      if (res === 'ok') opened++;
      expect(sha(bytes)).toBe(before);
    }
    expect(opened).toBeGreaterThan(0);
  }, Math.max(120_000, FUZZ_CASES * 200));

  it('absurd sizes: directories claiming 2^32 / 2^40 entries, maximal capacities', async () => {
    const cases: [string, Uint8Array, (b: Uint8Array) => Promise<DiskLayer>][] = [];
    const c1 = cowdBytes.slice();
    new DataView(c1.buffer).setUint32(0x0c, 0xffffffff, true); // numSectors: 2 TiB
    new DataView(c1.buffer).setUint32(0x18, 0xffffffff, true); // numGDEntries
    cases.push(['cowd huge', c1, (b) => openCowdExtent(new MemorySource(b, 'c'), 'c')]);
    const s1 = seBytes.slice();
    new DataView(s1.buffer).setBigUint64(0x88, 1n << 40n, true); // grainDirSize: 2^40 sectors
    new DataView(s1.buffer).setBigUint64(0x10, (1n << 37n) - 8n, true); // capacity just under 64 TiB
    cases.push(['sesparse huge', s1, (b) => openSeSparseExtent(new MemorySource(b, 's'), 's')]);
    const s2 = seBytes.slice();
    new DataView(s2.buffer).setBigUint64(0x90, (1n << 41n) - 64n, true); // GT area at the far end
    cases.push(['sesparse far tables', s2, (b) => openSeSparseExtent(new MemorySource(b, 's'), 's')]);
    for (const [label, b, open] of cases) {
      const before = sha(b);
      // fuzzCase bounds the case's CPU time (1 s) itself.
      expect(await fuzzCase(label, 0, async () => exercise(await open(b), rng(1)))).toBe('ok');
      expect(sha(b)).toBe(before);
    }
  });
});
