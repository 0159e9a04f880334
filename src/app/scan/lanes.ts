import { cancelledError } from '../workers/bridge.js';

/**
 * The split scan's scheduling, apart from workers and Comlink: ranges taken one at a time from a
 * shared queue by lanes (carve workers) that may start at different times, so a lane that starts
 * late or runs slow simply takes fewer.
 */
export interface Lane<T> {
  /** Settles when the lane can take work (its worker started, or its other job done); a rejection fails the run. */
  ready: Promise<unknown>;
  run(index: number): Promise<T>;
}

/**
 * Runs the items `todo` (in order) over `lanes`, calling `onResult` as each lands; done when every
 * item has its result, even if a lane never became ready. The first failure (an item, or a lane's
 * `ready`) rejects the run and no lane takes another item; so does `stop` (a cancel: workers that
 * were terminated never answer), and `stopped()` turning true between items.
 */
export function runLanes<T>(todo: readonly number[], lanes: readonly Lane<T>[], onResult: (index: number, result: T) => void, stop: Promise<never>, stopped: () => boolean): Promise<void> {
  const queue = todo.slice();
  let left = queue.length;
  let failed = false;
  return new Promise<void>((resolve, reject) => {
    const fail = (e: unknown) => {
      failed = true;
      reject(e);
    };
    if (left === 0) return resolve();
    stop.catch(fail);
    const lane = async (l: Lane<T>) => {
      await l.ready;
      for (let i = queue.shift(); i !== undefined && !failed; i = queue.shift()) {
        if (stopped()) throw cancelledError();
        const r = await l.run(i);
        if (failed) return;
        onResult(i, r);
        if (--left === 0) resolve();
      }
    };
    for (const l of lanes) lane(l).catch(fail);
  });
}
