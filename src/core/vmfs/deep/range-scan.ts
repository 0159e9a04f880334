import { throwIfAborted } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import { bulkBuffer, readInto, syncReaderOf } from '../../io/read-into.js';
import type { Collector } from './collector.js';
import { LANDMARK_SPAN, parseLandmark, type Landmark } from './landmarks.js';

/**
 * One lane of the deep search: every sector start of one dump range looked at for a landmark,
 * streamed through two reused buffers. The same loop runs on the scan's own thread and in other
 * threads (see scan.ts: lanes).
 */

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
/** Reads up to this size are issued after the scan of the chunk before (see scanDumpRange). */
const LATE_READ_MAX = 1 << 20;
export const SECTOR = 512;

export function checkChunkBytes(chunk: number): void {
  if (chunk % 4096 !== 0 || chunk < 4 * LANDMARK_SPAN) throw new RangeError('deepScan: chunkBytes must be a multiple of 4096 and at least 4 landmark spans');
}

/** A lane's two read buffers, reused from range to range. */
export function rangeBuffers(chunk: number): [Uint8Array, Uint8Array] {
  return [bulkBuffer(PREFIX + chunk + LANDMARK_SPAN), bulkBuffer(PREFIX + chunk + LANDMARK_SPAN)];
}

export interface RangeScanOptions {
  chunk: number;
  bufs: [Uint8Array, Uint8Array];
  signal?: AbortSignal;
  /** After each chunk: the dump offset below which every sector start has been scanned. */
  onChunk?: (scannedTo: number) => void;
  /** Called between chunks when it is time to give the event loop a turn (see scan.ts). */
  turn?: () => Promise<void> | null;
}

/**
 * Scans the sector starts of [start, end) of `src` (dump number `source`) into `c`, reading up to
 * LANDMARK_SPAN past `end` where the dump has it, so a landmark that starts in the range is parsed
 * whole. `start` and `end` are sector multiples.
 */
export async function scanDumpRange(src: ByteSource, source: number, start: number, end: number, c: Collector, o: RangeScanOptions): Promise<void> {
  const { chunk, bufs } = o;
  // The range's last chunk also reads LANDMARK_SPAN past its end, where the dump has it.
  const lenAt = (pos: number) => (pos + chunk >= end ? Math.min(end - pos + LANDMARK_SPAN, src.size - pos) : chunk);
  // A local file in Node reads synchronously: no promise per chunk (bench, 8 GiB, this thread
  // alone: 0.63 s of CPU against 0.78 s with a promise per chunk, one run each at load 0.6-1.1).
  const sync = chunk <= LATE_READ_MAX ? syncReaderOf(src) : null;
  const read = (pos: number, k: number): Promise<void> | null => {
    const dest = bufs[k % 2]!.subarray(PREFIX, PREFIX + lenAt(pos));
    if (!sync) return readInto(src, pos, dest);
    sync(pos, dest);
    return null;
  };
  // Reads start at page-aligned dump offsets and land page-aligned after a PREFIX: the sectors of
  // a chunk's last LANDMARK_SPAN bytes (whose parsers need the next chunk) are copied in front of
  // the next chunk and scanned with it, so no byte is read twice. A range that starts mid-page is
  // read from the page and scanned from `start`.
  const first = start - (start % 4096);
  let carry = 0;
  let k = 0;
  let pending: Promise<void> | null = start < end ? read(first, 0) : null;
  for (let pos = first; pos < end; pos += chunk, k++) {
    if (pending) await pending;
    throwIfAborted(o.signal);
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
    scanChunk(cur.subarray(PREFIX - carry + skip, PREFIX + lenAt(pos)), carry + scanned - skip, pos - carry + skip, source, c);
    carry = last ? 0 : chunk - scanned;
    o.onChunk?.(pos + scanned);
    if (!last && !early) pending = read(nextPos, k + 1);
    const t = o.turn?.();
    if (t) await t;
  }
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

/** Parses every sector start in buf[0, n) (buf may extend LANDMARK_SPAN further for parsers). */
export function scanChunk(buf: Uint8Array, n: number, pos: number, source: number, c: { add(source: number, l: Landmark): void }): void {
  const words = new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  const step = SECTOR >>> 2;
  const end = n >>> 2;
  for (let w = nextInteresting(words, 0, end, step); w >= 0; w = nextInteresting(words, w + step, end, step)) {
    const i = w << 2;
    const l = parseLandmark(buf, i, pos + i);
    if (l) c.add(source, l);
  }
}
