/**
 * VMFS6 directory name hash, written from docs/format-notes.md "VMFS geometry the builder and RAID detection use" (the ESXi
 * "HashQuads" variant of Bob Jenkins' public-domain lookup8): 256-byte padded name, 32 u64 words,
 * a = b = 42, c = golden ratio, 10 rounds of 3 words, then c += 32 (words), a/b += words 30/31.
 */
const M = (1n << 64n) - 1n;
const PAD = 0x739a75c28e61b017n;

function mix(a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] {
  const steps: [number, number][] = [
    [43, -1], [9, 1], [8, -1],
    [38, -1], [23, 1], [5, -1],
    [35, -1], [49, 1], [11, -1],
    [12, -1], [18, 1], [22, -1],
  ];
  const v = [a, b, c];
  for (let i = 0; i < 12; i++) {
    const x = i % 3, y = (i + 1) % 3, z = (i + 2) % 3;
    const [sh, dir] = steps[i]!;
    // x -= y; x -= z; x ^= z >> sh (or y << sh for the left shifts, which use the value just updated)
    v[x] = (v[x]! - v[y]! - v[z]!) & M;
    const src = dir < 0 ? v[z]! >> BigInt(sh) : (v[z]! << BigInt(sh)) & M;
    v[x] = (v[x]! ^ src) & M;
  }
  return [v[0]!, v[1]!, v[2]!];
}

export function vmfs6NameHash(name: string): bigint {
  const buf = new Uint8Array(256);
  const enc = new TextEncoder().encode(name);
  if (enc.length > 127) throw new Error(`name too long: ${name}`);
  buf.set(enc, 0);
  const dv = new DataView(buf.buffer);
  for (let p = (enc.length + 8) & ~7; p < 127; p += 8) dv.setBigUint64(p, PAD, true);
  const w = (i: number) => dv.getBigUint64(i * 8, true);
  let a = 42n, b = 42n, c = 0x9e3779b97f4a7c13n;
  for (let i = 0; i + 3 <= 30; i += 3) {
    a = (a + w(i)) & M;
    b = (b + w(i + 1)) & M;
    c = (c + w(i + 2)) & M;
    [a, b, c] = mix(a, b, c);
  }
  c = (c + 32n) & M;
  b = (b + w(31)) & M;
  a = (a + w(30)) & M;
  [a, b, c] = mix(a, b, c);
  return c;
}

export const HASH_SLOTS = 16001;
export const ROOT_HASH_SLOTS = 15973;
