/** Compared against, never written: a native memcmp is several times the JS word scan. */
const ZEROS = Buffer.alloc(1024 * 1024);

/** Whether `b` is all zeros, by memcmp against a shared zero block (no allocation). */
export function nativeIsZero(b: Uint8Array): boolean {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (ZEROS.compare(b, off, off + n, 0, n) !== 0) return false;
  }
  return true;
}
