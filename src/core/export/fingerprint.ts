import { crc32 as tableCrc32 } from '../util/crc32.js';
import { isAllZero } from '../util/struct.js';
import type { StreamHasher } from './stream-hasher.js';

/** CRC-32 (IEEE) of `data` continuing from `previous` (zlib's native one on Node). */
export type Crc32Fn = (data: Uint8Array, previous: number) => number;
/** Whether every byte of `b` is zero (a native compare on Node). */
export type ZeroTestFn = (b: Uint8Array) => boolean;

/** Block of the fingerprint: all-zero blocks are skipped, so holes cost nothing. */
export const FINGERPRINT_BLOCK = 64 * 1024;

const ZEROS = new Uint8Array(FINGERPRINT_BLOCK);

/**
 * What the verify pass compares the read-back output with, instead of a second SHA-256: a CRC-32
 * over every 64 KiB-aligned block of the logical disk that is not all zeros, each prefixed with
 * its block number, plus the count of such blocks and the disk length. It depends only on the
 * logical bytes (not on how reads were cut), so the export pass (fed the source's pieces) and the
 * verify pass (fed the output read back through our readers) agree exactly when the output holds
 * the same disk: a changed, lost, added or misplaced byte changes it, except for a 2^-32 chance
 * of a CRC collision (CRC-32 catches every burst of up to 32 bits). A StreamHasher, fed in order.
 */
export class DiskFingerprint implements StreamHasher {
  private pos = 0;
  private crc = 0;
  private blocks = 0;
  /** CRC of the unfinished block so far (its number included), and whether it holds a non-zero byte. */
  private part = 0;
  private partNonZero = false;
  private readonly head = new Uint8Array(8);
  private readonly headView = new DataView(this.head.buffer);

  constructor(
    private readonly crc32: Crc32Fn = tableCrc32,
    private readonly isZero: ZeroTestFn = isAllZero,
  ) {}

  private numbered(block: number, previous: number): number {
    this.headView.setFloat64(0, block, true);
    return this.crc32(this.head, previous);
  }

  /** Bytes of a block the input cut (or a zero run ending inside a block): folded in once the block is complete. */
  private partial(s: Uint8Array, zeros: boolean): void {
    const inBlock = this.pos % FINGERPRINT_BLOCK;
    if (inBlock === 0) {
      this.part = this.numbered(this.pos / FINGERPRINT_BLOCK, this.crc);
      this.partNonZero = false;
    }
    this.part = this.crc32(s, this.part);
    if (!zeros && !this.partNonZero && !this.isZero(s)) this.partNonZero = true;
    this.pos += s.length;
    if (inBlock + s.length === FINGERPRINT_BLOCK) this.closePart();
  }

  private closePart(): void {
    if (this.partNonZero) {
      this.crc = this.part;
      this.blocks++;
    }
    this.partNonZero = false;
  }

  update(data: Uint8Array): void {
    for (let i = 0; i < data.length; ) {
      const n = Math.min(FINGERPRINT_BLOCK - (this.pos % FINGERPRINT_BLOCK), data.length - i);
      const s = data.subarray(i, i + n);
      if (n === FINGERPRINT_BLOCK) {
        if (!this.isZero(s)) {
          this.crc = this.crc32(s, this.numbered(this.pos / FINGERPRINT_BLOCK, this.crc));
          this.blocks++;
        }
        this.pos += n;
      } else this.partial(s, false);
      i += n;
    }
  }

  zeros(n: number): void {
    while (n > 0) {
      const inBlock = this.pos % FINGERPRINT_BLOCK;
      // Whole zero blocks add nothing: a TiB hole is one step.
      if (inBlock === 0 && n >= FINGERPRINT_BLOCK) {
        const k = n - (n % FINGERPRINT_BLOCK);
        this.pos += k;
        n -= k;
        continue;
      }
      const k = Math.min(FINGERPRINT_BLOCK - inBlock, n);
      this.partial(ZEROS.subarray(0, k), true);
      n -= k;
    }
  }

  /** `<crc32 hex>-<non-zero blocks>-<length>`; a short last block is folded in here. */
  digestHex(): string {
    if (this.pos % FINGERPRINT_BLOCK !== 0) this.closePart();
    return `${this.crc.toString(16).padStart(8, '0')}-${this.blocks}-${this.pos}`;
  }
}

/** Feeds one stream of pieces to two hashers (the export's SHA-256 and its fingerprint). */
export function teeHasher(a: StreamHasher, b: StreamHasher): StreamHasher {
  return {
    update(data) {
      const r = a.update(data);
      b.update(data);
      return r;
    },
    zeros(n) {
      const r = a.zeros(n);
      b.zeros(n);
      return r;
    },
    digestHex: () => a.digestHex(),
    dispose: () => {
      a.dispose?.();
      b.dispose?.();
    },
  };
}
