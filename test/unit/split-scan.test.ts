import { describe, expect, it } from 'vitest';
import { runSplitScan, type ResumeStore, type SavedScan, type ScanLane } from '../../src/app/scan/split-scan.js';
import { missingRanges, planFreeRanges, type FreeRange, type RangeEvidence } from '../../src/core/recovery/free-ranges.js';
import type { Datastore } from '../../src/core/vmfs/index.js';
import { rng } from '../helpers/fuzz.js';

/**
 * The split scan's scheduler with fakes for the workers (lanes) and IndexedDB (the resume store),
 * over a real plan (planFreeRanges of a volume whose allocation is random): the ranges cover the
 * volume once, every range is carved once, a resume carves only what was not saved as done, and a
 * cancel stops every lane. No assertion depends on timing: lanes answer in an order the test drives.
 */

const BS = 1 << 20;

/** A datastore as far as planFreeRanges reads it: `total` blocks, each used with probability 0.4. */
function fakeDatastore(total: number, seed: number): { ds: Datastore; free: Set<number> } {
  const r = rng(seed);
  const runs: { start: number; count: number; state: 'free' | 'used' }[] = [];
  const free = new Set<number>();
  for (let b = 0; b < total; b++) {
    const state = r() < 0.4 ? 'used' : 'free';
    if (state === 'free') free.add(b);
    const last = runs[runs.length - 1];
    if (last && last.state === state) last.count++;
    else runs.push({ start: b, count: 1, state });
  }
  const ds = { allocationMap: async () => ({ blockSize: BS, totalBlocks: total, runs, basis: 'bitmap' }), info: { holes: [], volumeSize: total * BS } } as unknown as Datastore;
  return { ds, free };
}

/** The resume store in memory, kept through JSON as IndexedDB would keep it; `hold(i)` keeps range i's save from completing (a page that goes meanwhile). */
function memoryStore() {
  let value: string | undefined;
  const holding = new Set<number>();
  const store: ResumeStore & { saved(): SavedScan | undefined; hold(i: number): void; unhold(i: number): void } = {
    load: async () => (value === undefined ? undefined : JSON.parse(value)),
    create: async (s) => void (value = JSON.stringify(s)),
    saveDone: async (i, ev, whole) => {
      if (holding.has(i)) await new Promise<void>(() => {});
      const cur = value === undefined ? whole : (JSON.parse(value) as SavedScan);
      value = JSON.stringify({ ...cur, done: { ...cur.done, [i]: ev } });
    },
    clear: async () => void (value = undefined),
    saved: () => (value === undefined ? undefined : JSON.parse(value)),
    hold: (i) => void holding.add(i),
    unhold: (i) => void holding.delete(i),
  };
  return store;
}

/** Evidence of a range as a carve would give it: its free blocks counted. */
function evidenceOf(range: FreeRange, free: Set<number>): RangeEvidence {
  let n = 0;
  for (let b = range.startBlock; b < range.endBlock; b++) if (free.has(b)) n++;
  return { range, freeBlocks: n, freeBytes: n * BS, headers: [] };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A lane that carves after `turns` macrotask turns (different per lane: they interleave), logging each range it took. */
function fakeLane(name: string, free: Set<number>, log: { lane: string; index: number; range: FreeRange }[], turns: number, ready: Promise<unknown> = Promise.resolve()): ScanLane & { stops: number; dones: number } {
  const lane = {
    stops: 0,
    dones: 0,
    ready,
    carve: async (index: number, range: FreeRange, onProgress: (p: { phase: string; done: number; total: number }) => void) => {
      log.push({ lane: name, index, range });
      for (let t = 0; t < turns; t++) {
        onProgress({ phase: 'carve free space', done: 0, total: 1 });
        await tick();
      }
      return evidenceOf(range, free);
    },
    stop: () => void lane.stops++,
    done: () => void lane.dones++,
  };
  return lane;
}

describe('runSplitScan (the split scan scheduler)', () => {
  it('a fresh scan: the planned ranges cover the volume once, each carved once, every result saved', async () => {
    for (const [total, count, seed] of [[1000, 16, 1], [37, 64, 2], [5000, 24, 3]] as const) {
      const { ds, free } = fakeDatastore(total, seed);
      const store = memoryStore();
      const log: { lane: string; index: number; range: FreeRange }[] = [];
      const lanes = [fakeLane('a', free, log, 1), fakeLane('b', free, log, 2), fakeLane('c', free, log, 3)];
      const statuses: number[] = [];
      let last = { done: -1, total: -1 };
      const s = await runSplitScan({ store, plan: () => planFreeRanges(ds, count, true), lanes: async () => lanes, onStatus: (st) => statuses.push(st.done), onProgress: (done, t) => (last = { done, total: t }) });
      // The ranges tile [0, total): sorted, each starts where the previous ended.
      const sorted = s.ranges.slice().sort((x, y) => x.startBlock - y.startBlock);
      expect(sorted[0]!.startBlock).toBe(0);
      expect(sorted[sorted.length - 1]!.endBlock).toBe(total);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.startBlock).toBe(sorted[i - 1]!.endBlock);
      // Each range carved exactly once, and the results cover every block and every free block once.
      expect(log.map((x) => x.index).sort((x, y) => x - y)).toEqual(s.ranges.map((_, i) => i));
      expect(missingRanges(Object.values(s.done), total)).toEqual([]);
      expect(Object.values(s.done).reduce((a, e) => a + e.freeBlocks, 0)).toBe(free.size);
      expect(new Set(log.map((x) => x.lane)).size).toBe(Math.min(3, s.ranges.length));
      expect(Object.keys(store.saved()!.done).length).toBe(s.ranges.length);
      expect(statuses[statuses.length - 1]).toBe(s.ranges.length);
      expect(last).toEqual({ done: free.size * BS, total: free.size * BS });
      for (const l of lanes) expect([l.dones, l.stops]).toEqual([1, 0]);
    }
  });

  it("the lanes start while the fresh plan's save is still being written; every range's save comes after it", async () => {
    const { ds, free } = fakeDatastore(600, 4);
    const store = memoryStore();
    const order: string[] = [];
    let release!: () => void;
    const created = new Promise<void>((r) => (release = r));
    const create = store.create;
    store.create = async (x) => {
      order.push('create asked');
      await created;
      await create(x);
      order.push('create written');
    };
    const saveDone = store.saveDone;
    store.saveDone = async (i, ev, whole) => {
      order.push('range saved');
      await saveDone(i, ev, whole);
    };
    const log: { lane: string; index: number; range: FreeRange }[] = [];
    const run = runSplitScan({ store, plan: () => planFreeRanges(ds, 8, true), lanes: async () => [fakeLane('a', free, log, 1)] });
    while (log.length < 2) await tick();
    expect(order, 'ranges carved before the plan is written').toEqual(['create asked']);
    release();
    const s = await run;
    expect(order.slice(0, 2)).toEqual(['create asked', 'create written']);
    expect(order.filter((x) => x === 'range saved').length).toBe(s.ranges.length);
    expect(Object.keys(store.saved()!.done).length).toBe(s.ranges.length);
  });

  it('a resume skips exactly the ranges saved as done; a range carved but not saved is carved again', async () => {
    const { ds, free } = fakeDatastore(2000, 9);
    const store = memoryStore();
    const log: { lane: string; index: number; range: FreeRange }[] = [];
    const abort = new AbortController();
    // Range 2's save does not complete before the page goes (a reload); saves queue in order, so
    // the ranges landing after it are not saved either.
    store.hold(2);
    const first = runSplitScan({
      store,
      signal: abort.signal,
      plan: () => planFreeRanges(ds, 12, true),
      lanes: async () => [fakeLane('a', free, log, 1), fakeLane('b', free, log, 2)],
      // Ranges are taken in order and two lanes hold the two last taken: when 6 starts, 0..4 have landed.
      onRangeStart: (i) => i === 6 && abort.abort(),
      onStatus: (st) => expect(st.done).toBeLessThanOrEqual(Object.keys(store.saved()?.done ?? {}).length), // never more shown than saved
    });
    await expect(first).rejects.toMatchObject({ name: 'CancelledError' });
    const saved = new Set(Object.keys(store.saved()!.done).map(Number));
    for (const i of [0, 1, 2, 3, 4]) expect(log.some((x) => x.index === i)).toBe(true);
    expect(saved.has(0)).toBe(true);
    expect(saved.has(2)).toBe(false);
    store.unhold(2);

    const log2: { lane: string; index: number; range: FreeRange }[] = [];
    let resumedFrom = -1;
    let todoAsked: number[] = [];
    let planned = 0;
    const s = await runSplitScan({
      store,
      plan: async () => (planned++, planFreeRanges(ds, 12, true)),
      lanes: async (_s, todo) => ((todoAsked = [...todo]), [fakeLane('c', free, log2, 1)]),
      onStatus: (st) => void (resumedFrom === -1 && (resumedFrom = st.resumedFrom)),
    });
    expect(planned).toBe(0); // the saved plan, not a new one
    const notSaved = s.ranges.map((_, i) => i).filter((i) => !saved.has(i));
    expect(todoAsked).toEqual(notSaved);
    expect(log2.map((x) => x.index)).toEqual(notSaved);
    expect(resumedFrom).toBe(saved.size);
    expect(missingRanges(Object.values(s.done), 2000)).toEqual([]);
    expect(Object.values(s.done).reduce((a, e) => a + e.freeBlocks, 0)).toBe(free.size);
  });

  it('cancel stops every lane at once and no lane takes another range', async () => {
    const { ds, free } = fakeDatastore(3000, 4);
    const store = memoryStore();
    const log: { lane: string; index: number; range: FreeRange }[] = [];
    const never = () => new Promise<RangeEvidence>(() => {});
    const lanes = [0, 1, 2].map((k) => {
      const l = fakeLane(`l${k}`, free, log, 1);
      return Object.assign(l, { carve: (index: number, range: FreeRange) => (log.push({ lane: `l${k}`, index, range }), never()) });
    });
    const abort = new AbortController();
    const run = runSplitScan({ store, signal: abort.signal, plan: () => planFreeRanges(ds, 20, true), lanes: async () => lanes });
    while (log.length < 3) await tick();
    abort.abort();
    await expect(run).rejects.toMatchObject({ name: 'CancelledError' });
    for (let t = 0; t < 5; t++) await tick();
    expect(log.map((x) => x.index).sort()).toEqual([0, 1, 2]);
    for (const l of lanes) expect([l.stops, l.dones]).toEqual([1, 0]);
    expect(Object.keys(store.saved()!.done)).toEqual([]); // the store keeps the plan; the caller clears it
  });

  it('a failing range fails the run and stops every lane; a cancel before the start carves nothing', async () => {
    const { ds, free } = fakeDatastore(500, 5);
    const log: { lane: string; index: number; range: FreeRange }[] = [];
    const bad = Object.assign(fakeLane('bad', free, log, 0), { carve: async () => Promise.reject(new Error('disk gone')) });
    const good = fakeLane('good', free, log, 2);
    await expect(runSplitScan({ store: memoryStore(), plan: () => planFreeRanges(ds, 8, true), lanes: async () => [good, bad] })).rejects.toThrow(/disk gone/);
    expect([good.stops, bad.stops, good.dones]).toEqual([1, 1, 0]);
    const abort = new AbortController();
    abort.abort();
    const lanes: ScanLane[] = [];
    await expect(runSplitScan({ store: memoryStore(), signal: abort.signal, plan: () => planFreeRanges(ds, 8, true), lanes: async () => lanes })).rejects.toMatchObject({ name: 'CancelledError' });
  });
});
