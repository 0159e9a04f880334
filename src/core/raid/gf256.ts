/**
 * GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) and generator 2: the field of
 * Linux md's RAID 6 Q syndrome (Q = sum of g^slot · D_slot, byte by byte).
 */
export const GF_EXP = new Uint8Array(512);
export const GF_LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    GF_EXP[i] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) GF_EXP[i] = GF_EXP[i - 255]!;
}

export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : GF_EXP[GF_LOG[a]! + GF_LOG[b]!]!;
}

export function gfInv(a: number): number {
  if (a === 0) throw new Error('gfInv(0)');
  return GF_EXP[255 - GF_LOG[a]!]!;
}

/** g^k for k >= 0. */
export function gfPow2(k: number): number {
  return GF_EXP[k % 255]!;
}

/** A 256-entry table of x -> c · x, so a whole buffer is multiplied with one lookup per byte. */
export function gfMulTable(c: number): Uint8Array {
  const t = new Uint8Array(256);
  for (let x = 1; x < 256; x++) t[x] = gfMul(c, x);
  return t;
}

/** dst ^= c · src. */
export function gfMulXor(dst: Uint8Array, src: Uint8Array, table: Uint8Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! ^= table[src[i]!]!;
}

export function xorInto(dst: Uint8Array, src: Uint8Array): void {
  const n = dst.length;
  if ((dst.byteOffset & 3) === 0 && (src.byteOffset & 3) === 0 && (n & 3) === 0) {
    const d = new Uint32Array(dst.buffer, dst.byteOffset, n >> 2);
    const s = new Uint32Array(src.buffer, src.byteOffset, n >> 2);
    for (let i = 0; i < d.length; i++) d[i]! ^= s[i]!;
    return;
  }
  for (let i = 0; i < n; i++) dst[i]! ^= src[i]!;
}
