import { OutOfRangeError } from '../errors.js';
import { findRun } from '../util/runs.js';

/**
 * An async, positional, read-only view of bytes: a file, a slice of a dump, a file inside a VMFS
 * volume, a merged virtual disk. Every layer of the project takes one and gives one.
 *
 * Contract: `read(offset, length)` resolves to exactly `length` bytes, or rejects with
 * OutOfRangeError when [offset, offset + length) is not inside [0, size). Sizes and offsets are
 * JS numbers: exact up to 2^53 bytes (8 PiB), far beyond any VMFS volume (64 TiB).
 * A returned buffer may be shared with a cache: callers must not modify it.
 */
export interface ByteSource {
  readonly size: number;
  /** Human-readable origin, used in error messages. */
  readonly name: string;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Largest single read the core ever asks for; guards allocations driven by on-disk numbers. */
export const MAX_READ = 256 * 1024 * 1024;

export function checkRange(src: { size: number; name: string }, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    length > MAX_READ ||
    offset + length > src.size
  ) {
    throw new OutOfRangeError(
      `read past end of ${src.name}: offset 0x${safeHex(offset)} length 0x${safeHex(length)} size 0x${safeHex(src.size)}`,
    );
  }
}

function safeHex(n: number): string {
  return Number.isFinite(n) ? Math.trunc(n).toString(16) : String(n);
}

/** Bytes held in memory (tests, small decompressed grains, descriptors). */
export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'memory',
  ) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** Reads as zeros: holes, ZERO extents, missing pieces replaced on purpose. */
export class ZeroSource implements ByteSource {
  constructor(
    readonly size: number,
    readonly name = 'zeros',
  ) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return new Uint8Array(length);
  }
}

/** A window [start, start + size) of another source. */
export class SliceSource implements ByteSource {
  constructor(
    readonly inner: ByteSource,
    readonly start: number,
    readonly size: number,
    readonly name = `${inner.name}[0x${start.toString(16)}+0x${size.toString(16)}]`,
  ) {
    if (start < 0 || size < 0 || start + size > inner.size) {
      throw new OutOfRangeError(`slice 0x${start.toString(16)}+0x${size.toString(16)} is outside ${inner.name}`);
    }
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.inner.read(this.start + offset, length);
  }
}

/** One piece of an ExtentSource: `length` bytes at `offset` come from `source` at `sourceOffset`, or are zero. */
export interface SourceRun {
  offset: number;
  length: number;
  source: ByteSource | null; // null = zeros
  sourceOffset: number;
}

/**
 * A source assembled from runs (LVM volumes over devices, a file over its blocks, a recovered
 * delta over the free blocks found). Runs must be sorted, non-overlapping and cover [0, size);
 * the constructor checks this once so reads can binary-search.
 */
export class ExtentSource implements ByteSource {
  private readonly starts: number[];
  constructor(
    private readonly runs: readonly SourceRun[],
    readonly size: number,
    readonly name = 'extents',
  ) {
    let pos = 0;
    for (const r of runs) {
      if (r.offset !== pos || r.length <= 0) throw new OutOfRangeError(`${name}: runs leave a gap or overlap at 0x${pos.toString(16)}`);
      if (r.source && r.sourceOffset + r.length > r.source.size) {
        throw new OutOfRangeError(`${name}: run at 0x${r.offset.toString(16)} reaches past the end of ${r.source.name}`);
      }
      pos += r.length;
    }
    if (pos !== size) throw new OutOfRangeError(`${name}: runs cover 0x${pos.toString(16)} bytes, expected 0x${size.toString(16)}`);
    this.starts = runs.map((r) => r.offset);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    let i = findRun(this.starts, offset);
    const first = this.runs[i]!;
    // Fast path: the whole read lies in one run.
    if (offset + length <= first.offset + first.length) {
      return first.source ? first.source.read(first.sourceOffset + (offset - first.offset), length) : new Uint8Array(length);
    }
    const out = new Uint8Array(length);
    let pos = offset;
    while (pos < offset + length) {
      const r = this.runs[i++]!;
      const n = Math.min(r.offset + r.length, offset + length) - pos;
      if (r.source) out.set(await r.source.read(r.sourceOffset + (pos - r.offset), n), pos - offset);
      pos += n;
    }
    return out;
  }
}

/** Most blocks one read-ahead of CachedSource spans (1 MiB of 64 KiB blocks). */
const MAX_AHEAD = 16;

/**
 * A bounded LRU cache of aligned blocks in front of a slow source (metadata reads through a
 * VMFS file, grain tables). Large reads bypass the cache so bulk copies do not evict metadata.
 */
export class CachedSource implements ByteSource {
  readonly size: number;
  readonly name: string;
  private readonly cache = new Map<number, Promise<Uint8Array>>();
  constructor(
    private readonly inner: ByteSource,
    private readonly blockSize = 64 * 1024,
    private readonly maxBlocks = 256,
  ) {
    this.size = inner.size;
    this.name = inner.name;
  }

  /** The block a sequential pass would miss next, and how many blocks the last miss read. */
  private nextMiss = -1;
  private ahead = 1;

  private block(index: number): Promise<Uint8Array> {
    const hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
      this.cache.set(index, hit);
      return hit;
    }
    // Read-ahead: a miss right after the previous miss's blocks is a sequential pass (a metadata
    // walk over .fdc.sf), so the span read doubles each time up to MAX_AHEAD blocks. Each read is a
    // round trip for a browser Blob, and waits behind every other read in flight.
    this.ahead = index === this.nextMiss ? Math.min(this.ahead * 2, MAX_AHEAD, Math.max(1, this.maxBlocks >> 2)) : 1;
    const total = Math.ceil(this.size / this.blockSize);
    let n = 1;
    while (n < this.ahead && index + n < total && !this.cache.has(index + n)) n++;
    this.nextMiss = index + n;
    const start = index * this.blockSize;
    const span = this.inner.read(start, Math.min(n * this.blockSize, this.size - start));
    let first!: Promise<Uint8Array>;
    for (let k = 0; k < n; k++) {
      const o = k * this.blockSize;
      // A view into a larger buffer (a slice of a big read below us) is copied, so a cached block pins only itself.
      const p = span.then((b) => (n === 1 && b.byteLength === b.buffer.byteLength ? b : b.slice(o, Math.min(o + this.blockSize, b.byteLength))));
      if (k === 0) first = p;
      this.cache.set(index + k, p);
      p.catch(() => this.cache.delete(index + k));
    }
    while (this.cache.size > this.maxBlocks) this.cache.delete(this.cache.keys().next().value as number);
    return first;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length > this.blockSize * 4) return this.inner.read(offset, length);
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / this.blockSize);
    if (first === last) {
      const b = await this.block(first);
      const o = offset - first * this.blockSize;
      return b.subarray(o, o + length);
    }
    const out = new Uint8Array(length);
    for (let i = first; i <= last; i++) {
      const b = await this.block(i);
      const bStart = i * this.blockSize;
      const from = Math.max(offset, bStart);
      const to = Math.min(offset + length, bStart + b.length);
      out.set(b.subarray(from - bStart, to - bStart), from - offset);
    }
    return out;
  }
}

/** Reads `length` bytes, or fewer when the source ends first (for probing headers of short files). */
export async function readUpTo(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  if (offset >= src.size) return new Uint8Array(0);
  return src.read(offset, Math.min(length, src.size - offset));
}
