import { throwIfAborted } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
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
  const queue: Promise<Piece>[] = [];
  let inflight = 0; // data reads in the queue
  let inflightBytes = 0;
  let exhausted = false;
  const start = (p: Planned): Promise<Piece> => {
    if (!p.source) return Promise.resolve({ offset: p.offset, length: p.length, data: null });
    inflight++;
    inflightBytes += p.length;
    const read = p.source.read(p.sourceOffset, p.length).then((data) => ({ offset: p.offset, length: p.length, data }));
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
      const piece = await head;
      if (piece.data) {
        inflight--;
        inflightBytes -= piece.length;
      }
      throwIfAborted(opts.signal);
      yield piece;
    }
  } finally {
    await planner.return(undefined);
  }
}
