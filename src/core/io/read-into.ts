import { checkRange, SliceSource, type ByteSource } from './byte-source.js';

/**
 * A source that can fill a caller's buffer. Bulk copies (CLI cat, exports, benches) reuse one
 * buffer instead of allocating a fresh multi-MiB array per read: a fresh array costs page faults,
 * zeroing and GC, which dominate a copy out of the page cache.
 */
export interface ReadIntoSource extends ByteSource {
  /** Fills all of `dest` with bytes [offset, offset + dest.length) — same range rules as read(). */
  readInto(offset: number, dest: Uint8Array): Promise<void>;
}

/** A source that can also fill a buffer synchronously (a local file in Node: a pread). */
export interface SyncReadIntoSource extends ReadIntoSource {
  /** As readInto, synchronously; only for buffers up to a few MiB. */
  readIntoSync(offset: number, dest: Uint8Array): void;
}

/**
 * A synchronous reader of `src` (looking through slices to the device below), or null when it has
 * none. Streamed passes over local files use it to skip a promise per chunk.
 */
export function syncReaderOf(src: ByteSource): ((offset: number, dest: Uint8Array) => void) | null {
  const { dev, shift } = deviceBelow(src);
  const sync = dev as Partial<SyncReadIntoSource>;
  if (typeof sync.readIntoSync !== 'function') return null;
  return (offset, dest) => {
    checkRange(src, offset, dest.length);
    sync.readIntoSync!(offset + shift, dest);
  };
}

export function canReadInto(src: ByteSource): src is ReadIntoSource {
  return typeof (src as Partial<ReadIntoSource>).readInto === 'function';
}

/**
 * Fills `dest` from `src` at `offset`: through the source's readInto when it has one (looking
 * through slices to the device below), else one read() and a copy.
 */
export async function readInto(src: ByteSource, offset: number, dest: Uint8Array): Promise<void> {
  checkRange(src, offset, dest.length);
  const { dev, shift } = deviceBelow(src);
  if (canReadInto(dev)) return dev.readInto(offset + shift, dest);
  dest.set(await dev.read(offset + shift, dest.length));
}

/** The source below any slices of `src`, and where `src`'s offset 0 lies in it. */
function deviceBelow(src: ByteSource): { dev: ByteSource; shift: number } {
  let shift = 0;
  while (src instanceof SliceSource) {
    shift += src.start;
    src = src.inner;
  }
  return { dev: src, shift };
}

/**
 * A buffer for bulk reads, to be reused by its owner across readInto calls. Its data starts 4080
 * bytes into a fresh allocation: glibc places a large allocation 16 bytes past a page boundary, so
 * the data lands page-aligned, and the kernel copies out of the page cache about twice as fast into
 * a page-aligned buffer as into one 16 bytes past a page (measured, Linux x86-64). Elsewhere the
 * shift is harmless.
 */
export function bulkBuffer(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(size + 4096), 4080, size);
}
