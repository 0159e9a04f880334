/**
 * Where the synthetic builders put their bytes: positional writes into a target of fixed size
 * (a sparse host file in Node tests, a page map in memory for the in-browser demo).
 */
export interface PositionalWriter {
  /** Shown in messages and returned as the LUN's path in the manifest. */
  readonly name: string;
  readonly size: number;
  write(offset: number, bytes: Uint8Array): void;
  close(): void;
}

/** Little-endian field writer over a buffer (builder-side twin of DataView, with u64 from numbers or bigints). */
export class Le {
  readonly dv: DataView;
  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u8(off: number, v: number): this {
    this.dv.setUint8(off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: number | bigint): this {
    this.dv.setBigUint64(off, BigInt(v), true);
    return this;
  }
  bytes(off: number, b: Uint8Array): this {
    this.buf.set(b, off);
    return this;
  }
  ascii(off: number, s: string, max: number): this {
    const b = new TextEncoder().encode(s);
    if (b.length > max) throw new Error(`builder bug: "${s}" longer than ${max}`);
    this.buf.set(b, off);
    return this;
  }
}
