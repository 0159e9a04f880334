import type { Piece } from './disk-walk.js';

/**
 * Cuts the ordered pieces of a logical disk into whole grains for the hosted sparse writers.
 * Only grains touched by data are emitted (zero/hole pieces just complete the grain being built);
 * each emitted grain is a full `grainBytes` buffer (the last one zero-padded past the capacity).
 * Aligned full grains are passed through without copying.
 */
export class GrainAssembler {
  private cur: { index: number; buf: Uint8Array } | null = null;
  constructor(
    private readonly capacity: number,
    private readonly grainBytes: number,
    private readonly emit: (index: number, grain: Uint8Array) => Promise<void>,
  ) {}

  private grainEnd(index: number): number {
    return Math.min((index + 1) * this.grainBytes, this.capacity);
  }

  private async flushCur(): Promise<void> {
    const c = this.cur;
    this.cur = null;
    if (c) await this.emit(c.index, c.buf);
  }

  async put(p: Piece): Promise<void> {
    const end = p.offset + p.length;
    if (!p.data) {
      if (this.cur && end >= this.grainEnd(this.cur.index)) await this.flushCur();
      return;
    }
    const G = this.grainBytes;
    let pos = p.offset;
    while (pos < end) {
      const g = Math.floor(pos / G);
      const gStart = g * G;
      const gEnd = this.grainEnd(g);
      const n = Math.min(end, gEnd) - pos;
      const from = pos - p.offset;
      if (this.cur && this.cur.index !== g) await this.flushCur();
      if (!this.cur && pos === gStart && n === G) {
        await this.emit(g, p.data.subarray(from, from + n));
      } else {
        this.cur ??= { index: g, buf: new Uint8Array(G) };
        this.cur.buf.set(p.data.subarray(from, from + n), pos - gStart);
        if (pos + n === gEnd) await this.flushCur();
      }
      pos += n;
    }
  }

  async finish(): Promise<void> {
    await this.flushCur();
  }
}
