/**
 * The app's one way to a worker: started on first use, calls cancelled through an AbortSignal, and
 * (when it holds nothing worth keeping) ended after a while without calls. Plain TypeScript, no
 * DOM and no Comlink, so Node tests drive it with a fake worker; app-workers.ts gives it real ones.
 */

/** A started worker as the bridge sees it: its API (a Comlink remote) and how to end it. */
export interface StartedWorker<R> {
  readonly remote: R;
  terminate(): void;
}

export interface BridgeOptions<R> {
  start: () => StartedWorker<R>;
  /**
   * End the worker once it has had no call for this many ms (it starts again on the next call).
   * Leave unset for a worker that holds state the page relies on (the open dump, the open chain).
   */
  idleMs?: number;
}

export interface CallOptions<R> {
  /** Aborting it cancels the call. */
  signal?: AbortSignal;
  /**
   * Asks the worker to stop the call's job (a cancel message): the call then ends with the worker's
   * own CancelledError, once it has cleaned up (a cancelled export removes its partial output
   * first). Without it, an abort ends the worker at once and the call rejects; the next call starts
   * a new worker.
   */
  cancel?: (remote: R) => unknown;
}

/** The error a cancelled call rejects with (the name the UI keys on, as the workers' own). */
export function cancelledError(): Error {
  return Object.assign(new Error('cancelled'), { name: 'CancelledError' });
}

export class WorkerBridge<R> {
  private worker: StartedWorker<R> | null = null;
  private running = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly opts: BridgeOptions<R>) {}

  /** Whether a worker is running now. */
  get started(): boolean {
    return this.worker !== null;
  }

  /** The worker's API (started if need be), for a view that talks to it directly (the disk inspector). */
  get remote(): R {
    return this.ensure().remote;
  }

  /** Runs `fn` against the worker, started if need be; `signal` cancels it (see CallOptions). */
  call<T>(fn: (remote: R) => Promise<T>, o: CallOptions<R> = {}): Promise<T> {
    const { signal, cancel } = o;
    if (signal?.aborted) return Promise.reject(cancelledError());
    const w = this.ensure();
    this.running++;
    this.clearIdle();
    return new Promise<T>((resolve, reject) => {
      let onAbort: (() => void) | null = null;
      if (signal) {
        onAbort = () => {
          if (cancel) {
            Promise.resolve()
              .then(() => cancel(w.remote))
              .catch(() => {}); // a worker that cannot take the message still ends the call below
          } else {
            this.end(w);
            reject(cancelledError());
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      let p: Promise<T>;
      try {
        p = fn(w.remote);
      } catch (e) {
        p = Promise.reject(e);
      }
      // The bookkeeping runs before the caller resumes, so its next call sees the worker idle or busy as it is.
      const settle = () => {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        this.running--;
        this.armIdle();
      };
      p.then(
        (v) => (settle(), resolve(v)),
        (e: unknown) => (settle(), reject(e)),
      );
    });
  }

  /** Ends the worker now (a running call never answers: its caller cancels it first). */
  terminate(): void {
    if (this.worker) this.end(this.worker);
  }

  private ensure(): StartedWorker<R> {
    if (!this.worker) this.worker = this.opts.start();
    return this.worker;
  }

  private end(w: StartedWorker<R>): void {
    if (this.worker !== w) return;
    this.clearIdle();
    this.worker = null;
    w.terminate();
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private armIdle(): void {
    const ms = this.opts.idleMs;
    if (ms === undefined || this.running > 0 || !this.worker) return;
    this.clearIdle();
    const w = this.worker;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.running === 0) this.end(w);
    }, ms);
  }
}
