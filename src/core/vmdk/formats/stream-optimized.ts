import { CorruptError, RescueError } from '../../errors.js';
import { checkRange, type ByteSource } from '../../io/byte-source.js';
import { hex, SECTOR, u32, u64 } from '../../util/struct.js';
import { Lru } from '../lru.js';
import type { LayerExtent } from '../types.js';
import { KdmvLayer, readKdmvHeader, type GrainMapper } from './hosted-sparse.js';
import { KDMV_FLAGS } from './kdmv-header.js';

/**
 * streamOptimized (docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized"): a KDMV extent whose grains are zlib streams. With the
 * markers flag each grain record starts with u64 lba + u32 compressed size. Both VMware's layout
 * (GD at the end, read from the footer) and qemu's (GD/GT at the front) go through KdmvLayer;
 * only the GTE → bytes step differs, done here lazily: mapping never inflates, reading does.
 */

/** Grains larger than this are refused for compressed extents (inflated grains are cached). */
const MAX_COMPRESSED_GRAIN = 1024 * 1024;
const GRAIN_CACHE = 8;

/**
 * Inflates a zlib (RFC 1950) stream, refusing output beyond `maxOut` bytes. Uses the platform's
 * DecompressionStream('deflate'), which is the zlib-wrapped format VMDK uses.
 */
export async function inflateZlib(data: Uint8Array, maxOut: number, what: string): Promise<Uint8Array> {
  const ds = new DecompressionStream('deflate');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  // Not awaited before reading: the stream applies backpressure until we consume its output.
  const fed = writer
    .write(data.slice()) // a copy: DOM typings want an ArrayBuffer-backed view
    .then(() => writer.close())
    .catch(() => {});
  const out = new Uint8Array(maxOut);
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value) continue;
      if (n + value.length > maxOut) {
        await reader.cancel().catch(() => {});
        throw new CorruptError(`${what}: inflates to more than ${maxOut} bytes`);
      }
      out.set(value, n);
      n += value.length;
    }
  } catch (e) {
    if (e instanceof RescueError) throw e;
    throw new CorruptError(`${what}: bad compressed data (${(e as Error)?.message ?? String(e)})`);
  }
  await fed;
  return out.subarray(0, n);
}

/** A compressed grain as a ByteSource: inflated on first read, kept in a small LRU. */
class GrainSource implements ByteSource {
  constructor(
    private readonly owner: CompressedGrains,
    private readonly gte: number,
    private readonly grainIndex: number,
    readonly size: number,
    readonly name: string,
  ) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const g = await this.owner.inflated(this.gte, this.grainIndex, this.size);
    return g.subarray(offset, offset + length);
  }
}

/** Turns GTEs of a compressed extent into lazily inflated data extents. */
export class CompressedGrains implements GrainMapper {
  private readonly cache = new Lru<number, Promise<Uint8Array>>(GRAIN_CACHE);
  private readonly grainBytes: number;
  private readonly markers: boolean;
  constructor(
    private readonly src: ByteSource,
    private readonly name: string,
    private readonly grainSectors: number,
    private readonly capacity: number,
    flags: number,
  ) {
    this.grainBytes = grainSectors * SECTOR;
    this.markers = (flags & KDMV_FLAGS.markers) !== 0;
  }

  grainExtent(gte: number, grainIndex: number, offset: number, length: number): LayerExtent {
    const at = gte * SECTOR;
    if (at + (this.markers ? 12 : 1) > this.src.size) return { kind: 'missing', offset, length, reason: 'compressed grain past end of file' };
    const start = grainIndex * this.grainBytes;
    const size = Math.min(this.grainBytes, this.capacity - start);
    const source = new GrainSource(this, gte, grainIndex, size, `${this.name} grain ${grainIndex}`);
    return { kind: 'data', offset, length, source, sourceOffset: offset - start };
  }

  inflated(gte: number, grainIndex: number, expected: number): Promise<Uint8Array> {
    const hit = this.cache.get(gte);
    if (hit) return hit;
    const p = this.inflate(gte, grainIndex, expected);
    this.cache.set(gte, p);
    p.catch(() => this.cache.delete(gte));
    return p;
  }

  private async inflate(gte: number, grainIndex: number, expected: number): Promise<Uint8Array> {
    const at = gte * SECTOR;
    const what = `${this.name}: grain ${grainIndex} at ${hex(at)}`;
    let data: Uint8Array;
    if (this.markers) {
      const head = await this.src.read(at, 12);
      const lba = u64(head, 0);
      const size = u32(head, 8);
      if (lba !== grainIndex * this.grainSectors) throw new CorruptError(`${what}: record says LBA ${lba}, expected ${grainIndex * this.grainSectors}`);
      if (size === 0 || size > this.grainBytes * 2 + 1024) throw new CorruptError(`${what}: compressed size ${size} is out of range`);
      if (at + 12 + size > this.src.size) throw new CorruptError(`${what}: compressed data (${size} bytes) runs past the end of the file`);
      data = await this.src.read(at + 12, size);
    } else {
      // No record header: the zlib stream starts at the sector; its end is found by inflating.
      data = await this.src.read(at, Math.min(this.grainBytes * 2 + 1024, this.src.size - at));
    }
    const out = await inflateZlib(data, this.grainBytes, what);
    if (out.length < expected) throw new CorruptError(`${what}: inflates to ${out.length} bytes, expected ${expected}`);
    return out;
  }
}

/** Opens a streamOptimized (or any compressed KDMV) extent. */
export async function openStreamOptimizedExtent(src: ByteSource, name: string): Promise<KdmvLayer> {
  const header = await readKdmvHeader(src, name);
  if (!(header.flags & KDMV_FLAGS.compressed)) return KdmvLayer.open(src, name, header, null);
  if (header.grainSectors * SECTOR > MAX_COMPRESSED_GRAIN) {
    throw new CorruptError(`${name}: compressed grain size ${header.grainSectors} sectors is larger than ${MAX_COMPRESSED_GRAIN / SECTOR}`);
  }
  const mapper = new CompressedGrains(src, name, header.grainSectors, header.capacitySectors * SECTOR, header.flags);
  return KdmvLayer.open(src, name, header, mapper);
}

/** Opens any KDMV extent, compressed or not. */
export async function openKdmvExtent(src: ByteSource, name: string): Promise<KdmvLayer> {
  return openStreamOptimizedExtent(src, name);
}
