import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { buildCandidates, carveFreeRange, mergeCarved, missingRanges, planFreeRanges, scanForDeltas, type RangeEvidence, type ScanResult } from '../../src/core/recovery/index.js';
import { openDatastore, type Datastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * The free-space pass by block range: on a dump with a deleted delta, another VM's deleted delta
 * and garbage headers in free space, the merged evidence of any split (planned, random, out of
 * order, overlapping, through JSON as IndexedDB would keep it) equals the single pass, and the
 * candidates built from it equal scanForDeltas' in every field the CLI and app show.
 */
function plain(r: ScanResult) {
  return {
    volume: r.volume,
    warnings: r.warnings,
    candidates: r.candidates.map(({ layer: _l, plan: _p, header: _h, ...info }) => info),
  };
}

describe('free-space pass by range', () => {
  const tmp = makeTempDir('recovery-ranges-');
  let d: DeletedDeltaDump;
  let src: NodeFileSource;
  let ds: Datastore;
  beforeAll(async () => {
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 52, reuse: true, noise: true, oracle: false });
    src = await NodeFileSource.open(d.dump);
    ds = await openDatastore([src]);
  }, 60_000);
  afterAll(async () => {
    await src?.close();
    tmp.cleanup();
  });

  it('any split merges to the single pass, and builds the same candidates', async () => {
    const single = await scanForDeltas(ds);
    expect(single.candidates[0]!.id).toBe(d.candidateId);
    const total = single.volume.totalBlocks;
    const whole = await carveFreeRange(ds, { startBlock: 0, endBlock: total });
    // The real delta, the foreign one and the bogus-COWD garbage block are all carved.
    expect(whole.headers.map((h) => h.block)).toContain(d.headerBlock);
    expect(whole.headers.map((h) => h.block)).toContain(d.foreignHeaderBlock);
    expect(whole.freeBlocks).toBe(single.volume.freeBlocks);

    const splits: { name: string; ranges: { startBlock: number; endBlock: number }[] }[] = [];
    for (const n of [1, 2, 3, 7, 64]) splits.push({ name: `planned ${n}`, ranges: (await planFreeRanges(ds, n)).ranges });
    const r = rng(7);
    for (let k = 0; k < 6; k++) {
      const cuts = new Set<number>([0, total]);
      const m = 1 + Math.floor(r() * 12);
      for (let i = 0; i < m; i++) cuts.add(Math.floor(r() * total));
      // Cuts at the header blocks themselves, one block before and after.
      if (k === 0) for (const b of [d.headerBlock, d.headerBlock + 1, d.foreignHeaderBlock! - 1]) cuts.add(b);
      const s = [...cuts].sort((a, b) => a - b);
      const ranges = s.slice(1).map((e, i) => ({ startBlock: s[i]!, endBlock: e }));
      splits.push({ name: `random ${k}`, ranges: ranges.sort(() => r() - 0.5) });
    }
    // Overlapping ranges are tolerated.
    splits.push({ name: 'overlapping', ranges: [{ startBlock: 0, endBlock: Math.ceil(total * 0.6) }, { startBlock: Math.floor(total * 0.4), endBlock: total }] });

    const expected = plain(single);
    for (const sp of splits) {
      const results: RangeEvidence[] = [];
      for (const range of sp.ranges) results.push(JSON.parse(JSON.stringify(await carveFreeRange(ds, range))) as RangeEvidence);
      expect(missingRanges(results, total), sp.name).toEqual([]);
      expect(mergeCarved(results), sp.name).toEqual(whole.headers);
      if (!sp.name.startsWith('overlapping')) expect(results.reduce((n, x) => n + x.freeBlocks, 0), sp.name).toBe(whole.freeBlocks);
      expect(plain(await buildCandidates(ds, mergeCarved(results))), sp.name).toEqual(expected);
    }
  }, 120_000);

  it('planned ranges are deterministic, cover the volume in order, and balance the free blocks', async () => {
    const a = await planFreeRanges(ds, 5);
    const b = await planFreeRanges(ds, 5);
    expect(a).toEqual(b);
    expect(a.ranges.length).toBe(5);
    expect(a.ranges[0]!.startBlock).toBe(0);
    expect(a.ranges[a.ranges.length - 1]!.endBlock).toBe(a.totalBlocks);
    for (let i = 1; i < a.ranges.length; i++) expect(a.ranges[i]!.startBlock).toBe(a.ranges[i - 1]!.endBlock);
    expect(a.freeBytes.reduce((x, y) => x + y, 0)).toBe(a.freeBlocks * a.blockSize);
    const per = Math.ceil(a.freeBlocks / 5) * a.blockSize;
    for (const f of a.freeBytes.slice(0, -1)) expect(f).toBe(per);
    expect(missingRanges([], 10)).toEqual([{ startBlock: 0, endBlock: 10 }]);
  });

  it('tapered ranges are deterministic, cover the volume in order, and shrink towards the end', async () => {
    const a = await planFreeRanges(ds, 6, true);
    expect(await planFreeRanges(ds, 6, true)).toEqual(a);
    expect(a.ranges.length).toBe(6);
    expect(a.ranges[0]!.startBlock).toBe(0);
    expect(a.ranges[a.ranges.length - 1]!.endBlock).toBe(a.totalBlocks);
    for (let i = 1; i < a.ranges.length; i++) expect(a.ranges[i]!.startBlock).toBe(a.ranges[i - 1]!.endBlock);
    expect(a.freeBytes.reduce((x, y) => x + y, 0)).toBe(a.freeBlocks * a.blockSize);
    // Range i holds about (6 - i) / 21 of the free blocks: the first is the largest, the last the smallest.
    expect(a.freeBytes[0]!).toBeGreaterThan(a.freeBytes[5]!);
    for (let i = 1; i < 5; i++) expect(a.freeBytes[i]!).toBeLessThanOrEqual(a.freeBytes[i - 1]!);
    const results: RangeEvidence[] = [];
    for (const range of a.ranges) results.push(await carveFreeRange(ds, range));
    expect(missingRanges(results, a.totalBlocks)).toEqual([]);
    expect(mergeCarved(results)).toEqual((await carveFreeRange(ds, { startBlock: 0, endBlock: a.totalBlocks })).headers);
  });

  it('missing ranges are reported, and a lost header range drops only that evidence', async () => {
    const total = (await planFreeRanges(ds, 1)).totalBlocks;
    const part = await carveFreeRange(ds, { startBlock: 0, endBlock: d.headerBlock });
    expect(missingRanges([part], total)).toEqual([{ startBlock: d.headerBlock, endBlock: total }]);
    await expect(carveFreeRange(ds, { startBlock: 5, endBlock: 2 })).rejects.toThrow(/invalid block range/);
    // Evidence naming a used block or a block that is no header is ignored (stale or tampered saved state).
    const r = await buildCandidates(ds, [{ block: 0, header: part.headers[0]?.header ?? (await carveFreeRange(ds, { startBlock: 0, endBlock: total })).headers[0]!.header }, { block: total + 5, header: (await carveFreeRange(ds, { startBlock: 0, endBlock: total })).headers[0]!.header }]);
    expect(r.candidates.map((c) => c.method)).not.toContain('contiguous');
  }, 60_000);
});
