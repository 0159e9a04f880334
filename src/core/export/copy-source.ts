import { CancelledError, RescueError, throwIfAborted } from '../errors.js';
import { createSha256, type HasherFactory } from '../hash/sha256.js';
import type { ByteSink } from '../io/byte-sink.js';
import type { ByteSource } from '../io/byte-source.js';
import type { JobOptions } from '../progress.js';
import { isAllZero } from '../util/struct.js';

export interface CopyOptions extends JobOptions {
  hasher?: HasherFactory;
  /** Bytes per read; bounded so memory stays flat whatever the file size. */
  chunkSize?: number;
}

export interface CopyResult {
  sha256: string;
  bytes: number;
  /** Bytes actually written (all-zero chunks are left as holes and restored by truncate). */
  bytesWritten: number;
}

const DEFAULT_CHUNK = 4 * 1024 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;

/**
 * Streams a ByteSource into a ByteSink (a plain file copied out of a datastore) and hashes it on
 * the way. One read is kept in flight while the previous chunk is hashed and written. All-zero
 * chunks are not written (the final truncate restores them, sparse where the sink allows). On any
 * error or cancel the sink is aborted, so no partial file is left under the final name.
 */
export async function copySourceToSink(src: ByteSource, sink: ByteSink, opts: CopyOptions = {}): Promise<CopyResult> {
  const chunk = Math.max(4096, Math.min(MAX_CHUNK, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK)));
  const h = (opts.hasher ?? createSha256)();
  const total = src.size;
  const progress = opts.onProgress;
  let written = 0;
  const readAt = (off: number): Promise<Uint8Array> => src.read(off, Math.min(chunk, total - off));
  try {
    throwIfAborted(opts.signal);
    progress?.({ phase: 'copy', done: 0, total });
    let next: Promise<Uint8Array> | null = total > 0 ? readAt(0) : null;
    for (let off = 0; off < total; ) {
      const data = await next!;
      const end = off + data.length;
      // Start the next read before hashing and writing this chunk.
      next = end < total ? readAt(end) : null;
      next?.catch(() => {}); // an abandoned read-ahead (error below) must not be an unhandled rejection
      throwIfAborted(opts.signal);
      h.update(data);
      if (!isAllZero(data)) {
        await sink.write(off, data);
        written += data.length;
      }
      off = end;
      progress?.({ phase: 'copy', done: off, total });
    }
    throwIfAborted(opts.signal);
    await sink.truncate(total);
    await sink.close();
  } catch (e) {
    await sink.abort().catch(() => {});
    if (!(e instanceof RescueError) && (e as { name?: string })?.name === 'AbortError') throw new CancelledError();
    throw e;
  }
  return { sha256: h.digestHex(), bytes: total, bytesWritten: written };
}
