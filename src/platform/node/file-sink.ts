import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { ByteSink } from '../../core/io/byte-sink.js';

/**
 * Writes to `<path>.partial-<pid>` and renames onto `path` on close(), so an export that fails or
 * is cancelled never leaves a half-written file under the final name. Skipped ranges stay holes
 * (the file is sparse where the file system supports it).
 */
export class NodeFileSink implements ByteSink {
  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    readonly name: string,
  ) {}

  static async create(path: string): Promise<NodeFileSink> {
    const tmp = `${path}.partial-${process.pid}`;
    const fh = await open(tmp, 'w');
    return new NodeFileSink(fh, tmp, path);
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
    await rename(this.tmp, this.name);
  }
  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}
