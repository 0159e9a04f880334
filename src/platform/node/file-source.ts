import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { OutOfRangeError } from '../../core/errors.js';
import { checkRange } from '../../core/io/byte-source.js';
import type { SyncReadIntoSource } from '../../core/io/read-into.js';

/**
 * Reads up to this size are synchronous preads. Metadata reads (FDs, cluster headers, directory
 * and PE tables) are small and come one after another: an async read costs a thread-pool hop and
 * two wake-ups each, which on a loaded machine take longer than the copy itself (a C tool opens a
 * 64 TiB volume in a few hundred preads and no hops). Bulk reads (cat, exports) stay async, so
 * they overlap with writing and hashing.
 */
const SYNC_READ_MAX = 1 << 20;

/** A ByteSource over a local file, read with positional reads (never the whole file). */
export class NodeFileSource implements SyncReadIntoSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly name: string,
    /** The file's path as opened (other threads open it again by this path). */
    readonly path: string,
  ) {}

  static async open(path: string, name = path): Promise<NodeFileSource> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new NodeFileSource(fh, st.size, name, path);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    await this.readInto(offset, buf);
    return buf;
  }

  /** Fills the caller's (reused, ideally page-aligned) buffer: bulk copies avoid a fresh array per read. */
  async readInto(offset: number, dest: Uint8Array): Promise<void> {
    if (dest.length <= SYNC_READ_MAX) return this.readIntoSync(offset, dest);
    checkRange(this, offset, dest.length);
    let done = 0;
    while (done < dest.length) {
      const bytesRead = (await this.fh.read(dest, done, dest.length - done, offset + done)).bytesRead;
      this.checkRead(bytesRead, offset + done);
      done += bytesRead;
    }
  }

  /** readInto as synchronous preads (a streamed scan's chunks: no promise per chunk). */
  readIntoSync(offset: number, dest: Uint8Array): void {
    checkRange(this, offset, dest.length);
    let done = 0;
    while (done < dest.length) {
      const bytesRead = readSync(this.fh.fd, dest, done, dest.length - done, offset + done);
      this.checkRead(bytesRead, offset + done);
      done += bytesRead;
    }
  }

  private checkRead(bytesRead: number, at: number): void {
    // The file shrank under us (size is taken at open): a truncated source, reported as such.
    if (bytesRead === 0) throw new OutOfRangeError(`${this.name}: unexpected end of file at 0x${at.toString(16)}`);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
