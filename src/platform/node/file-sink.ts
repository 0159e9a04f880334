import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { ByteSink } from '../../core/io/byte-sink.js';

/**
 * Writes to `<path>.partial-<pid>` and renames onto `path` on close() (or, staged, on publish()),
 * so an export that fails or is cancelled never leaves a half-written file under the final name
 * and never truncates what was there before. Skipped ranges stay holes (sparse where the file
 * system supports it).
 */
export class NodeFileSink implements ByteSink {
  private closed = false;
  private published = false;
  private constructor(
    private readonly fh: FileHandle,
    readonly tmp: string,
    readonly name: string,
    private readonly publishOnClose: boolean,
  ) {}

  /** `publishOnClose: false`: close() only closes; the file stays under its temporary name until publish(). */
  static async create(path: string, opts: { publishOnClose?: boolean } = {}): Promise<NodeFileSink> {
    const { fh, tmp } = await openFresh(path);
    return new NodeFileSink(fh, tmp, path, opts.publishOnClose ?? true);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }
  async truncate(size: number): Promise<void> {
    await this.fh.truncate(size);
  }
  async close(): Promise<void> {
    await this.fh.close();
    this.closed = true;
    if (this.publishOnClose) await this.publish();
  }
  /** Moves the closed file onto its final name (atomic within a folder). */
  async publish(): Promise<void> {
    await rename(this.tmp, this.name);
    this.published = true;
  }
  /** Discards the temporary file (before or after close, never once published). */
  async abort(): Promise<void> {
    if (!this.closed) await this.fh.close().catch(() => {});
    this.closed = true;
    if (!this.published) await unlink(this.tmp).catch(() => {});
  }
}

/**
 * Creates the temporary file exclusively ('wx'): whatever already has that name (a stale file, a
 * symlink to some input) is never opened for writing, and another name is tried instead.
 */
async function openFresh(path: string): Promise<{ fh: FileHandle; tmp: string }> {
  for (let attempt = 0; ; attempt++) {
    const tmp = attempt === 0 ? `${path}.partial-${process.pid}` : `${path}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      return { fh: await open(tmp, 'wx'), tmp };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 8) throw e;
    }
  }
}
