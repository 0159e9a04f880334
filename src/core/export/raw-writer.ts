import { isAllZero } from '../util/struct.js';
import type { ByteSink } from '../io/byte-sink.js';
import type { Piece } from './disk-walk.js';
import type { DiskWriter, WriterContext } from './disk-writer.js';
import { QueuedSink } from './sink-queue.js';

/** Zero detection granule inside data pieces, aligned to disk offsets so holes match file-system blocks. */
const ZERO_BLOCK = 64 * 1024;

/**
 * Raw image bytes at their offsets. Zero and hole ranges stay sparse, and so do all-zero 64 KiB
 * blocks inside data (a flat base is "data" everywhere, mostly zeros on a thin disk): only
 * non-zero runs are written.
 */
export class RawImageWriter {
  private readonly q: QueuedSink;
  constructor(
    private readonly sink: ByteSink,
    private readonly capacity: number,
  ) {
    this.q = new QueuedSink(sink, 8);
  }
  async put(p: Piece): Promise<void> {
    const d = p.data;
    if (!d) return;
    let runStart = -1; // start (within d) of the pending non-zero run
    let pos = 0;
    while (pos < d.length) {
      const next = Math.min(d.length, (Math.floor((p.offset + pos) / ZERO_BLOCK) + 1) * ZERO_BLOCK - p.offset);
      if (isAllZero(d.subarray(pos, next))) {
        if (runStart >= 0) await this.q.write(p.offset + runStart, d.subarray(runStart, pos));
        runStart = -1;
      } else if (runStart < 0) runStart = pos;
      pos = next;
    }
    if (runStart >= 0) await this.q.write(p.offset + runStart, d.subarray(runStart));
    // Done with `d` before returning (DiskWriter.releasesData): the reads ahead keep the pipeline busy.
    await this.q.drain();
  }
  async finish(): Promise<void> {
    await this.q.drain();
    await this.sink.truncate(this.capacity);
    await this.sink.close();
  }
  bytesWritten(): number {
    return this.q.bytesWritten;
  }
}

export async function createRawWriter(ctx: WriterContext): Promise<DiskWriter> {
  const w = new RawImageWriter(await ctx.create(ctx.fileName), ctx.capacity);
  return {
    files: [ctx.fileName],
    releasesData: true,
    put: (p) => w.put(p),
    finish: () => w.finish(),
    bytesWritten: () => w.bytesWritten(),
  };
}
