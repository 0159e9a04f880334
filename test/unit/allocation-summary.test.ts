import { describe, expect, it } from 'vitest';
import { summarizeAllocation } from '../../src/core/vmfs/allocation-summary.js';
import type { AllocationMap } from '../../src/core/vmfs/index.js';

/**
 * The allocation map in buckets (the app's map and table). Expected counts come from a block-by-block
 * model of the hand-made map below (each block's one state: system > pointer > used > free, the
 * first system run claiming a shared block), not from the bucketing under test.
 */

const map: AllocationMap = {
  blockSize: 1 << 20,
  totalBlocks: 103,
  freeBlocks: 43,
  runs: [
    { start: 0, count: 60, state: 'used' },
    { start: 60, count: 43, state: 'free' },
  ],
  systemRuns: [
    { start: 0, count: 3, file: '.fbb.sf' },
    { start: 10, count: 5, file: '.fdc.sf' },
    { start: 12, count: 6, file: '.pbc.sf' }, // shares 12..14 with .fdc.sf, which keeps them
    { start: 95, count: 2, file: '.sbc.sf' }, // a system block the bitmap calls free stays system
    { start: 101, count: 9, file: '.pb2.sf' }, // runs past the volume: clipped
  ],
  resources: [{ name: '.fdc.sf', total: 1024, free: 1000, itemSize: 2048, isAllocated: async () => null }],
  basis: 'bitmap',
};

type State = 'used' | 'free' | 'pointer' | 'system';

/** Each block's state, one block at a time. */
function model(m: AllocationMap): State[] {
  const s: State[] = [];
  for (const r of m.runs) for (let b = r.start; b < r.start + r.count; b++) s[b] = r.state === 'free' ? 'free' : 'used';
  const claimed = new Set<number>();
  for (const r of m.systemRuns)
    for (let b = r.start; b < Math.min(m.totalBlocks, r.start + r.count); b++) {
      if (claimed.has(b)) continue;
      claimed.add(b);
      s[b] = r.file === '.pbc.sf' || r.file === '.pb2.sf' ? 'pointer' : 'system';
    }
  return s;
}

function bucketed(states: State[], per: number, which: State): number[] {
  const out = new Array<number>(Math.ceil(states.length / per)).fill(0);
  states.forEach((x, b) => x === which && out[Math.floor(b / per)]!++);
  return out;
}

describe('summarizeAllocation', () => {
  const states = model(map);

  it.each([1, 7, 10, 103, 5000])('%i buckets: each block counted once, in its own state', (buckets) => {
    const s = summarizeAllocation(map, buckets);
    const per = Math.ceil(103 / Math.min(buckets, 103));
    expect(s.blocksPerBucket).toBe(per);
    expect(s.buckets).toBe(Math.ceil(103 / per));
    for (const k of ['used', 'free', 'pointer', 'system'] as const) expect([...s[k]], k).toEqual(bucketed(states, per, k));
    expect(s.totals).toEqual({ used: 60 - 3 - 5 - 3, free: 43 - 2 - 2, pointer: 3 + 2, system: 3 + 5 + 2 });
    expect(s.totals.used + s.totals.free + s.totals.pointer + s.totals.system).toBe(103);
    expect(s.overwritten).toBeUndefined();
  });

  it('lists each system file with the blocks it holds alone and where it starts', () => {
    const s = summarizeAllocation(map, 10);
    expect(s.systemFiles).toEqual([
      { file: '.fbb.sf', blocks: 3, firstBlock: 0 },
      { file: '.fdc.sf', blocks: 5, firstBlock: 10 },
      { file: '.pbc.sf', blocks: 3, firstBlock: 12 },
      { file: '.sbc.sf', blocks: 2, firstBlock: 95 },
      { file: '.pb2.sf', blocks: 2, firstBlock: 101 },
    ]);
    expect(s.resources).toEqual([{ name: '.fdc.sf', total: 1024, free: 1000, itemSize: 2048 }]);
    expect([s.blockSize, s.totalBlocks, s.freeBlocks, s.basis]).toEqual([1 << 20, 103, 43, 'bitmap']);
  });

  it('counts a previous volume\'s overwritten blocks apart, clipped to the volume', () => {
    const s = summarizeAllocation(map, 10, [{ start: 5, count: 10 }, { start: 100, count: 50 }]);
    const want = new Array<number>(10).fill(0);
    for (let b = 0; b < 103; b++) if ((b >= 5 && b < 15) || b >= 100) want[Math.floor(b / 11)]!++;
    expect([...s.overwritten!]).toEqual(want);
    expect(s.totals.used + s.totals.free + s.totals.pointer + s.totals.system).toBe(103); // on top, not instead
  });

  it('an empty volume and nonsense bucket counts give one empty bucket, never a division by zero', () => {
    const empty: AllocationMap = { ...map, totalBlocks: 0, freeBlocks: 0, runs: [], systemRuns: [], resources: [] };
    for (const n of [0, -3, Number.NaN, 1e9]) {
      const s = summarizeAllocation(empty, n);
      expect(s.buckets).toBe(1);
      expect([...s.used, ...s.free, ...s.pointer, ...s.system]).toEqual([0, 0, 0, 0]);
    }
    expect(summarizeAllocation(map, 1e9).buckets).toBe(103);
  });
});
