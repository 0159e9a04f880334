import { CancelledError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import type { FreeRange, RangeEvidence } from '../../core/recovery/free-ranges.js';
import { runLanes, type Lane } from './lanes.js';

/**
 * The split scan's scheduler, apart from Svelte, workers and IndexedDB: the free-space ranges of a
 * plan (or of a saved scan that a reload interrupted), handed to lanes (workers) one at a time,
 * each result saved in a resume store before it counts as done, and a cancel that stops every lane.
 */

/** A scan saved so that it survives a reload: its ranges and the results of those done. */
export interface SavedScan {
  v: 1;
  ranges: FreeRange[];
  /** Free bytes of each range (same order): the progress accounting. */
  freeBytes: number[];
  /** Range index -> its evidence. */
  done: Record<number, RangeEvidence>;
}

/** A value read back from storage is a SavedScan this code can continue. */
export function isSavedScan(x: unknown): x is SavedScan {
  const s = x as Partial<SavedScan> | null | undefined;
  return !!s && s.v === 1 && Array.isArray(s.ranges) && Array.isArray(s.freeBytes) && s.ranges.length === s.freeBytes.length && !!s.done && typeof s.done === 'object';
}

/** Where a split scan keeps its plan and finished ranges (IndexedDB in the page; a fake in tests). */
export interface ResumeStore {
  /** The saved scan of this image, or undefined (none, or unreadable). */
  load(): Promise<unknown>;
  /** Saves a fresh plan (no range done yet). */
  create(s: SavedScan): Promise<void>;
  /** Adds range `index`'s result to the saved scan (`whole`, with it, where none is saved any more). */
  saveDone(index: number, ev: RangeEvidence, whole: SavedScan): Promise<void>;
  /** Forgets the saved scan (finished or cancelled). */
  clear(): Promise<void>;
}

/** One worker of the split scan. */
export interface ScanLane {
  /** Settles when the lane can take a range; a rejection fails the scan. */
  ready: Promise<unknown>;
  carve(index: number, range: FreeRange, onProgress: (p: Progress) => void): Promise<RangeEvidence>;
  /** Called once when the scan fails or is cancelled (a range may still be running in it). */
  stop?(): void;
  /** Called once when every range is done (the lane's worker may go). */
  done?(): void;
}

/** What the page shows of a split scan: ranges done, lane count, and a resume. */
export interface RangeStatus {
  done: number;
  total: number;
  workers: number;
  /** Ranges already done when this scan resumed (0: a fresh scan). */
  resumedFrom: number;
}

export interface SplitScanOptions {
  store: ResumeStore;
  /** A fresh plan (when nothing is saved): the ranges and their free bytes. */
  plan(): Promise<{ ranges: FreeRange[]; freeBytes: number[] }>;
  /** The lanes for the ranges `todo` of `saved` (no more than there are ranges to do are used). */
  lanes(saved: SavedScan, todo: readonly number[]): Promise<ScanLane[]>;
  /** Ranges done and lanes, first once the plan is known, then after each range is saved. */
  onStatus?(s: RangeStatus): void;
  /** Free bytes carved so far (ranges done plus the progress of those running) of `total`. */
  onProgress?(done: number, total: number): void;
  /** Range `index` started in a lane. */
  onRangeStart?(index: number): void;
  /** Range `index` was saved and counts as done; `saved.done` holds it and every earlier one. */
  onRangeDone?(index: number, saved: SavedScan): void;
  signal?: AbortSignal;
}

/**
 * Runs a split scan to the end: the saved scan of the store continues with the ranges not saved as
 * done, else a fresh plan is saved (before any range's result); each range goes to the first lane
 * free, its result is saved (in order, behind the lanes' next ranges) and only then counts as done. Resolves with the saved
 * scan, every range done. A failure or an abort of `signal` rejects (CancelledError) at once, stops
 * every lane and gives no lane another range; the store is left as it is (the caller clears it).
 */
export async function runSplitScan(o: SplitScanOptions): Promise<SavedScan> {
  const abortError = () => new CancelledError('cancelled');
  if (o.signal?.aborted) throw abortError();
  const loaded = await o.store.load().catch(() => undefined);
  let s: SavedScan;
  // The fresh plan's save: the lanes start without waiting for it (an IndexedDB write, ~50 ms in
  // Chromium), and each range's save comes after it.
  let created: Promise<void> = Promise.resolve();
  if (isSavedScan(loaded)) s = loaded;
  else {
    const p = await o.plan();
    s = { v: 1, ranges: p.ranges, freeBytes: p.freeBytes, done: {} };
    created = o.store.create(s).catch(() => {}); // no storage (private mode): the scan runs, only resume is lost
  }
  if (o.signal?.aborted) throw abortError();
  const resumed = Object.keys(s.done).length;
  const todo = s.ranges.map((_, i) => i).filter((i) => !s.done[i]);
  const total = s.freeBytes.reduce((a, b) => a + b, 0);
  let doneBytes = s.freeBytes.reduce((a, b, i) => a + (s.done[i] ? b : 0), 0);
  const inFlight = new Map<number, number>();
  const report = () => {
    let d = doneBytes;
    for (const v of inFlight.values()) d += v;
    o.onProgress?.(d, total);
  };
  let status: RangeStatus = { done: resumed, total: s.ranges.length, workers: 0, resumedFrom: resumed };
  if (todo.length === 0) {
    await created;
    o.onStatus?.(status);
    report();
    return s;
  }
  const lanes = (await o.lanes(s, todo)).slice(0, todo.length);
  status = { ...status, workers: lanes.length };
  o.onStatus?.(status);
  report();
  // A lane whose worker is stopped never answers: an abort rejects the run through this promise.
  let stop!: (e: Error) => void;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {});
  const onAbort = () => stop(abortError());
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  const run: Lane<RangeEvidence>[] = lanes.map((l) => ({
    ready: l.ready,
    run: (i) => {
      inFlight.set(i, 0);
      o.onRangeStart?.(i);
      return l.carve(i, s.ranges[i]!, (p) => {
        if (!inFlight.has(i)) return; // a late report of a range already counted
        inFlight.set(i, p.done);
        report();
      });
    },
  }));
  let saving: Promise<void> = created;
  const landed = (i: number, ev: RangeEvidence) => {
    s.done[i] = ev;
    // Saved in order behind the lane's next range (a write per range would idle the worker), and
    // counted done once saved: a reload then resumes from at least what was shown.
    saving = saving
      .then(() => o.store.saveDone(i, ev, s))
      .catch(() => {})
      .then(() => {
        inFlight.delete(i);
        doneBytes += s.freeBytes[i]!;
        status = { ...status, done: status.done + 1 };
        o.onStatus?.(status);
        report();
        o.onRangeDone?.(i, s);
      });
  };
  try {
    await runLanes(todo, run, landed, stopped, () => !!o.signal?.aborted);
    await Promise.race([saving, stopped]);
  } catch (e) {
    for (const l of lanes) l.stop?.();
    throw o.signal?.aborted ? abortError() : e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  for (const l of lanes) l.done?.();
  return s;
}
