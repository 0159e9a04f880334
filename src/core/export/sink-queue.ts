import type { ByteSink } from '../io/byte-sink.js';

/**
 * A ByteSink front that keeps a few writes in flight (so the next read and hash overlap them)
 * while bounding memory: write() waits once `maxInflight` writes or `maxInflightBytes` are pending. The first failure is
 * re-thrown by the next write() or drain().
 */
export class QueuedSink {
  private readonly pending = new Set<Promise<void>>();
  private failure: unknown = null;
  private pendingBytes = 0;
  bytesWritten = 0;
  constructor(
    readonly sink: ByteSink,
    private readonly maxInflight = 4,
    private readonly maxInflightBytes = 16 * 1024 * 1024,
  ) {}

  /** Queues a write; `onWritten` runs once the sink is done with `data` (written or failed). */
  async write(offset: number, data: Uint8Array, onWritten?: () => void): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.pending.size >= this.maxInflight || (this.pending.size > 0 && this.pendingBytes + data.length > this.maxInflightBytes)) {
      await Promise.race(this.pending);
    }
    if (this.failure) throw this.failure;
    this.pendingBytes += data.length;
    const p: Promise<void> = this.sink.write(offset, data).then(
      () => {
        this.bytesWritten += data.length;
        this.pendingBytes -= data.length;
        this.pending.delete(p);
        onWritten?.();
      },
      (e: unknown) => {
        this.failure ??= e;
        this.pendingBytes -= data.length;
        this.pending.delete(p);
        onWritten?.();
      },
    );
    this.pending.add(p);
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.race(this.pending);
    if (this.failure) throw this.failure;
  }
}

/**
 * Sequential output at a growing position, gathered into big writes (hosted sparse grains, stream
 * records). Appended bytes are copied into the batch, so the caller may reuse its buffer at once;
 * batch buffers are recycled once their write is done (no allocation per batch).
 */
export class Appender {
  private buf: Uint8Array | null = null;
  private fill = 0;
  private readonly spare: Uint8Array[] = [];
  private start: number;
  constructor(
    private readonly out: QueuedSink,
    /** File offset of the next appended byte. */
    public position: number,
    private readonly batchBytes = 2 * 1024 * 1024,
  ) {
    this.start = position;
  }

  async append(data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length; ) {
      this.buf ??= this.spare.pop() ?? new Uint8Array(this.batchBytes);
      const k = Math.min(this.batchBytes - this.fill, data.length - off);
      this.buf.set(data.subarray(off, off + k), this.fill);
      this.fill += k;
      off += k;
      this.position += k;
      if (this.fill === this.batchBytes) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return;
    const buf = this.buf!;
    const at = this.start;
    const n = this.fill;
    this.buf = null;
    this.fill = 0;
    this.start = this.position;
    await this.out.write(at, buf.subarray(0, n), () => this.spare.push(buf));
  }
}
