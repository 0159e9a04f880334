import type { ByteSource } from '../../src/core/io/byte-source.js';

/** A VMFS5 FD as docs/vmfs-format.md §7 lays it out: lock 0x10C00001 + own volume offset, metadata at +0x200. */
export function fd5(volOffset: number, address: number, type: number, blockSize: number, zla = 1): Uint8Array {
  const b = new Uint8Array(2048);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x10c00001, true);
  dv.setBigUint64(4, BigInt(volOffset), true);
  dv.setUint32(0x200, address, true);
  dv.setUint32(0x208, 1, true); // link count
  dv.setUint32(0x20c, type, true);
  dv.setBigUint64(0x21c, BigInt(blockSize), true);
  dv.setUint32(0x244, zla, true);
  dv.setUint32(0x264, 0x66646d64, true); // 'fdmd'
  return b;
}

/** A source that aborts `ac` once a read reaches `at` (the scan stops at its next chunk). */
export class Tripwire implements ByteSource {
  constructor(private readonly inner: ByteSource, private readonly ac: AbortController | null, private readonly at: number) {}
  get size() { return this.inner.size; }
  get name() { return this.inner.name; }
  read(offset: number, length: number): Promise<Uint8Array> {
    if (this.ac && offset + length > this.at) this.ac.abort();
    return this.inner.read(offset, length);
  }
}
