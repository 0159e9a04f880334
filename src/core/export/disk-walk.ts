import { throwIfAborted } from '../errors.js';
import { isAllZero } from '../util/struct.js';
import { SliceSource, type ByteSource } from '../io/byte-source.js';
import { bulkBuffer, canReadInto, readInto } from '../io/read-into.js';
import type { DiskChain } from '../vmdk/disk-chain.js';

/**
 * One piece of the logical disk, in order: `data` holds its bytes, or is null when the chain says
 * zeros there (an explicit zero extent or a hole no layer stores). Pieces cover [0, size) exactly.
 */
export interface Piece {
  offset: number;
  length: number;
  data: Uint8Array | null;
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Span resolved per DiskChain.mapRange call: big, so holes cost one metadata walk each. */
  windowBytes?: number;
  /** Largest single data read (bounded memory). */
  chunkBytes?: number;
  /** Data reads kept in flight ahead of the consumer, so I/O overlaps hashing and writing. */
  readAhead?: number;
  /** Bytes of data reads kept in flight (many small extents still fill the pipeline). */
  readAheadBytes?: number;
  /**
   * Read into a few recycled buffers instead of a fresh array per read (fresh multi-MiB arrays
   * cost page faults, zeroing and GC: more than the copy out of the page cache). A piece's data
   * is then valid only until the consumer asks for the next piece.
   */
  reuseBuffers?: boolean;
}

export const WALK_WINDOW = 64 * 1024 * 1024;
export const WALK_CHUNK = 1 * 1024 * 1024;
export const WALK_READ_AHEAD = 16;
export const WALK_READ_AHEAD_BYTES = 8 * 1024 * 1024;

interface Planned {
  offset: number;
  length: number;
  source: ByteSource | null;
  sourceOffset: number;
}

/** Plans the pieces: only data extents become reads; zero and hole runs are merged across windows. */
async function* plan(disk: DiskChain, window: number, chunk: number, signal: AbortSignal | undefined): AsyncGenerator<Planned> {
  let pendingZero: Planned | null = null;
  for (let w = 0; w < disk.size; w += window) {
    throwIfAborted(signal);
    const extents = await disk.mapRange(w, Math.min(window, disk.size - w));
    for (const e of extents) {
      if (e.kind !== 'data') {
        if (pendingZero && pendingZero.offset + pendingZero.length === e.offset) pendingZero.length += e.length;
        else {
          if (pendingZero) yield pendingZero;
          pendingZero = { offset: e.offset, length: e.length, source: null, sourceOffset: 0 };
        }
        continue;
      }
      if (pendingZero) {
        yield pendingZero;
        pendingZero = null;
      }
      for (let o = 0; o < e.length; o += chunk) {
        yield { offset: e.offset + o, length: Math.min(chunk, e.length - o), source: e.source, sourceOffset: e.sourceOffset + o };
      }
    }
  }
  if (pendingZero) yield pendingZero;
}

/** Whether reads can land in our buffer (else a recycled buffer would only add a copy of each read). */
function fillsBuffers(src: ByteSource): boolean {
  while (src instanceof SliceSource) src = src.inner;
  return canReadInto(src);
}

/**
 * Streams the logical disk as pieces with at most `readAhead` data reads of `chunkBytes` in flight.
 * Only allocated (data) ranges are read; zero/hole ranges cost nothing but their mapping.
 */
export async function* walkDisk(disk: DiskChain, opts: WalkOptions = {}): AsyncGenerator<Piece> {
  const window = opts.windowBytes ?? WALK_WINDOW;
  const chunk = opts.chunkBytes ?? WALK_CHUNK;
  const ahead = Math.max(1, opts.readAhead ?? WALK_READ_AHEAD);
  const aheadBytes = Math.max(chunk, opts.readAheadBytes ?? WALK_READ_AHEAD_BYTES);
  const planner = plan(disk, window, chunk, opts.signal);
  const queue: Promise<{ piece: Piece; buf?: Uint8Array }>[] = [];
  let inflight = 0; // data reads in the queue
  let inflightBytes = 0;
  let exhausted = false;
  // Recycled read buffers (reuseBuffers): at most one per read in flight plus the consumer's.
  const pool: Uint8Array[] = [];
  const start = (p: Planned): Promise<{ piece: Piece; buf?: Uint8Array }> => {
    if (!p.source) return Promise.resolve({ piece: { offset: p.offset, length: p.length, data: null } });
    inflight++;
    inflightBytes += p.length;
    let read: Promise<{ piece: Piece; buf?: Uint8Array }>;
    if (opts.reuseBuffers && fillsBuffers(p.source)) {
      const buf = pool.pop() ?? bulkBuffer(chunk);
      const data = buf.subarray(0, p.length);
      read = readInto(p.source, p.sourceOffset, data).then(() => ({ piece: { offset: p.offset, length: p.length, data }, buf }));
    } else {
      read = p.source.read(p.sourceOffset, p.length).then((data) => ({ piece: { offset: p.offset, length: p.length, data } }));
    }
    // Queued reads may reject before they are awaited; the rejection is re-thrown in order below.
    read.catch(() => {});
    return read;
  };
  try {
    for (;;) {
      while (!exhausted && inflight < ahead && inflightBytes < aheadBytes && queue.length < ahead * 64) {
        const next = await planner.next();
        if (next.done) exhausted = true;
        else queue.push(start(next.value));
      }
      const head = queue.shift();
      if (!head) return;
      const { piece, buf } = await head;
      if (piece.data) {
        inflight--;
        inflightBytes -= piece.length;
      }
      throwIfAborted(opts.signal);
      yield piece;
      // The consumer asked for the next piece: it is done with this one's buffer.
      if (buf) pool.push(buf);
    }
  } finally {
    await planner.return(undefined);
  }
}

/** Granule of zero detection inside data pieces: disk-aligned, so holes match file-system blocks and sparse grains. */
export const ZERO_BLOCK = 64 * 1024;

/**
 * Splits a data piece into runs of all-zero and non-zero `block`-aligned blocks: zero runs come
 * back with `data` null, like holes, so writers leave them sparse and hashers hash them without
 * copying. Non-zero runs are views of the piece's bytes (no copy).
 */
export function splitZeroRuns(p: Piece, block = ZERO_BLOCK, isZero: (b: Uint8Array) => boolean = isAllZero): Piece[] {
  const d = p.data;
  if (!d || d.length === 0) return [p];
  const out: Piece[] = [];
  let runStart = 0;
  let runZero = false;
  let pos = 0;
  while (pos < d.length) {
    const next = Math.min(d.length, (Math.floor((p.offset + pos) / block) + 1) * block - p.offset);
    const zero = isZero(d.subarray(pos, next));
    if (pos > 0 && zero !== runZero) {
      out.push({ offset: p.offset + runStart, length: pos - runStart, data: runZero ? null : d.subarray(runStart, pos) });
      runStart = pos;
    }
    runZero = zero;
    pos = next;
  }
  out.push({ offset: p.offset + runStart, length: d.length - runStart, data: runZero ? null : d.subarray(runStart) });
  return out;
}
