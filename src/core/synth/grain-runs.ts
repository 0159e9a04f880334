/**
 * Grain runs: what a synthetic snapshot delta stores, described as runs of consecutive grains with
 * deterministic content, so the expected disk can be computed without any reader.
 */

export const SECTOR = 512;

/** Fills `buf` with the content of the virtual bytes starting at `virtualOffset` (a sector multiple). */
export type Fill = (buf: Uint8Array, virtualOffset: number) => void;

/**
 * A run of consecutive grains the delta stores: data (from `bytes`, or from `fill`), zeroed
 * (COWD GTE 1 / seSparse type 2) or, for seSparse only, SCSI-unmapped (type 1).
 */
export interface GrainRun {
  firstGrain: number;
  count: number;
  kind: 'data' | 'zero' | 'unmapped';
  /** count × grain bytes of content (small, in-memory runs). */
  bytes?: Uint8Array;
  fill?: Fill;
}

/**
 * Deterministic per-sector content: every sector differs (its LBA and a seed are mixed in), so a
 * read from the wrong place changes the hash. Independent of our reader.
 */
export function sectorPattern(seed: number): Fill {
  return (buf, virtualOffset) => {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
    for (let s = 0; s < words.length; s += 128) {
      const lba = (virtualOffset >>> 9) + (s >>> 7);
      let x = (Math.imul(lba ^ seed, 0x9e3779b1) ^ seed) >>> 0;
      for (let w = s; w < s + 128 && w < words.length; w++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[w] = x >>> 0;
      }
    }
  };
}

/** Emits the content of data grains of `run` in pieces of ≤ `maxBytes`: (grain index, buffer). */
export function* runContent(run: GrainRun, grainBytes: number, maxBytes = 4 * 1024 * 1024): Generator<[number, Uint8Array]> {
  const per = Math.max(1, Math.floor(maxBytes / grainBytes));
  for (let i = 0; i < run.count; i += per) {
    const n = Math.min(per, run.count - i);
    const g = run.firstGrain + i;
    if (run.bytes) {
      yield [g, run.bytes.subarray(i * grainBytes, (i + n) * grainBytes)];
    } else {
      const buf = new Uint8Array(n * grainBytes);
      run.fill?.(buf, g * grainBytes);
      yield [g, buf];
    }
  }
}
