import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

/**
 * A host file written only with positional writes and sized with ftruncate, so everything never
 * written stays a hole (a 64 TiB dump costs a few MiB of real storage).
 */
export class SparseFile {
  private fd: number;
  constructor(
    readonly path: string,
    readonly size: number,
  ) {
    this.fd = openSync(path, 'w');
    ftruncateSync(this.fd, size);
  }

  write(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > this.size) {
      throw new Error(`builder bug: write 0x${offset.toString(16)}+0x${bytes.length.toString(16)} outside ${this.path}`);
    }
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Little-endian field writer over a buffer (test-side twin of DataView, with u64 from numbers or bigints). */
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
