import { createSha256, type HasherFactory } from '../../hash/sha256.js';

/**
 * What a file must read as, described independently of any reader: a list of non-zero pieces
 * (deterministic pseudo-random bytes from a seed) over a background of zeros.
 */
export interface DataPiece {
  /** Offset in the file. */
  offset: number;
  length: number;
  seed: number;
}

/** xorshift32-filled bytes: cheap, deterministic, never all-zero. */
export function pattern(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 0x9e3779b9;
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = (seed + i) & 0xff | 1;
  return out;
}

/** Expected bytes [offset, offset + length) of a file of `size` bytes made of `pieces`. */
export function expectedBytes(pieces: DataPiece[], size: number, offset: number, length: number): Uint8Array {
  const end = Math.min(size, offset + length);
  const out = new Uint8Array(Math.max(0, end - offset));
  for (const p of pieces) {
    const s = Math.max(p.offset, offset);
    const e = Math.min(p.offset + p.length, end);
    if (s >= e) continue;
    out.set(pattern(p.seed, p.length).subarray(s - p.offset, e - p.offset), s - offset);
  }
  return out;
}

const ZERO = new Uint8Array(1 << 20);

/**
 * sha256 of the whole file, streaming zeros between pieces (no full-size buffer). Node callers pass
 * their native hash: manifests of multi-GiB sparse files hash GiBs of zeros.
 */
export function sha256Of(pieces: DataPiece[], size: number, hasher: HasherFactory = createSha256): string {
  const h = hasher();
  const sorted = [...pieces].sort((a, b) => a.offset - b.offset);
  let pos = 0;
  const zeros = (n: number) => {
    while (n > 0) {
      const k = Math.min(n, ZERO.length);
      h.update(ZERO.subarray(0, k));
      n -= k;
    }
  };
  for (const p of sorted) {
    if (p.offset < pos) throw new Error('builder bug: overlapping pieces');
    if (p.offset >= size) break;
    zeros(p.offset - pos);
    const len = Math.min(p.length, size - p.offset);
    h.update(pattern(p.seed, p.length).subarray(0, len));
    pos = p.offset + len;
  }
  zeros(size - pos);
  return h.digestHex();
}
