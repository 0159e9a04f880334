import { RescueError, throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import { throttle, type JobOptions } from '../../progress.js';
import { Collector, type DeepScanResult } from './collector.js';
import { CHUNK, checkChunkBytes, rangeBuffers, scanDumpRange, SECTOR } from './range-scan.js';

export { CHUNK } from './range-scan.js';
export { MAX_FDS, MAX_ORIGINS, type DeepScanResult, type MapRun, type OriginEvidence } from './collector.js';

/**
 * Deep volume search: one streamed pass over every LUN dump looking for VMFS landmarks at each
 * 512-byte sector, grouped by the volume origin they imply. The metadata zone (the first GiBs,
 * where VMFS keeps every resource file) is read first so volumes show up early; the rest follows.
 * Memory is bounded: counts per origin, capped FD lists, capped maps.
 * Each pass is cut into segments that this thread and any other lanes take in turn; their
 * results are merged in dump order, which is also where a resumed scan goes on.
 */

export interface DeepScanOptions extends JobOptions, DeepScanResumeOptions {
  /** Bytes of each dump scanned first (default 8 GiB). */
  metadataZone?: number;
  /** Called once the metadata zone of every dump is done, with what it found. */
  onZoneDone?: (r: DeepScanResult) => void;
  /**
   * Asked once the metadata zone is done: true ends the search there (the result then covers the
   * zone only; bytesScanned says how much was read).
   */
  stopAfterZone?: (r: DeepScanResult) => boolean;
  /** Bytes scanned per read (default CHUNK); for measurements. */
  chunkBytes?: number;
  /** Bytes per segment (default SEGMENT, a sector multiple); for tests and measurements. */
  segmentBytes?: number;
  /** Other threads that scan segments beside this one (none: this thread scans everything). */
  lanes?: readonly DeepScanLane[];
}

/**
 * A thread that scans dump segments (platform code: Node worker threads). Its segments are
 * merged in dump order, so the result is the same as one lane's.
 */
export interface DeepScanLane {
  /** Scans the sector starts of [start, end) of dump `source` (see scanDumpRange); its landmarks. */
  scan(source: number, start: number, end: number, signal?: AbortSignal): Promise<DeepScanResult>;
  /** Segments handed to this lane before the one it is scanning ends (so it never waits for this thread). */
  readonly depth: number;
  /**
   * Settles once the lane can scan (its thread started and opened the dumps): it takes no segment
   * before, so segments never wait for a thread still starting. A rejection: the lane takes none.
   */
  readonly ready?: Promise<unknown>;
}

/**
 * Where an interrupted scan goes on, and what it had found: a DeepScanResult plus the place to
 * resume (`next`). Plain data (JSON-safe), so it can be saved and given back as opts.resume
 * (see resume.ts for reading one back).
 */
export interface DeepScanState extends DeepScanResult {
  format: typeof STATE_FORMAT;
  metadataZone: number;
  /** Pass 0 is the metadata zone, 1 the rest, 2 done; `pos` the next dump offset of `source` to scan. */
  next: { pass: number; source: number; pos: number };
}
export const STATE_FORMAT = 'vmfs-rescue deep scan 1';
export const DEFAULT_ZONE = 8 * 2 ** 30;
/** Least time between two onCheckpoint calls while the scan runs. */
const CHECKPOINT_MS = 10_000;

export interface DeepScanResumeOptions {
  /** A state from onCheckpoint: the scan goes on from there instead of starting over. */
  resume?: DeepScanState;
  /**
   * Called with the scan's state every CHECKPOINT_MS, when it stops on cancel or on an error
   * (before the error is thrown), and once done (next.pass 2).
   */
  onCheckpoint?: (s: DeepScanState) => void;
}

/** The two passes' ranges of one dump: the metadata zone, then the rest (sector-aligned ends). */
function passRange(size: number, zone: number, pass: number): { start: number; end: number } {
  const zoneEnd = Math.min(size, zone) - (Math.min(size, zone) % SECTOR);
  return pass === 0 ? { start: 0, end: zoneEnd } : { start: zoneEnd, end: size - (size % SECTOR) };
}

/**
 * Segments are cut at multiples of the segment size in each dump (the same cuts whatever the resume point).
 * 64 MiB: a lane scans one in ~20 ms from the page cache, so the lanes end within a few ms of
 * each other, and a hand-off (one message, one small result) costs nothing beside it.
 */
export const SEGMENT = 64 * 2 ** 20;
/**
 * Least time between two event-loop turns of this thread's lane: alone, 50 ms (a timer turn costs
 * ~1 ms of wall time); beside other lanes, whose results and next segments pass through the event
 * loop, 2 ms, with an immediate turn where the platform has one (Node's setImmediate, ~µs).
 */
const YIELD_MS = 50;
const YIELD_MS_LANES = 2;

interface Segment {
  source: number;
  start: number;
  end: number;
}

/**
 * Scans `sources` for landmarks. Cancellable through opts.signal (CancelledError); progress in
 * bytes over all dumps, phases 'deep: metadata zone' then 'deep: full pass'; resumable from a
 * checkpoint (opts.resume); other threads join in through opts.lanes.
 */
export async function deepScan(sources: readonly ByteSource[], opts: DeepScanOptions = {}): Promise<DeepScanResult> {
  const resume = opts.resume;
  const zone = resume?.metadataZone ?? opts.metadataZone ?? DEFAULT_ZONE;
  const total = sources.reduce((s, x) => s + x.size, 0);
  const progress = throttle(opts.onProgress);
  const c = new Collector();
  if (resume) c.absorb(resume);
  // `c` holds exactly the landmarks of every sector before `next` (in pass order): what a
  // checkpoint saves. `done` counts those sectors' bytes.
  let done = resume?.bytesScanned ?? 0;
  let next = resume?.next ?? { pass: 0, source: 0, pos: 0 };
  const chunk = opts.chunkBytes ?? CHUNK;
  checkChunkBytes(chunk);
  const segment = opts.segmentBytes ?? SEGMENT;
  if (!Number.isSafeInteger(segment) || segment <= 0 || segment % SECTOR !== 0) throw new RangeError('deepScan: segmentBytes must be a positive multiple of 512');
  const bufs = rangeBuffers(chunk);
  const lanes = opts.lanes ?? [];
  const immediate = lanes.length > 0 ? (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate : undefined;
  const yieldMs = lanes.length > 0 ? YIELD_MS_LANES : YIELD_MS;
  let lastTurn = Date.now();
  const turn = (): Promise<void> | null => {
    if (Date.now() - lastTurn < yieldMs) return null;
    return new Promise<void>((res) => (immediate ? immediate(res) : setTimeout(res, 0))).then(() => {
      lastTurn = Date.now();
    });
  };
  let lastCheckpoint = Date.now();
  const state = (): DeepScanState => ({ ...c.result(sources, done), format: STATE_FORMAT, metadataZone: zone, next: { ...next } });
  const checkpoint = () => {
    lastCheckpoint = Date.now();
    opts.onCheckpoint?.(state());
  };

  const runPass = async (pass: number) => {
    const phase = pass === 0 ? 'deep: metadata zone' : 'deep: full pass';
    const segs: Segment[] = [];
    for (let i = pass === next.pass ? next.source : 0; i < sources.length; i++) {
      const r = passRange(sources[i]!.size, zone, pass);
      for (let s = pass === next.pass && i === next.source ? Math.max(r.start, next.pos) : r.start; s < r.end; ) {
        const e = Math.min(r.end, s - (s % segment) + segment);
        segs.push({ source: i, start: s, end: e });
        s = e;
      }
    }
    // Results of segments scanned ahead of the merged prefix (null: merged straight into `c`).
    const results: (DeepScanResult | null | undefined)[] = new Array(segs.length);
    let merged = 0;
    let taken = 0;
    // Bytes scanned but not merged yet (segments ahead, this thread's segment in progress): progress only.
    let ahead = 0;
    const report = () => progress({ phase, done: done + ahead, total });
    const mergeReady = () => {
      for (let r = results[merged]; merged < segs.length && r !== undefined; r = results[++merged]) {
        const sg = segs[merged]!;
        if (r) {
          c.absorb(r);
          done += sg.end - sg.start;
          ahead -= sg.end - sg.start;
          next = { pass, source: sg.source, pos: sg.end };
        }
        results[merged] = undefined;
      }
      report();
      if (Date.now() - lastCheckpoint >= CHECKPOINT_MS) checkpoint();
    };
    // The first failure ends every lane; the user's cancel too.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) stop.abort();
    let failure: unknown;
    // Settles when this thread has taken the pass's last segment: a lane still starting then has
    // nothing left to take and must not hold the pass (the metadata zone's first volumes) back.
    let allTaken!: () => void;
    const noneLeft = new Promise<boolean>((res) => (allTaken = () => res(false)));
    const run = async (lane: DeepScanLane | null) => {
      // This runner's own buffers once its lane is gone (this thread's lane has `bufs`).
      let own: [Uint8Array, Uint8Array] | null = null;
      if (lane?.ready && !(await Promise.race([lane.ready.then(() => true, () => false), noneLeft]))) return;
      while (taken < segs.length && !stop.signal.aborted) {
        const k = taken++;
        const sg = segs[k]!;
        if (lane) {
          try {
            const r = await lane.scan(sg.source, sg.start, sg.end, stop.signal);
            ahead += sg.end - sg.start;
            results[k] = r;
            mergeReady();
            continue;
          } catch (e) {
            // A thread that could not start or died: its segments are scanned here. What the dump
            // itself causes (a read past its end) is the scan's error.
            if (e instanceof RescueError) throw e;
            lane = null;
            own = rangeBuffers(chunk);
          }
        }
        // Next in dump order: straight into `c`, with `next` moved chunk by chunk, so a checkpoint
        // taken at any moment (cancel included) is exact. Ahead of it: a collector of its own.
        const direct = k === merged;
        const into = direct ? c : new Collector();
        let at = sg.start;
        await scanDumpRange(sources[sg.source]!, sg.source, sg.start, sg.end, into, {
          chunk, bufs: own ?? bufs, signal: stop.signal, turn,
          onChunk: (to) => {
            if (direct) {
              done += to - at;
              next = { pass, source: sg.source, pos: to };
            } else ahead += to - at;
            at = to;
            report();
          },
        });
        results[k] = direct ? null : into.result(sources, sg.end - sg.start);
        mergeReady();
      }
    };
    const guard = (p: Promise<void>) =>
      p.catch((e: unknown) => {
        failure ??= e;
        stop.abort();
      });
    try {
      await Promise.all([guard(run(null).finally(allTaken)), ...lanes.flatMap((l) => Array.from({ length: Math.max(1, l.depth) }, () => guard(run(l))))]);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    throwIfAborted(opts.signal);
    if (failure !== undefined) throw failure;
  };

  try {
    for (let pass = next.pass; pass < 2; pass++) {
      if (pass === 1) {
        opts.onZoneDone?.(c.result(sources, done));
        if (opts.stopAfterZone?.(c.result(sources, done))) {
          checkpoint(); // a later run with this state goes on with the full pass
          return c.result(sources, done);
        }
      }
      if (pass !== next.pass) next = { pass, source: 0, pos: 0 };
      await runPass(pass);
    }
  } catch (e) {
    checkpoint();
    throw e;
  }
  next = { pass: 2, source: 0, pos: 0 };
  progress({ phase: 'deep: full pass', done: total, total });
  checkpoint();
  return c.result(sources, done);
}
