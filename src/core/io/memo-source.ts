import { checkRange, type ByteSource } from './byte-source.js';

/**
 * A bounded LRU of exact small reads (same offset, same length) in front of a source, for passes
 * that repeat the very reads of an earlier pass: the scan builds its candidates several times (a
 * provisional list from metadata, again as free-space ranges land, then the final list) and each
 * build reads the same delta headers and grain tables. In a browser every read is a round trip
 * through the IO thread, so the final build then costs almost no reads. Unlike CachedSource, no
 * read is widened to a block (a 2 KiB header probe stays 2 KiB). Reads above `maxRead` pass
 * through uncached, so bulk copies neither fill nor evict it. Every caller gets a buffer of its
 * own (a copy of at most `maxRead` bytes, nothing beside a round trip): what reads through a
 * candidate later (an export) may keep, change or transfer it without touching the memo.
 */
export class MemoSource implements ByteSource {
  readonly size: number;
  readonly name: string;
  /** Reads by `offset+length`, least recently used first; the memo's own buffers are never handed out. */
  private readonly memo = new Map<string, { read: Promise<Uint8Array>; length: number }>();
  private bytes = 0;

  constructor(
    private readonly inner: ByteSource,
    private readonly maxBytes = 8 * 1024 * 1024,
    private readonly maxRead = 64 * 1024,
  ) {
    this.size = inner.size;
    this.name = inner.name;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      checkRange(this, offset, length);
    } catch (e) {
      return Promise.reject(e); // as the async sources do: a bad range is a rejection, not a throw
    }
    if (length > this.maxRead) return this.inner.read(offset, length);
    const key = `${offset}+${length}`;
    let entry = this.memo.get(key);
    if (entry) this.memo.delete(key);
    else {
      // A view into a larger buffer (an inner cache's block) is copied, so an entry pins only itself.
      const read = this.inner.read(offset, length).then((b) => (b.byteLength === b.buffer.byteLength ? b : b.slice()));
      entry = { read, length };
      this.bytes += length;
      // A failed read is not remembered: the next caller tries again (and gets its own error).
      read.catch(() => {
        if (this.memo.get(key)?.read === read) {
          this.memo.delete(key);
          this.bytes -= length;
        }
      });
    }
    this.memo.set(key, entry);
    for (const [k, e] of this.memo) {
      if (this.bytes <= this.maxBytes) break;
      this.memo.delete(k);
      this.bytes -= e.length;
    }
    return entry.read.then((b) => b.slice());
  }
}
