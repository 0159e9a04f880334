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

  async write(offset: number, data: Uint8Array): Promise<void> {
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
      },
      (e: unknown) => {
        this.failure ??= e;
        this.pendingBytes -= data.length;
        this.pending.delete(p);
      },
    );
    this.pending.add(p);
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.race(this.pending);
    if (this.failure) throw this.failure;
  }
}

/** Sequential output at a growing position, gathered into big writes (hosted sparse grains, stream records). */
export class Appender {
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
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
    this.parts.push(data);
    this.partsBytes += data.length;
    this.position += data.length;
    if (this.partsBytes >= this.batchBytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.partsBytes === 0) return;
    let buf: Uint8Array;
    if (this.parts.length === 1) buf = this.parts[0]!;
    else {
      buf = new Uint8Array(this.partsBytes);
      let o = 0;
      for (const p of this.parts) {
        buf.set(p, o);
        o += p.length;
      }
    }
    const at = this.start;
    this.parts = [];
    this.partsBytes = 0;
    this.start = this.position;
    await this.out.write(at, buf);
  }
}
