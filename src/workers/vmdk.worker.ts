import * as Comlink from 'comlink';
import { CancelledError, RescueError } from '../core/errors.js';
import { exportDisk, type ExportFormat, type ExportTimings } from '../core/export/export-disk.js';
import { throttle, type Progress } from '../core/progress.js';
import { openChain } from '../core/vmdk/chain.js';
import type { DiskChain } from '../core/vmdk/disk-chain.js';
import type { ChainLinkInfo } from '../core/vmdk/types.js';
import { FileSetResolver, type PickedInput } from '../platform/browser/file-set-resolver.js';
import { exportTarget, guarded, Jobs, type ExportDestination } from './common.js';
import { createGuestApi } from './guest-methods.js';
import { scanPicked } from './scan-picked.js';
import type { ExportSummary, GrainMapSummary, PickedScan } from './vmdk.api.js';

/**
 * Thin Comlink adapter: the page calls these; all parsing, mapping and exporting run here, off the
 * main thread. Errors cross as plain Errors whose `name` is the RescueError class (the UI keys on it).
 */

/** Widest grain map drawn; also bounds the work of one grainMap() call. */
const MAX_MAP_WIDTH = 4096;
/** One mapRange() call covers at most this much, so a fragmented delta never yields a huge extent list at once. */
const MAP_STEP = 64 * 1024 * 1024;

let chain: DiskChain | null = null;
const jobs = new Jobs<'job'>();

const api = {
  /** Lists the picked files and suggests the top of the chain. */
  scan(input: PickedInput): Promise<PickedScan> {
    return guarded(async () => scanPicked(await FileSetResolver.from(input)));
  },

  /** Opens the chain whose top is `topPath` (a path as listed by scan). */
  open(input: PickedInput, topPath: string, opts: { ignoreCid?: boolean } = {}): Promise<ChainLinkInfo[]> {
    return guarded(async () => {
      const signal = jobs.start('job');
      chain = null;
      const resolver = await FileSetResolver.from(input);
      await resolver.list(); // builds the basename index candidates() needs for absolute parent hints
      chain = await openChain(resolver, topPath, { ignoreCid: opts.ignoreCid ?? false, signal });
      return [...chain.links];
    });
  },

  /** Allocation of the top layer in `width` buckets, for the canvas. */
  grainMap(width: number): Promise<GrainMapSummary> {
    return guarded(async () => {
      const c = requireChain();
      const signal = jobs.start('job');
      const top = c.layers[0]!;
      const w = Math.max(1, Math.min(MAX_MAP_WIDTH, Math.floor(width) || 1));
      const bucketBytes = Math.max(512, Math.ceil(top.capacity / w / 512) * 512);
      const n = Math.max(1, Math.ceil(top.capacity / bucketBytes));
      const shares = { data: new Uint8Array(n), zero: new Uint8Array(n), missing: new Uint8Array(n) };
      const totals = { data: 0, zero: 0, missing: 0, parent: 0 };
      for (let b = 0; b < n; b++) {
        if (signal.aborted) throw new CancelledError();
        const start = b * bucketBytes;
        const end = Math.min(top.capacity, start + bucketBytes);
        const sums = { data: 0, zero: 0, missing: 0, parent: 0 };
        for (let pos = start; pos < end; pos += MAP_STEP) {
          for (const e of await top.mapRange(pos, Math.min(MAP_STEP, end - pos))) sums[e.kind] += e.length;
        }
        const len = end - start;
        for (const k of ['data', 'zero', 'missing'] as const) {
          // Any stored byte shows: round up so a single grain in a big bucket is still visible.
          shares[k][b] = sums[k] === 0 ? 0 : Math.max(1, Math.round((sums[k] / len) * 255));
        }
        totals.data += sums.data;
        totals.zero += sums.zero;
        totals.missing += sums.missing;
        totals.parent += sums.parent;
      }
      const summary: GrainMapSummary = { layerPath: top.path, capacity: top.capacity, bucketBytes, width: n, ...shares, totals };
      return Comlink.transfer(summary, [shares.data.buffer, shares.zero.buffer, shares.missing.buffer]);
    });
  },

  /**
   * Exports the open chain. `dest`: a file from showSaveFilePicker, a folder from showDirectoryPicker,
   * or 'opfs' (browser storage; the page then offers it as a download).
   */
  export(format: ExportFormat, dest: ExportDestination, fileName: string, onProgress?: (p: Progress) => void): Promise<ExportSummary> {
    return guarded(async () => {
      const c = requireChain();
      const signal = jobs.start('job');
      const t0 = performance.now();
      const timings: ExportTimings = {};
      const { target, destination, fileName: name } = await exportTarget(dest, fileName);
      const result = await exportDisk(c, target, {
        format,
        fileName: name,
        verify: true,
        ddb: c.descriptorDdb(),
        signal,
        onProgress: throttle(onProgress, 150),
        timings,
      });
      timed(t0, timings);
      return { ...result, destination, opfsFiles: destination === 'opfs' ? result.files : [] };
    });
  },

  /** Cancels the running scan, grain map or export (the export's partial output is discarded). */
  cancel(): void {
    jobs.abort('job');
  },

  /** "Look inside a disk": partitions and files of the open chain's merged disk. */
  ...createGuestApi(() => requireChain()),
};

/**
 * User Timing of a finished export (DevTools, the Chromium bench): `vmfs-rescue:export:total`, one
 * `vmfs-rescue:export:<phase>:<step>` measure per step (its duration is the step's summed time),
 * and a `vmfs-rescue:export:timings` mark whose detail holds all figures (bytes too).
 */
function timed(t0: number, t: ExportTimings): void {
  try {
    performance.measure('vmfs-rescue:export:total', { start: t0, end: performance.now() });
    for (const [k, v] of Object.entries(t)) if (!k.includes(':bytes-')) performance.measure(`vmfs-rescue:export:${k}`, { start: t0, duration: v });
    performance.mark('vmfs-rescue:export:timings', { detail: { ...t } });
  } catch {
    // no User Timing: nothing to record
  }
}

function requireChain(): DiskChain {
  if (!chain) throw new RescueError('user', 'no disk is open');
  return chain;
}

export type VmdkWorkerApi = typeof api;

Comlink.expose(api);
