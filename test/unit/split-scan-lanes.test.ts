import { describe, expect, it } from 'vitest';
import { runLanes, type Lane } from '../../src/app/scan/lanes.js';

/** A lane whose items take `ms` each and fail at item `fail` (no assertion depends on how long they take). */
function lane(name: string, ready: Promise<unknown>, ms: number, log: string[], fail?: number): Lane<string> {
  return {
    ready,
    run: async (i) => {
      log.push(`${name}:${i}`);
      await new Promise((r) => setTimeout(r, ms));
      if (i === fail) throw new Error(`range ${i} failed`);
      return `${name}:${i}`;
    },
  };
}

const never = new Promise<never>(() => {});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runLanes (the split scan over carve workers)', () => {
  it('runs every item once, in queue order, each result delivered', async () => {
    const log: string[] = [];
    const got = new Map<number, string>();
    await runLanes([3, 1, 4, 0, 2], [lane('a', Promise.resolve(), 2, log), lane('b', Promise.resolve(), 3, log)], (i, r) => got.set(i, r), never, () => false);
    expect([...got.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(log.map((x) => Number(x.split(':')[1]))).toEqual([3, 1, 4, 0, 2]);
    for (const [i, r] of got) expect(r.endsWith(`:${i}`)).toBe(true);
  });

  it('a lane that becomes ready late takes only what is left', async () => {
    const log: string[] = [];
    let open!: () => void;
    const late = new Promise<void>((r) => (open = r));
    let results = 0;
    // The late lane is ready once the first lane has delivered two results.
    await runLanes([0, 1, 2, 3, 4, 5], [lane('early', Promise.resolve(), 5, log), lane('late', late, 5, log)], () => ++results === 2 && open(), never, () => false);
    expect(log).toHaveLength(6);
    expect(log.slice(0, 3)).toEqual(['early:0', 'early:1', 'early:2']);
    expect(log.filter((x) => x.startsWith('late')).length).toBeGreaterThan(0);
  });

  it('is done when every item has its result, even if a lane never became ready', async () => {
    const log: string[] = [];
    await runLanes([0, 1, 2], [lane('never', new Promise(() => {}), 1, log), lane('a', Promise.resolve(), 1, log)], () => {}, never, () => false);
    expect(log).toEqual(['a:0', 'a:1', 'a:2']);
    await runLanes([], [lane('a', Promise.resolve(), 1, log)], () => {}, never, () => false);
  });

  it('a failure rejects the run and no lane takes another item', async () => {
    const log: string[] = [];
    const run = runLanes([0, 1, 2, 3, 4, 5], [lane('a', Promise.resolve(), 10, log), lane('b', Promise.resolve(), 0, log, 1)], () => {}, never, () => false);
    await expect(run).rejects.toThrow(/range 1 failed/);
    await wait(30); // lane a's item 0 ends meanwhile: it takes no other
    expect(log).toEqual(['a:0', 'b:1']);
  });

  it('a lane that cannot start fails the run', async () => {
    await expect(runLanes([0, 1], [lane('a', Promise.reject(new Error('no worker')), 1, [])], () => {}, never, () => false)).rejects.toThrow(/no worker/);
  });

  it('stop rejects at once, even while items run; stopped() stops taking items', async () => {
    const log: string[] = [];
    let cancel!: (e: Error) => void;
    const stop = new Promise<never>((_, r) => (cancel = r));
    const run = runLanes([0, 1, 2], [lane('a', Promise.resolve(), 1000, log)], () => {}, stop, () => false);
    cancel(Object.assign(new Error('cancelled'), { name: 'CancelledError' }));
    await expect(run).rejects.toMatchObject({ name: 'CancelledError' });
    expect(log).toEqual(['a:0']);
    const log2: string[] = [];
    let n = 0;
    await expect(runLanes([0, 1, 2], [lane('a', Promise.resolve(), 1, log2)], () => n++, never, () => n >= 1)).rejects.toMatchObject({ name: 'CancelledError' });
    expect(log2).toEqual(['a:0']);
  });
});
