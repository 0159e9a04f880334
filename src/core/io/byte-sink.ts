/**
 * A positional writer for exports: a Node file, a FileSystemWritableFileStream, an OPFS file.
 * Writers call write() in any order; close() commits (rename into place, close the writable),
 * abort() discards everything written (no half-written file is left under the final name).
 */
export interface ByteSink {
  readonly name: string;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Sets the final length (extends with zeros, sparse where the platform allows). */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** In-memory sink for tests and small outputs. */
export class MemorySink implements ByteSink {
  private buf = new Uint8Array(0);
  private length = 0;
  closed = false;
  aborted = false;
  constructor(readonly name = 'memory') {}

  private ensure(n: number): void {
    if (n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(n, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.ensure(offset + data.length);
    this.buf.set(data, offset);
    this.length = Math.max(this.length, offset + data.length);
  }
  async truncate(size: number): Promise<void> {
    this.ensure(size);
    if (size < this.length) this.buf.fill(0, size, this.length);
    this.length = size;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Writes `bytes` as the whole content of `sink` and commits it; on any failure the sink is aborted. */
export async function writeWhole(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  try {
    await sink.write(0, bytes);
    await sink.truncate(bytes.length);
    await sink.close();
  } catch (e) {
    await sink.abort().catch(() => {});
    throw e;
  }
}
