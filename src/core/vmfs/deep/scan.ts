import { CancelledError, throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import { bulkBuffer, readInto } from '../../io/read-into.js';
import { throttle, type JobOptions } from '../../progress.js';
import { LANDMARK_SPAN, parseLandmark, type DirLandmark, type FdLandmark, type FsDescLandmark, type Landmark, type LvmLandmark } from './landmarks.js';

/**
 * Deep volume search: one streamed pass over every LUN dump looking for VMFS landmarks at each
 * 512-byte sector, grouped by the volume origin they imply. The metadata zone (the first GiBs,
 * where VMFS keeps every resource file) is read first so volumes show up early; the rest follows.
 * Memory is bounded: counts per origin, capped FD lists, capped maps.
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
}

/** A dump range where landmarks of one origin lie (merged at 1 MiB). */
export interface MapRun {
  start: number;
  length: number;
}

/** What the scan found for one (dump, origin): the raw material of a volume. */
export interface OriginEvidence {
  source: number;
  origin: number;
  /** Self-addressed FDs (all of them counted, the first MAX_FDS kept). */
  fdCount: number;
  fds: FdLandmark[];
  /** Cluster headers per resource file name. */
  clusterHeaders: Record<string, number>;
  descriptors: FsDescLandmark[];
  map: MapRun[];
}

export interface DeepScanResult {
  sources: { name: string; size: number }[];
  origins: OriginEvidence[];
  lvm: (LvmLandmark & { source: number })[];
  /** Directory blocks (evidence; they name no origin). */
  directories: (DirLandmark & { source: number })[];
  directoryCount: number;
  bytesScanned: number;
  /** Landmarks dropped by the memory bounds. */
  dropped: number;
}

/**
 * Read size: 256 KiB, page-aligned, read synchronously after the scan of the chunk before, so the
 * buffer is scanned while it is still in the CPU cache. On the 2 GiB bench dump at load 2.5 (7
 * rounds, alternated with cat): 256 KiB reads used 0.14-0.17 s of CPU against 0.24-0.31 s for
 * 1088 KiB reads through the thread pool (which overlap the scan and won only when cat itself was
 * starved, at load 11-36), and ran at 0.67-0.79x cat's throughput against 0.40-0.62x.
 */
export const CHUNK = 256 * 1024;
/** Room in front of each read buffer for the previous chunk's unscanned tail (page multiple, >= LANDMARK_SPAN). */
const PREFIX = 8192;
/** Reads up to this size are issued after the scan of the chunk before (see the pass loop). */
const LATE_READ_MAX = 1 << 20;
const YIELD_MS = 50;
const SECTOR = 512;
export const MAX_ORIGINS = 4096;
export const MAX_FDS = 1 << 20;
const MAX_RUNS = 4096;
const MAX_LIST = 4096;
const MERGE_GAP = 1 << 20;

class Collector {
  readonly byKey = new Map<string, OriginEvidence>();
  readonly lvm: DeepScanResult['lvm'] = [];
  readonly dirs: DeepScanResult['directories'] = [];
  dirCount = 0;
  dropped = 0;

  private origin(source: number, origin: number): OriginEvidence | null {
    const key = `${source}:${origin}`;
    let e = this.byKey.get(key);
    if (!e) {
      if (this.byKey.size >= MAX_ORIGINS) {
        this.dropped++;
        return null;
      }
      e = { source, origin, fdCount: 0, fds: [], clusterHeaders: {}, descriptors: [], map: [] };
      this.byKey.set(key, e);
    }
    return e;
  }

  add(source: number, l: Landmark, size: number): void {
    switch (l.kind) {
      case 'fd': {
        const e = this.origin(source, l.origin);
        if (!e) return;
        e.fdCount++;
        if (e.fds.length < MAX_FDS) e.fds.push(l);
        else this.dropped++;
        mapAdd(e.map, l.at, l.fdSize);
        return;
      }
      case 'cluster': {
        const e = this.origin(source, l.origin);
        if (!e) return;
        e.clusterHeaders[l.resource] = (e.clusterHeaders[l.resource] ?? 0) + 1;
        mapAdd(e.map, l.at, 1024);
        return;
      }
      case 'fs-descriptor': {
        const e = this.origin(source, l.origin);
        if (!e) return;
        if (e.descriptors.length < 16) e.descriptors.push(l);
        mapAdd(e.map, l.at, 512);
        return;
      }
      case 'lvm':
        if (this.lvm.length < MAX_LIST) this.lvm.push({ ...l, source });
        else this.dropped++;
        return;
      case 'directory':
        this.dirCount++;
        if (this.dirs.length < MAX_LIST) this.dirs.push({ ...l, source });
        void size;
        return;
    }
  }

  /** Takes back what a checkpoint saved (deep copies: the state stays the caller's). */
  restore(s: DeepScanResult): void {
    for (const o of s.origins) this.byKey.set(`${o.source}:${o.origin}`, { ...o, fds: o.fds.slice(), map: o.map.map((m) => ({ ...m })), descriptors: o.descriptors.slice(), clusterHeaders: { ...o.clusterHeaders } });
    this.lvm.push(...s.lvm);
    this.dirs.push(...s.directories);
    this.dirCount = s.directoryCount;
    this.dropped = s.dropped;
  }

  result(sources: readonly ByteSource[], bytesScanned: number): DeepScanResult {
    const origins = [...this.byKey.values()].map((e) => ({ ...e, fds: e.fds.slice(), map: e.map.slice(), descriptors: e.descriptors.slice(), clusterHeaders: { ...e.clusterHeaders } }));
    origins.sort((a, b) => a.source - b.source || a.origin - b.origin);
    const byAt = <T extends { source: number; at: number }>(x: T[]) => x.slice().sort((a, b) => a.source - b.source || a.at - b.at);
    return {
      sources: sources.map((s) => ({ name: s.name, size: s.size })),
      origins,
      lvm: byAt(this.lvm),
      directories: byAt(this.dirs),
      directoryCount: this.dirCount,
      bytesScanned,
      dropped: this.dropped,
    };
  }
}

/** Adds [at, at + len) to a sorted run list, merging within MERGE_GAP (bounded length). */
function mapAdd(map: MapRun[], at: number, len: number): void {
  // Landmarks arrive in dump order within a pass, so the last run is nearly always the one to grow.
  const last = map[map.length - 1];
  if (last && at >= last.start && at <= last.start + last.length + MERGE_GAP) {
    last.length = Math.max(last.length, at + len - last.start);
    return;
  }
  let i = map.length;
  while (i > 0 && map[i - 1]!.start > at) i--;
  const prev = map[i - 1];
  if (prev && at <= prev.start + prev.length + MERGE_GAP) {
    prev.length = Math.max(prev.length, at + len - prev.start);
    return;
  }
  if (map.length >= MAX_RUNS) {
    // Out of room: widen the nearest run instead of growing the list.
    const near = prev ?? map[i]!;
    const s = Math.min(near.start, at);
    near.length = Math.max(near.start + near.length, at + len) - s;
    near.start = s;
    return;
  }
  map.splice(i, 0, { start: at, length: len });
}

/**
 * Index of the next word at or after `from` (stepping by `step`) that may start a landmark, or -1.
 * Words are compared as int32 (`| 0`), so the loop stays on small integers in optimised code.
 */
function nextInteresting(words: Int32Array, from: number, end: number, step: number): number {
  for (let w = from; w < end; w += step) {
    const x = words[w]!;
    if ((x & ~7) === 0x10c00000 || x === 0x2fabf15e || x === 0x2fabf15f || x === (0xc001d00d | 0) || x === 0x00f50001 || x === 2) return w;
  }
  return -1;
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
 * Scans `sources` for landmarks. Cancellable through opts.signal (CancelledError); progress in
 * bytes over all dumps, phases 'deep: metadata zone' then 'deep: full pass'; resumable from a
 * checkpoint (opts.resume).
 */
export async function deepScan(sources: readonly ByteSource[], opts: DeepScanOptions = {}): Promise<DeepScanResult> {
  const resume = opts.resume;
  const zone = resume?.metadataZone ?? opts.metadataZone ?? DEFAULT_ZONE;
  const total = sources.reduce((s, x) => s + x.size, 0);
  const progress = throttle(opts.onProgress);
  const c = new Collector();
  if (resume) c.restore(resume);
  let done = resume?.bytesScanned ?? 0;
  const chunk = opts.chunkBytes ?? CHUNK;
  if (chunk % 4096 !== 0 || chunk < 4 * LANDMARK_SPAN) throw new RangeError('deepScan: chunkBytes must be a multiple of 4096 and at least 4 landmark spans');
  // Reads start at page-aligned dump offsets and land page-aligned after a PREFIX: the sectors of
  // a chunk's last LANDMARK_SPAN bytes (whose parsers need the next chunk) are copied in front of
  // the next chunk and scanned with it, so no byte is read twice.
  const bufs = [bulkBuffer(PREFIX + chunk + LANDMARK_SPAN), bulkBuffer(PREFIX + chunk + LANDMARK_SPAN)];
  let lastTurn = Date.now();
  let lastCheckpoint = Date.now();
  let next = resume?.next ?? { pass: 0, source: 0, pos: 0 };
  const state = (): DeepScanState => ({ ...c.result(sources, done), format: STATE_FORMAT, metadataZone: zone, next: { ...next } });
  const checkpoint = () => {
    lastCheckpoint = Date.now();
    opts.onCheckpoint?.(state());
  };
  const scanRange = async (phase: string, pass: number, source: number, start: number, end: number) => {
    const src = sources[source]!;
    // The range's last chunk also reads LANDMARK_SPAN past its end, where the dump has it.
    const lenAt = (pos: number) => (pos + chunk >= end ? Math.min(end - pos + LANDMARK_SPAN, src.size - pos) : chunk);
    const read = (pos: number, k: number) => readChunk(src, pos, bufs[k % 2]!.subarray(PREFIX, PREFIX + lenAt(pos)));
    // A resumed range starts mid-page: read from the page, scan from `start`.
    const first = start - (start % 4096);
    let carry = 0;
    let k = 0;
    let pending: Promise<void> | null = start < end ? read(first, 0) : null;
    for (let pos = first; pos < end; pos += chunk, k++) {
      await pending;
      if (opts.signal?.aborted) checkpoint();
      throwIfAborted(opts.signal);
      if (Date.now() - lastCheckpoint >= CHECKPOINT_MS) checkpoint();
      const cur = bufs[k % 2]!;
      const prev = bufs[(k + 1) % 2]!;
      if (carry > 0) cur.set(prev.subarray(PREFIX + chunk - carry, PREFIX + chunk), PREFIX - carry);
      const last = pos + chunk >= end;
      const nextPos = pos + chunk;
      // Large reads run while this chunk is scanned; small ones (synchronous in Node) come after
      // it, so the chunk is scanned while it is still in the CPU cache.
      const early = chunk > LATE_READ_MAX;
      pending = !last && early ? read(nextPos, k + 1) : null;
      pending?.catch(() => {});
      const skip = pos === first ? start - first : 0;
      const scanned = last ? end - pos : chunk - LANDMARK_SPAN;
      scanChunk(cur.subarray(PREFIX - carry + skip, PREFIX + lenAt(pos)), carry + scanned - skip, pos - carry + skip, source, src.size, c);
      carry = last ? 0 : chunk - scanned;
      done += pos + scanned - next.pos;
      next = { pass, source, pos: pos + scanned };
      progress({ phase, done, total });
      if (!last && !early) pending = read(nextPos, k + 1);
      // A macrotask turn now and then keeps the job cancellable when reads complete synchronously
      // (by time, not by count: a timer turn costs ~1 ms of wall time, 0.2 s per 2 GiB at 256 KiB).
      if (Date.now() - lastTurn >= YIELD_MS) {
        await new Promise<void>((res) => setTimeout(res, 0));
        lastTurn = Date.now();
      }
    }
  };
  const phases = ['deep: metadata zone', 'deep: full pass'];
  try {
    for (let pass = next.pass; pass < 2; pass++) {
      if (pass === 1) {
        opts.onZoneDone?.(c.result(sources, done));
        if (opts.stopAfterZone?.(c.result(sources, done))) {
          checkpoint(); // a later run with this state goes on with the full pass
          return c.result(sources, done);
        }
      }
      for (let i = pass === next.pass ? next.source : 0; i < sources.length; i++) {
        const r = passRange(sources[i]!.size, zone, pass);
        const start = pass === next.pass && i === next.source ? Math.max(r.start, next.pos) : r.start;
        next = { pass, source: i, pos: start };
        await scanRange(phases[pass]!, pass, i, start, r.end);
      }
    }
  } catch (e) {
    if (!(e instanceof CancelledError)) checkpoint();
    throw e;
  }
  next = { pass: 2, source: 0, pos: 0 };
  progress({ phase: phases[1]!, done: total, total });
  checkpoint();
  return c.result(sources, done);
}

function readChunk(src: ByteSource, pos: number, dest: Uint8Array): Promise<void> {
  return readInto(src, pos, dest);
}

/** Parses every sector start in buf[0, n) (buf may extend LANDMARK_SPAN further for parsers). */
export function scanChunk(buf: Uint8Array, n: number, pos: number, source: number, size: number, c: { add(source: number, l: Landmark, size: number): void }): void {
  const words = new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  const step = SECTOR >>> 2;
  const end = n >>> 2;
  for (let w = nextInteresting(words, 0, end, step); w >= 0; w = nextInteresting(words, w + step, end, step)) {
    const i = w << 2;
    const l = parseLandmark(buf, i, pos + i);
    if (l) c.add(source, l, size);
  }
}
