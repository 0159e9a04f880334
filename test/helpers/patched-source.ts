import { checkRange, type ByteSource } from '../../src/core/io/byte-source.js';

/** A source with byte patches laid over it (a memory layer for fuzz cases): the file below is never written. */
export class PatchedSource implements ByteSource {
  readonly size: number;
  readonly name: string;
  constructor(
    private readonly base: ByteSource,
    private readonly patches: readonly { at: number; bytes: Uint8Array }[],
  ) {
    this.size = base.size;
    this.name = base.name;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    let b = await this.base.read(offset, length);
    let copied = false;
    for (const p of this.patches) {
      const s = Math.max(offset, p.at);
      const e = Math.min(offset + length, p.at + p.bytes.length);
      if (s >= e) continue;
      if (!copied) (b = b.slice(), (copied = true));
      b.set(p.bytes.subarray(s - p.at, e - p.at), s - offset);
    }
    return b;
  }
}
