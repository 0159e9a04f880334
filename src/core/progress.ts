/** Progress of a long job (parse, export, verify, scan). Reported at most a few times per second. */
export interface Progress {
  phase: string;
  done: number; // bytes (or units) done
  total: number; // bytes (or units) expected; 0 if unknown
}
export type ProgressFn = (p: Progress) => void;

/** Common options of every long-running core operation. */
export interface JobOptions {
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

/** Wraps a ProgressFn so it fires at most every `ms` milliseconds (plus the final call). */
export function throttle(fn: ProgressFn | undefined, ms = 200): ProgressFn {
  let last = -Infinity;
  return (p) => {
    if (!fn) return;
    const now = performance.now();
    if (now - last >= ms || (p.total > 0 && p.done >= p.total)) {
      last = now;
      fn(p);
    }
  };
}
