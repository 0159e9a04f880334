import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CancelledError, RescueError, type ErrorKind } from '../../core/errors.js';
import type { ByteSource } from '../../core/io/byte-source.js';
import { CHUNK } from '../../core/vmfs/deep/range-scan.js';
import type { DeepScanLane, DeepScanResult } from '../../core/vmfs/deep/scan.js';
import { NodeFileSource } from './file-source.js';

/**
 * Worker threads that scan deep-search segments beside the main thread (core deepScan's
 * `lanes`). Copying a dump out of the page cache is the bulk of a deep search, and one thread
 * copies at about cat's speed: two copy in parallel. Each worker opens the dumps again by path,
 * so only dumps that are plain files get lanes.
 */

export interface LaneData {
  files: { path: string; name: string; size: number }[];
  chunk: number;
}
export interface LaneJob {
  id: number;
  source: number;
  start: number;
  end: number;
}
export interface LaneReply {
  id: number;
  result?: DeepScanResult;
  error?: { message: string; kind?: ErrorKind };
}

/** More lanes than this copy no faster (memory bandwidth), whatever the cores. */
const MAX_LANES = 3;
/** Below this many bytes in all, a worker's start-up (~30 ms) costs more than it saves. */
const MIN_BYTES = 512 * 2 ** 20;
/** Segments queued per worker: it starts the next while its last result is on its way. */
const DEPTH = 2;

/** A worker lane; idle, it does not keep the process alive. */
class WorkerLane implements DeepScanLane {
  readonly depth = DEPTH;
  private readonly pending = new Map<number, { resolve: (r: DeepScanResult) => void; reject: (e: unknown) => void }>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: LaneReply) => {
      const p = this.pending.get(m.id);
      if (!p) return; // cancelled meanwhile
      this.settle(m.id);
      if (m.result) p.resolve(m.result);
      else p.reject(m.error?.kind ? new RescueError(m.error.kind, m.error.message) : new Error(m.error?.message ?? 'deep-search lane failed'));
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const [id, p] of this.pending) {
        this.settle(id);
        p.reject(e);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`deep-search lane exited (code ${code})`)));
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  scan(source: number, start: number, end: number, signal?: AbortSignal): Promise<DeepScanResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<DeepScanResult>((resolve, reject) => {
      const onAbort = () => {
        this.settle(id);
        reject(new CancelledError());
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { resolve: (r) => (done(), resolve(r)), reject: (e) => (done(), reject(e)) });
      this.worker.ref();
      this.worker.postMessage({ id, source, start, end } satisfies LaneJob);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

export interface DeepLanes {
  lanes: DeepScanLane[];
  close(): Promise<void>;
}

/** VMFS_RESCUE_DEEP_LANES when set: that many lanes (0 turns them off). */
function forcedLanes(): number | null {
  const forced = process.env.VMFS_RESCUE_DEEP_LANES;
  if (forced === undefined || forced === '') return null;
  const n = Number(forced);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`VMFS_RESCUE_DEEP_LANES=${forced}: give a whole number of lanes from 0 to 64`);
  return n;
}

/**
 * How many lanes the CLI gives a search of `totalBytes`: VMFS_RESCUE_DEEP_LANES when set; else
 * one per core beyond the main thread (at most MAX_LANES), none for small dumps.
 */
export function laneCount(totalBytes: number): number {
  return forcedLanes() ?? (totalBytes < MIN_BYTES ? 0 : Math.max(0, Math.min(MAX_LANES, availableParallelism() - 1)));
}

const fromSources = () => import.meta.url.endsWith('.ts');

function startWorker(data: LaneData, script?: URL): Worker {
  if (script) return new Worker(script, { workerData: data });
  if (!fromSources()) {
    // The CLI bundle ships the lane as dist-cli/deep-lane.mjs beside its chunks (vite.cli.config.ts).
    const file = 'deep-lane.mjs';
    return new Worker(new URL(file, import.meta.url), { workerData: data });
  }
  const entry = new URL('./deep-lane-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: data });
}

/**
 * Lanes for a deep search of `sources` (started now, so they boot while the scan opens the
 * volume), or none when a source is not a plain file or laneCount says none. Running from the
 * TypeScript sources, a worker needs its own TypeScript loader (~0.6 s to start): no lanes unless
 * VMFS_RESCUE_DEEP_LANES asks, or `script` names the compiled lane (dist-cli/deep-lane.mjs; the bench).
 */
export function deepLanesFor(sources: readonly ByteSource[], opts: { count?: number; script?: URL } = {}): DeepLanes {
  const total = sources.reduce((s, x) => s + x.size, 0);
  const count = opts.count ?? (fromSources() && !opts.script ? (forcedLanes() ?? 0) : laneCount(total));
  const files = sources.map((s) => (s instanceof NodeFileSource ? { path: s.path, name: s.name, size: s.size } : null));
  if (count === 0 || files.some((f) => f === null)) return { lanes: [], close: async () => {} };
  const data: LaneData = { files: files as LaneData['files'], chunk: CHUNK };
  const lanes = Array.from({ length: count }, () => new WorkerLane(startWorker(data, opts.script)));
  return {
    lanes,
    close: async () => {
      await Promise.all(lanes.map((l) => l.close()));
    },
  };
}
