import { UnsupportedError } from '../errors.js';
import { checkRange, type ByteSource } from '../io/byte-source.js';
import type { FileDescriptor } from './fd.js';
import type { VmfsFs } from './filesystem.js';
import { readInto, type ReadIntoSource } from '../io/read-into.js';

/** Reads up to this size go through the volume's metadata block cache; larger ones go straight to the volume. */
const META_READ_MAX = 256 * 1024;
/** Volume reads in flight at once for a read made of several pieces (a fragmented file). */
const PARALLEL_READS = 4;

/**
 * A file inside a VMFS volume as a ByteSource: reads walk the FD's block map (resident data,
 * sub-blocks, file blocks, pointer blocks) and return zeros for holes and to-be-zeroed blocks.
 * The block map of the requested range is resolved in one batch and contiguous blocks are merged,
 * so a bulk read of a contiguous file is one device read whose buffer is returned as is (no copy).
 */
export class VmfsFileSource implements ReadIntoSource {
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
    const extents = await this.fs.mapRange(this.fd, offset, length);
    if (extents.length === 1) {
      const e = extents[0]!;
      return e.kind === 'zero' ? new Uint8Array(length) : this.source(length).read(e.volOffset, length);
    }
    const out = new Uint8Array(length);
    const jobs: { at: number; volOffset: number; length: number }[] = [];
    let at = 0;
    for (const e of extents) {
      if (e.kind === 'vol') jobs.push({ at, volOffset: e.volOffset, length: e.length });
      at += e.length; // zero extents: `out` is already zeros
    }
    // A few reads in flight keep the device busy on fragmented files; each lands once in `out`.
    for (let k = 0; k < jobs.length; k += PARALLEL_READS) {
      await Promise.all(jobs.slice(k, k + PARALLEL_READS).map((j) => this.fill(j.volOffset, out.subarray(j.at, j.at + j.length))));
    }
    return out;
  }

  /**
   * Fills `dest` (bulk copies and metadata passes reuse one buffer): holes are zero-filled, data
   * goes straight from the device, never through the block cache: a caller with its own buffer
   * reads each byte once, and copying it through cached blocks would cost more than the read.
   */
  async readInto(offset: number, dest: Uint8Array): Promise<void> {
    const length = dest.length;
    checkRange(this, offset, length);
    if (length === 0) return;
    const extents = await this.fs.mapRange(this.fd, offset, length);
    let at = 0;
    for (const e of extents) {
      const part = dest.subarray(at, at + e.length);
      if (e.kind === 'zero') part.fill(0);
      else await readInto(this.fs.vol, e.volOffset, part);
      at += e.length;
    }
  }

  /** Small pieces (metadata) through the block cache; bulk data straight from the device into `dest`. */
  private async fill(volOffset: number, dest: Uint8Array): Promise<void> {
    if (dest.length <= META_READ_MAX) dest.set(await this.fs.meta.read(volOffset, dest.length));
    else await readInto(this.fs.vol, volOffset, dest);
  }

  /** Small reads (metadata) through the block cache; bulk data straight from the volume. */
  private source(n: number): ByteSource {
    return n <= META_READ_MAX ? this.fs.meta : this.fs.vol;
  }
}
