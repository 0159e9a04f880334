/**
 * VMFS6 directory name hash: ESXi's "HashQuads" variant of Bob Jenkins' public-domain lookup8
 * (64-bit), over a 256-byte key padded with a salt (docs/format-notes.md "VMFS geometry the builder and RAID detection use").
 */
const SALT_LO = 0x8e61b017n;
const SALT = (0x739a75c2n << 32n) | SALT_LO;
const M = (1n << 64n) - 1n;

function mix(a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] {
  a = (a - b - c) & M; a ^= c >> 43n;
  b = (b - c - a) & M; b = (b ^ (a << 9n)) & M;
  c = (c - a - b) & M; c ^= b >> 8n;
  a = (a - b - c) & M; a ^= c >> 38n;
  b = (b - c - a) & M; b = (b ^ (a << 23n)) & M;
  c = (c - a - b) & M; c ^= b >> 5n;
  a = (a - b - c) & M; a ^= c >> 35n;
  b = (b - c - a) & M; b = (b ^ (a << 49n)) & M;
  c = (c - a - b) & M; c ^= b >> 11n;
  a = (a - b - c) & M; a ^= c >> 12n;
  b = (b - c - a) & M; b = (b ^ (a << 18n)) & M;
  c = (c - a - b) & M; c ^= b >> 22n;
  return [a, b, c];
}

export function vmfs6NameHash(name: string): bigint {
  const key = new Uint8Array(256);
  const raw = new TextEncoder().encode(name).subarray(0, 256);
  key.set(raw);
  const dv = new DataView(key.buffer);
  for (let p = (raw.length + 8) & ~7; p < 127; p += 8) dv.setBigUint64(p, SALT, true);
  const w = (i: number) => dv.getBigUint64(i * 8, true);
  let a = 42n;
  let b = 42n;
  let c = 0x9e3779b97f4a7c13n;
  for (let i = 0; i + 3 <= 30; i += 3) {
    a = (a + w(i)) & M;
    b = (b + w(i + 1)) & M;
    c = (c + w(i + 2)) & M;
    [a, b, c] = mix(a, b, c);
  }
  c = (c + 32n) & M;
  a = (a + w(30)) & M;
  b = (b + w(31)) & M;
  [a, b, c] = mix(a, b, c);
  return c;
}

export const DIR_HASH_ENTRIES = 16001;
export const DIR_HASH_ROOT_ENTRIES = 15973;

/** Fixed hash slots of the system files in the root directory. */
export const ROOT_SYSTEM_SLOTS: Record<string, number> = {
  '.fbb.sf': 0x3e66,
  '.fdc.sf': 0x3e67,
  '.pbc.sf': 0x3e68,
  '.sbc.sf': 0x3e69,
  '.vh.sf': 0x3e6a,
  '.pb2.sf': 0x3e6b,
  '.sdd.sf': 0x3e6c,
  '.jbc.sf': 0x3e6d,
  '.unmap.sf': 0x3e6e,
  '.dfd.sf': 0x3e6f,
};

/** (hash-table index, link hash) of a name. */
export function dirHashSlot(name: string, inRoot: boolean): { index: number; linkHash: number } {
  if (inRoot && name in ROOT_SYSTEM_SLOTS) {
    const s = ROOT_SYSTEM_SLOTS[name]!;
    return { index: s, linkHash: s };
  }
  const h = vmfs6NameHash(name);
  return { index: Number(h % BigInt(inRoot ? DIR_HASH_ROOT_ENTRIES : DIR_HASH_ENTRIES)), linkHash: Number((h >> 16n) & 0xffffn) };
}
