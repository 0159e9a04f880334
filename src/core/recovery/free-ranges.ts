import { RescueError, throwIfAborted, UserError } from '../errors.js';
import { throttle, type JobOptions } from '../progress.js';
import { breather } from '../util/breather.js';
import type { ByteSource } from '../io/byte-source.js';
import type { Datastore } from '../vmfs/index.js';
import { HEADER_PROBE_BYTES, probeHeaderRemnant, type DeltaHeader } from './delta-header.js';
import { Rejections } from './rejected.js';
import type { RejectedRemnant } from './types.js';
import { BlockUse, holeReason } from './free-map.js';
import { fsOf } from '../vmfs/index.js';
import { MAX_REMNANTS, textKindOf, type TextKind } from './text-carving.js';

/**
 * The streamed pass over free space, by block range, so it can be split across workers and
 * resumed: each range yields plain serialisable evidence (block numbers and parsed header facts);
 * merged evidence from any split equals the single pass (see mergeCarved).
 */

/** FS blocks [startBlock, endBlock). */
export interface FreeRange {
  startBlock: number;
  endBlock: number;
}

/** A free block that starts with a delta header (plain data: survives postMessage and JSON). */
export interface CarvedHeader {
  block: number;
  header: DeltaHeader;
}

/** What one range of the free-space pass found. */
export interface RangeEvidence {
  range: FreeRange;
  /** Free blocks of the range that were probed, and their bytes (progress accounting). */
  freeBlocks: number;
  freeBytes: number;
  headers: CarvedHeader[];
  /**
   * Free blocks that start with descriptor or .vmsd text (the same probe bytes; re-read and parsed
   * by buildCandidates). Optional: results saved before this field existed still merge.
   */
  texts?: CarvedText[];
  /**
   * Block starts with a header magic that did not parse (at most MAX_REJECTED) and how many there
   * were. Optional, as texts.
   */
  rejected?: RejectedRemnant[];
  rejectedCount?: number;
}

/** A free block that starts with descriptor or .vmsd text (plain data). */
export interface CarvedText {
  block: number;
  kind: TextKind;
}

/** A split of the volume into ranges of about equal free space. */
export interface FreeRangePlan {
  blockSize: number;
  totalBlocks: number;
  freeBlocks: number;
  ranges: FreeRange[];
  /** Free bytes of each range (same order). */
  freeBytes: number[];
}

/** Ranges a plan may hold: bounds the per-range bookkeeping (IndexedDB records, worker messages). */
export const MAX_RANGES = 4096;

const uses = new WeakMap<Datastore, Promise<BlockUse>>();

/** The datastore's block use (free map and absent ranges), built once per opened datastore. */
export function blockUseOf(ds: Datastore): Promise<BlockUse> {
  let p = uses.get(ds);
  if (!p) {
    p = ds.allocationMap().then((map) => {
      const absent = ds.info.holes.map((h) => ({ offset: h.offset, length: h.length, reason: holeReason(h, ds.info.volumeSize) }));
      return new BlockUse(map.blockSize, map.totalBlocks, map.runs, map.basis, absent);
    });
    uses.set(ds, p);
    p.catch(() => uses.delete(ds));
  }
  return p;
}

/**
 * Splits the volume's blocks into `count` ranges (clamped to 1..MAX_RANGES and to the block count)
 * holding about the same number of free blocks each; deterministic for a given volume and count,
 * so a resumed scan finds the same ranges. `tapered`: range i holds free blocks in proportion to
 * count - i instead, so the last ranges, which workers take at the end, are short and the workers
 * finish close together.
 */
export async function planFreeRanges(ds: Datastore, count: number, tapered = false): Promise<FreeRangePlan> {
  const use = await blockUseOf(ds);
  const total = use.totalBlocks;
  const n = Math.max(1, Math.min(MAX_RANGES, Math.floor(count) || 1, Math.max(1, total)));
  const even = Math.max(1, Math.ceil(use.freeBlocks / n));
  // Free blocks of range i (the last range takes what is left).
  const weight = (n * (n + 1)) / 2;
  const size = (i: number) => (tapered ? Math.max(1, Math.round((use.freeBlocks * (n - i)) / weight)) : even);
  const ranges: FreeRange[] = [];
  const freeBytes: number[] = [];
  let start = 0;
  let inRange = 0;
  for (let b = 0; b < total; b++) {
    if (use.isUsed(b)) continue;
    if (++inRange >= size(ranges.length) && ranges.length < n - 1) {
      ranges.push({ startBlock: start, endBlock: b + 1 });
      freeBytes.push(inRange * use.blockSize);
      start = b + 1;
      inRange = 0;
    }
  }
  ranges.push({ startBlock: start, endBlock: total });
  freeBytes.push(inRange * use.blockSize);
  return { blockSize: use.blockSize, totalBlocks: total, freeBlocks: use.freeBlocks, ranges, freeBytes };
}

/**
 * Reads asked for at once: in batches, each looked at once all its reads are back, then the next
 * batch. Measured in Chromium (bench recovery-scan-browser, dense dump, 5 rounds): the scan took
 * 3.19-3.59 s in batches of 32 against 3.53-3.76 s with a sliding window of 32, whose reads each
 * came back alone and started one more IPC round trip; in Node both took 0.39-0.46 s. Memory is
 * WINDOW × HEADER_PROBE_BYTES.
 */
export const PROBE_WINDOW = 32;
const WINDOW = PROBE_WINDOW;

/**
 * Checks the start of every FREE block in the range for a delta header. Reads HEADER_PROBE_BYTES
 * per block, in batches of WINDOW reads, the bytes looked at in block order; progress counts free
 * bytes covered (phase 'carve free space').
 */
export async function carveFreeRange(ds: Datastore, range: FreeRange, opts: JobOptions = {}): Promise<RangeEvidence> {
  const use = await blockUseOf(ds);
  const vol = fsOf(ds).vol;
  const bs = use.blockSize;
  if (!Number.isSafeInteger(range.startBlock) || !Number.isSafeInteger(range.endBlock) || range.startBlock < 0 || range.endBlock < range.startBlock) {
    throw new UserError(`invalid block range ${range.startBlock}..${range.endBlock}`);
  }
  const start = range.startBlock;
  const end = Math.min(range.endBlock, use.totalBlocks);
  let free = 0;
  for (let b = start; b < end; b++) if (!use.isUsed(b)) free++;
  function* blocks() {
    for (let b = start; b < end; b++) if (!use.isUsed(b)) yield b;
  }
  const at = (b: number) => b * bs;
  return probeHeads({ startBlock: start, endBlock: end }, bs, vol.size, free, blocks(), (b) => (at(b) + HEADER_PROBE_BYTES > vol.size ? null : readHead(vol, at(b))), opts);
}

/** HEADER_PROBE_BYTES at `at` of `src`, or null where they cannot be read (a hole of a missing extent, past the end). */
export async function readHead(src: ByteSource, at: number): Promise<Uint8Array | null> {
  try {
    return await src.read(at, HEADER_PROBE_BYTES);
  } catch (e) {
    if (e instanceof RescueError && e.kind !== 'cancelled') return null;
    throw e;
  }
}

/**
 * The probe loop of the free-space pass: the heads of `blocks` (`count` of them, in block order,
 * read by `head`: null = unreadable), in batches of WINDOW reads, each looked at for a delta header
 * (that fits a volume of `volSize` bytes) or descriptor / .vmsd text.
 */
export async function probeHeads(
  range: FreeRange,
  bs: number,
  volSize: number,
  count: number,
  blocks: Iterable<number>,
  head: (b: number) => Promise<Uint8Array | null> | null,
  opts: JobOptions = {},
  /** Reads per batch, asked before each read (a carve worker yields to the metadata pass's reads at first). */
  window: () => number = () => WINDOW,
): Promise<RangeEvidence> {
  const total = count * bs;
  const headers: CarvedHeader[] = [];
  const texts: CarvedText[] = [];
  const rejected = new Rejections();
  const progress = throttle(opts.onProgress);
  let done = 0;
  const pending: { block: number; head: Promise<Uint8Array | null> | null }[] = [];
  const look = async () => {
    const { block, head } = pending.shift()!;
    const h = await head;
    const header = h ? probeHeaderRemnant(h, volSize) : null;
    if (header && 'format' in header) headers.push({ block, header });
    else if (header) rejected.add(header.kind, block * bs, header.reason);
    else if (h && texts.length < MAX_REMNANTS) {
      const kind = textKindOf(h);
      if (kind) texts.push({ block, kind });
    }
    done += bs;
    if ((done / bs) % WINDOW === 0) progress({ phase: 'carve free space', done, total });
  };
  progress({ phase: 'carve free space', done: 0, total });
  // Node reads block heads synchronously (page-cache preads): without a macrotask turn now and then
  // the loop would not see a SIGINT or a cancel until the whole range is done.
  const breathe = breather(50);
  for (const b of blocks) {
    const h = head(b);
    h?.catch(() => {}); // awaited in look(); a cancel may leave some unread
    pending.push({ block: b, head: h });
    if (pending.length >= Math.max(1, window())) {
      await breathe();
      throwIfAborted(opts.signal);
      while (pending.length) await look();
    }
  }
  throwIfAborted(opts.signal);
  while (pending.length) await look();
  progress({ phase: 'carve free space', done, total });
  return { range: { startBlock: range.startBlock, endBlock: range.endBlock }, freeBlocks: total / bs, freeBytes: total, headers, texts, rejected: rejected.list, rejectedCount: rejected.count };
}

/**
 * Merges range results into the single-pass answer: headers in block order, one per block
 * (overlapping ranges are tolerated). Ranges must together cover the volume for that to hold;
 * `missingRanges` says which blocks no result covers.
 */
export function mergeCarved(results: readonly RangeEvidence[]): CarvedHeader[] {
  const byBlock = new Map<number, CarvedHeader>();
  for (const r of results) for (const h of r.headers) if (!byBlock.has(h.block)) byBlock.set(h.block, h);
  return [...byBlock.values()].sort((a, b) => a.block - b.block);
}

/** Text remnants of every range result, one per block, in block order (see mergeCarved). */
export function mergeCarvedTexts(results: readonly RangeEvidence[]): CarvedText[] {
  const byBlock = new Map<number, CarvedText>();
  for (const r of results) for (const t of r.texts ?? []) if (!byBlock.has(t.block)) byBlock.set(t.block, t);
  return [...byBlock.values()].sort((a, b) => a.block - b.block);
}

/** Rejected remnants of every range result (see mergeCarved): the first MAX_REJECTED by volume offset, and the total. */
export function mergeCarvedRejected(results: readonly RangeEvidence[]): { rejected: RejectedRemnant[]; rejectedCount: number } {
  const r = new Rejections().merge(results);
  return { rejected: r.list, rejectedCount: r.count };
}

/** Block ranges of [0, totalBlocks) that no result covers (empty when the merge is complete). */
export function missingRanges(results: readonly RangeEvidence[], totalBlocks: number): FreeRange[] {
  const sorted = results.map((r) => r.range).sort((a, b) => a.startBlock - b.startBlock);
  const out: FreeRange[] = [];
  let at = 0;
  for (const r of sorted) {
    if (r.startBlock > at) out.push({ startBlock: at, endBlock: Math.min(r.startBlock, totalBlocks) });
    at = Math.max(at, r.endBlock);
  }
  if (at < totalBlocks) out.push({ startBlock: at, endBlock: totalBlocks });
  return out;
}
