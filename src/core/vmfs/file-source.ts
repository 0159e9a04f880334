import { UnsupportedError } from '../errors.js';
import { checkRange, type ByteSource } from '../io/byte-source.js';
import type { FileDescriptor } from './fd.js';
import type { FileExtent, VmfsFs } from './filesystem.js';

/**
 * A file inside a VMFS volume as a ByteSource: reads walk the FD's block map (resident data,
 * sub-blocks, file blocks, pointer blocks) and return zeros for holes and to-be-zeroed blocks.
 * Contiguous blocks are read with one volume read.
 */
export class VmfsFileSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly fs: VmfsFs,
    readonly fd: FileDescriptor,
    readonly name: string,
  ) {
    if (fd.type === 'rdm') throw new UnsupportedError(`${name} is a raw device mapping: its data is on another LUN, not in this dump`);
    this.size = fd.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    const first = await this.fs.mapOffset(this.fd, offset);
    if (first.length >= length) {
      if (first.kind === 'zero') return new Uint8Array(length);
      return this.source(length).read(first.volOffset, length);
    }
    const out = new Uint8Array(length);
    let pos = 0;
    let ext: FileExtent = first;
    while (pos < length) {
      let n = Math.min(ext.length, length - pos);
      if (ext.kind === 'zero') {
        pos += n; // already zeros
        if (pos < length) ext = await this.fs.mapOffset(this.fd, offset + pos);
        continue;
      }
      // Merge following extents that continue on the volume, so big reads become few.
      const start = ext.volOffset;
      let next: FileExtent | null = null;
      while (pos + n < length) {
        next = await this.fs.mapOffset(this.fd, offset + pos + n);
        if (next.kind !== 'vol' || next.volOffset !== start + n) break;
        n += Math.min(next.length, length - pos - n);
        next = null;
      }
      out.set(await this.source(n).read(start, n), pos);
      pos += n;
      if (pos < length) ext = next ?? (await this.fs.mapOffset(this.fd, offset + pos));
    }
    return out;
  }

  /** Small reads (metadata) through the block cache; bulk data straight from the volume. */
  private source(n: number): ByteSource {
    return n <= 256 * 1024 ? this.fs.meta : this.fs.vol;
  }
}
