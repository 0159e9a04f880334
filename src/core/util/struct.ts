import { CorruptError } from '../errors.js';

/**
 * On-disk structures are declared once, as tables of hex offsets, and parsed by one function.
 * All integers are little-endian and may sit at any alignment (VMFS is packed).
 *
 *   const COWD_HEADER = defineStruct('COWD header', 0x800, {
 *     magic: [0x00, 'u32'],
 *     numSectors: [0x0c, 'u32'],
 *   });
 *   const h = COWD_HEADER.parse(bytes); // h.magic: number
 *
 * 'u64' yields a number and throws CorruptError above 2^53 (no size in this project can be that
 * large, so such a value is corruption); 'u64n' yields a bigint for bit-packed fields.
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'u64n' | 'bytes' | 'ascii' | 'uuid';
export type FieldSpec = readonly [offset: number, type: FieldType, length?: number];
export type StructSpec = Readonly<Record<string, FieldSpec>>;

type FieldValue<F extends FieldSpec> = F[1] extends 'u64n'
  ? bigint
  : F[1] extends 'bytes'
    ? Uint8Array
    : F[1] extends 'ascii' | 'uuid'
      ? string
      : number;

export type Parsed<S extends StructSpec> = { -readonly [K in keyof S]: FieldValue<S[K]> };

export interface StructDef<S extends StructSpec> {
  readonly name: string;
  readonly size: number;
  readonly fields: S;
  parse(bytes: Uint8Array, at?: number): Parsed<S>;
}

const WIDTH: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, u64n: 8, bytes: 0, ascii: 0, uuid: 16 };

export function defineStruct<S extends StructSpec>(name: string, size: number, fields: S): StructDef<S> {
  for (const [key, [off, type, len]] of Object.entries(fields)) {
    const w = type === 'bytes' || type === 'ascii' ? (len ?? 0) : WIDTH[type];
    if (off + w > size) throw new Error(`${name}.${key} at 0x${off.toString(16)} overruns size 0x${size.toString(16)}`);
  }
  // The field table flattened once: parse runs per FD, per directory entry, per cluster header.
  const list = Object.entries(fields).map(([key, [off, type, len]]) => ({ key, off, type, len: len ?? 0 }));
  return {
    name,
    size,
    fields,
    parse(bytes: Uint8Array, at = 0): Parsed<S> {
      if (at < 0 || at + size > bytes.length) {
        throw new CorruptError(`${name}: need 0x${size.toString(16)} bytes at 0x${at.toString(16)}, have 0x${(bytes.length - at).toString(16)}`);
      }
      const dv = new DataView(bytes.buffer, bytes.byteOffset + at, size);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < list.length; i++) {
        const f = list[i]!;
        out[f.key] = readField(dv, name, f.key, f.off, f.type, f.len);
      }
      return out as Parsed<S>;
    },
  };
}

function readField(dv: DataView, name: string, key: string, off: number, type: FieldType, len: number): unknown {
  switch (type) {
    case 'u8':
      return dv.getUint8(off);
    case 'u16':
      return dv.getUint16(off, true);
    case 'u32':
      return dv.getUint32(off, true);
    case 'i32':
      return dv.getInt32(off, true);
    case 'u64': {
      const v = dv.getBigUint64(off, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptError(`${name}.${key} = 0x${v.toString(16)} is out of range`);
      return Number(v);
    }
    case 'u64n':
      return dv.getBigUint64(off, true);
    case 'bytes':
      return new Uint8Array(dv.buffer, dv.byteOffset + off, len).slice();
    case 'ascii':
      return cString(new Uint8Array(dv.buffer, dv.byteOffset + off, len));
    case 'uuid':
      return vmfsUuid(new Uint8Array(dv.buffer, dv.byteOffset + off, 16));
  }
}

const UTF8 = new TextDecoder('utf-8');

/** Text up to the first NUL, decoded as UTF-8 (invalid bytes become U+FFFD rather than failing). */
export function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  const end = nul >= 0 ? nul : b.length;
  // Names are nearly always ASCII: built directly, without a decoder call per directory entry.
  let s = '';
  for (let i = 0; i < end; i++) {
    const c = b[i]!;
    if (c >= 0x80) return UTF8.decode(b.subarray(0, end));
    s += String.fromCharCode(c);
  }
  return s;
}

/** VMFS UUID text: u32 timeLo, u32 timeHi, u16 rand, 6 MAC bytes, printed `%08x-%08x-%04x-` + MAC hex. */
export function vmfsUuid(b: Uint8Array): string {
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  let mac = '';
  for (let i = 10; i < 16; i++) mac += h(b[i]!, 2);
  return `${h(dv.getUint32(0, true), 8)}-${h(dv.getUint32(4, true), 8)}-${h(dv.getUint16(8, true), 4)}-${mac}`;
}

export function u16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}
export function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
/** u64 as a number; CorruptError above 2^53. */
export function u64(b: Uint8Array, off: number): number {
  const lo = u32(b, off);
  const hi = u32(b, off + 4);
  if (hi > 0x1fffff) throw new CorruptError(`64-bit value 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} out of range`);
  return hi * 0x1_0000_0000 + lo;
}
export function u64n(b: Uint8Array, off: number): bigint {
  return (BigInt(u32(b, off + 4)) << 32n) | BigInt(u32(b, off));
}
export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}
export function putU64(b: Uint8Array, off: number, v: number | bigint): void {
  const n = BigInt(v);
  putU32(b, off, Number(n & 0xffffffffn));
  putU32(b, off + 4, Number((n >> 32n) & 0xffffffffn));
}
export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

export function isAllZero(b: Uint8Array): boolean {
  // Word-wise scan: export and scan loops call this on every MiB they move.
  const n = b.length;
  let i = 0;
  // Int32 words, not Float64: -0.0 compares equal to 0 and would hide a 0x80 byte.
  if ((b.byteOffset & 3) === 0) {
    const words = new Int32Array(b.buffer, b.byteOffset, n >>> 2);
    const m = words.length;
    let w = 0;
    // Eight words OR-ed per test: ~3x the throughput of one compare per word in V8.
    for (; w + 8 <= m; w += 8) {
      if ((words[w]! | words[w + 1]! | words[w + 2]! | words[w + 3]! | words[w + 4]! | words[w + 5]! | words[w + 6]! | words[w + 7]!) !== 0) return false;
    }
    for (; w < m; w++) if (words[w] !== 0) return false;
    i = m << 2;
  }
  for (; i < n; i++) if (b[i] !== 0) return false;
  return true;
}

export const SECTOR = 512;
export const hex = (n: number | bigint, width = 0): string => '0x' + n.toString(16).padStart(width, '0');
