import { compress, SHA256_IV } from './sha256-compress.js';

/** A streaming hash. The core uses pure-TypeScript SHA-256; Node may inject its native one for speed. */
export interface Hasher {
  update(data: Uint8Array): void;
  digestHex(): string;
}
export type HasherFactory = () => Hasher;

/** Bytes per SHA-256 block. */
const BLOCK = 64;

/**
 * SHA-256 (FIPS 180-4) over a stream of chunks: whole blocks are compressed straight from the
 * caller's bytes; only a chunk's ragged edges pass through the 64-byte buffer.
 */
export class Sha256 implements Hasher {
  private readonly state = Int32Array.from(SHA256_IV);
  private readonly buf = new Uint8Array(BLOCK);
  private readonly bufView = new DataView(this.buf.buffer);
  private buffered = 0;
  /** Message length in bytes (exact up to 2^53, far beyond any disk). */
  private length = 0;
  private done = false;

  update(data: Uint8Array): void {
    if (this.done) throw new Error('Sha256: update after digest');
    this.length += data.length;
    let pos = 0;
    if (this.buffered > 0) {
      pos = Math.min(BLOCK - this.buffered, data.length);
      this.buf.set(data.subarray(0, pos), this.buffered);
      this.buffered += pos;
      if (this.buffered < BLOCK) return;
      compress(this.state, this.bufView, 0, BLOCK);
      this.buffered = 0;
    }
    const whole = (data.length - pos) & ~(BLOCK - 1);
    if (whole > 0) {
      compress(this.state, new DataView(data.buffer, data.byteOffset, data.byteLength), pos, pos + whole);
      pos += whole;
    }
    if (pos < data.length) {
      this.buf.set(data.subarray(pos), 0);
      this.buffered = data.length - pos;
    }
  }

  digest(): Uint8Array {
    if (this.done) throw new Error('Sha256: digest called twice');
    this.done = true;
    // Padding: 0x80, zeros, then the message length in bits as a big-endian u64 (§5.1.1).
    const bits = this.length * 8;
    const tail = new Uint8Array(this.buffered + 9 <= BLOCK ? BLOCK : 2 * BLOCK);
    tail.set(this.buf.subarray(0, this.buffered));
    tail[this.buffered] = 0x80;
    const dv = new DataView(tail.buffer);
    dv.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    dv.setUint32(tail.length - 4, bits >>> 0);
    compress(this.state, dv, 0, tail.length);
    const out = new Uint8Array(32);
    const o = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) o.setInt32(4 * i, this.state[i]!);
    return out;
  }

  digestHex(): string {
    let s = '';
    for (const b of this.digest()) s += b.toString(16).padStart(2, '0');
    return s;
  }
}

export const createSha256: HasherFactory = () => new Sha256();
