import { CorruptError, OutOfRangeError, UnsupportedError } from '../../errors.js';
import { CachedSource, readUpTo, type ByteSource } from '../../io/byte-source.js';
import { hex, SECTOR, u32, type Parsed } from '../../util/struct.js';
import { MAX_DESCRIPTOR_BYTES } from '../descriptor.js';
import { pushExtent } from '../extent-list.js';
import { Lru } from '../lru.js';
import type { DiskFormat, DiskLayer, LayerExtent } from '../types.js';
import { COMPRESS_DEFLATE, GD_AT_END, KDMV_FLAGS, KDMV_HEADER, KDMV_MAGIC, KDMV_MARKER, MARKER_FOOTER, NEWLINE_CHECK } from './kdmv-header.js';

/**
 * Hosted sparse extent, "KDMV" (docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized"): monolithicSparse, twoGbMaxExtentSparse
 * pieces and — with compressed grains — streamOptimized. One GD of u32 sector pointers to GTs of
 * u32 sector pointers to grains. The header struct lives in kdmv-header.ts (shared with the writers).
 */

/** High 16 bits are "incompatible": a reader must refuse an unknown one. */
const KNOWN_INCOMPATIBLE = KDMV_FLAGS.compressed | KDMV_FLAGS.markers;

/** Bounds: 16 K sectors (8 MiB) grains, 4096-entry GTs, 4 M GD entries (128 TiB at 64 KiB grains). */
const MAX_GRAIN_SECTORS = 16384;
const MAX_GTES = 4096;
const MAX_GD_ENTRIES = 4 * 1024 * 1024;
const MAX_SECTORS = BigInt(Math.floor(Number.MAX_SAFE_INTEGER / SECTOR));

/** A validated header, all sizes as numbers. */
export interface KdmvHeader {
  version: number;
  flags: number;
  capacitySectors: number;
  grainSectors: number;
  descriptorOffset: number;
  descriptorSize: number;
  numGTEsPerGT: number;
  rgdOffset: number;
  gdOffset: number;
  overHead: number;
  uncleanShutdown: boolean;
  compressAlgorithm: number;
  /** true: gdOffset came from the footer (leading header said GD_AT_END). */
  fromFooter: boolean;
  warnings: string[];
}

export function isKdmvHeader(head: Uint8Array): boolean {
  return head.length >= 4 && u32(head, 0) === KDMV_MAGIC;
}

function sectors(v: bigint, field: string, name: string): number {
  if (v > MAX_SECTORS) throw new CorruptError(`${name}: KDMV ${field} ${hex(v)} is out of range`);
  return Number(v);
}

/** Validates one header (the leading one or the footer copy). */
export function parseKdmvHeader(bytes: Uint8Array, name: string): Parsed<typeof KDMV_HEADER.fields> {
  const h = KDMV_HEADER.parse(bytes);
  if (h.magic !== KDMV_MAGIC) throw new CorruptError(`${name}: not a hosted sparse extent (magic ${hex(h.magic, 8)}, expected KDMV)`);
  if (h.version < 1 || h.version > 3) throw new UnsupportedError(`${name}: KDMV version ${h.version} is not supported (1 to 3)`);
  const unknown = h.flags & 0xffff0000 & ~KNOWN_INCOMPATIBLE;
  if (unknown) throw new UnsupportedError(`${name}: KDMV has unknown incompatible flags ${hex(unknown >>> 0, 8)}`);
  return h;
}

/**
 * Reads and validates the header; when gdOffset is GD_AT_END (VMware stream layout), takes the
 * geometry from the footer header at size - 1024 (see kdmv-header.ts).
 */
export async function readKdmvHeader(src: ByteSource, name: string): Promise<KdmvHeader> {
  if (src.size < SECTOR) throw new CorruptError(`${name}: file is ${src.size} bytes, too short for a KDMV header`);
  let h = parseKdmvHeader(await src.read(0, SECTOR), name);
  const warnings: string[] = [];
  let fromFooter = false;
  if (h.gdOffset === GD_AT_END) {
    if (src.size < 3 * SECTOR) throw new CorruptError(`${name}: stream-optimized file too short for its footer`);
    const footer = await src.read(src.size - 2 * SECTOR, SECTOR);
    if (u32(footer, 0) !== KDMV_MAGIC) {
      throw new CorruptError(`${name}: grain directory is at the end but no footer header at ${hex(src.size - 2 * SECTOR)} (file truncated?)`);
    }
    const f = parseKdmvHeader(footer, `${name} footer`);
    if (f.gdOffset === GD_AT_END) throw new CorruptError(`${name}: footer header also says the grain directory is at the end`);
    const marker = await src.read(src.size - 3 * SECTOR, SECTOR);
    const m = KDMV_MARKER.parse(marker);
    if (m.size !== 0 || m.type !== MARKER_FOOTER) warnings.push(`${name}: no footer marker before the footer header`);
    h = f;
    fromFooter = true;
  }
  return kdmvGeometry(h, name, fromFooter, warnings);
}

/** Bounds and converts a parsed header's geometry (sync: also used on carved header bytes). */
export function kdmvGeometry(h: Parsed<typeof KDMV_HEADER.fields>, name: string, fromFooter: boolean, warnings: string[]): KdmvHeader {
  const grainSectors = sectors(h.grainSize, 'grainSize', name);
  if (grainSectors < 1 || grainSectors > MAX_GRAIN_SECTORS || (grainSectors & (grainSectors - 1)) !== 0) {
    throw new CorruptError(`${name}: KDMV grainSize ${grainSectors} sectors is not a power of two up to ${MAX_GRAIN_SECTORS}`);
  }
  if (h.numGTEsPerGT < 1 || h.numGTEsPerGT > MAX_GTES) throw new CorruptError(`${name}: KDMV numGTEsPerGT ${h.numGTEsPerGT} is out of range`);
  const capacitySectors = sectors(h.capacity, 'capacity', name);
  const gdEntries = Math.ceil(capacitySectors / (grainSectors * h.numGTEsPerGT));
  if (gdEntries > MAX_GD_ENTRIES) throw new CorruptError(`${name}: KDMV capacity ${capacitySectors} sectors needs ${gdEntries} grain directory entries`);
  const compressed = (h.flags & KDMV_FLAGS.compressed) !== 0;
  if (compressed && h.compressAlgorithm !== COMPRESS_DEFLATE) throw new UnsupportedError(`${name}: KDMV compression algorithm ${h.compressAlgorithm} is not supported (only 1 = deflate)`);
  if (h.flags & KDMV_FLAGS.newlineCheck) {
    const check = [h.singleEndLineChar, h.nonEndLineChar, h.doubleEndLineChar1, h.doubleEndLineChar2];
    if (check.some((c, i) => c !== NEWLINE_CHECK[i])) {
      warnings.push(`${name}: KDMV newline check bytes damaged (file was transferred in text mode?)`);
    }
  }
  if (h.uncleanShutdown) warnings.push(`${name}: KDMV header says the disk was not closed cleanly`);
  return {
    version: h.version,
    flags: h.flags,
    capacitySectors,
    grainSectors,
    descriptorOffset: sectors(h.descriptorOffset, 'descriptorOffset', name),
    descriptorSize: sectors(h.descriptorSize, 'descriptorSize', name),
    numGTEsPerGT: h.numGTEsPerGT,
    rgdOffset: sectors(h.rgdOffset, 'rgdOffset', name),
    gdOffset: sectors(h.gdOffset, 'gdOffset', name),
    overHead: sectors(h.overHead, 'overHead', name),
    uncleanShutdown: h.uncleanShutdown !== 0,
    compressAlgorithm: h.compressAlgorithm,
    fromFooter,
    warnings,
  };
}

/**
 * The embedded descriptor's bytes (descriptorOffset/descriptorSize of the header), or null when
 * the header has none. qemu only looks at sector 1; we honour the header like libvmdk (docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized").
 */
export async function readEmbeddedDescriptorBytes(src: ByteSource, header: KdmvHeader, name: string): Promise<Uint8Array | null> {
  if (header.descriptorOffset === 0 || header.descriptorSize === 0) return null;
  const start = header.descriptorOffset * SECTOR;
  const len = Math.min(header.descriptorSize * SECTOR, MAX_DESCRIPTOR_BYTES);
  if (start >= src.size) throw new CorruptError(`${name}: embedded descriptor at sector ${header.descriptorOffset} is past the end of the file`);
  return readUpTo(src, start, len);
}

/** How a compressed extent turns a GTE into an extent (implemented in stream-optimized.ts). */
export interface GrainMapper {
  grainExtent(gte: number, grainIndex: number, offset: number, length: number): LayerExtent;
}

type GtState = { kind: 'unallocated' } | { kind: 'missing'; reason: string } | { kind: 'table'; entries: Uint32Array };

/** One hosted sparse extent as a layer. Offsets are bytes relative to the extent. */
export class KdmvLayer implements DiskLayer {
  readonly format: DiskFormat;
  readonly capacity: number;
  readonly grainSize: number;
  readonly warnings: string[];
  private readonly meta: ByteSource;
  private readonly gtCoverage: number;
  private readonly gdEntries: number;
  private readonly gtCache = new Lru<number, Promise<GtState>>(256);
  private readonly zeroGrains: boolean;
  /** Grain-directory entries that could not be read (past the end of the file) are -1. */
  private constructor(
    readonly path: string,
    private readonly src: ByteSource,
    readonly header: KdmvHeader,
    private readonly gd: Float64Array,
    private readonly rgd: Float64Array | null,
    private readonly mapper: GrainMapper | null,
  ) {
    this.format = mapper ? 'streamOptimized' : 'hostedSparse';
    this.capacity = header.capacitySectors * SECTOR;
    this.grainSize = header.grainSectors * SECTOR;
    this.gtCoverage = this.grainSize * header.numGTEsPerGT;
    this.gdEntries = gd.length;
    this.zeroGrains = (header.flags & KDMV_FLAGS.zeroGrain) !== 0;
    this.warnings = [...header.warnings];
    this.meta = new CachedSource(src, 64 * 1024, 64);
  }

  /** Opens the extent: reads and bounds the header, the GD and (if flagged) the redundant GD. */
  static async open(src: ByteSource, name: string, header: KdmvHeader, mapper: GrainMapper | null): Promise<KdmvLayer> {
    const gdEntries = Math.ceil(header.capacitySectors / (header.grainSectors * header.numGTEsPerGT));
    const primary = await readGd(src, header.gdOffset, gdEntries);
    const hasRgd = (header.flags & KDMV_FLAGS.redundantGd) !== 0 && header.rgdOffset !== 0;
    const redundant = hasRgd ? await readGd(src, header.rgdOffset, gdEntries) : null;
    const layer = new KdmvLayer(name, src, header, primary, redundant, mapper);
    if (header.gdOffset === 0 && gdEntries > 0) layer.warnings.push(`${name}: KDMV header has no grain directory offset`);
    if (countMissing(primary) > 0) layer.warnings.push(`${name}: ${countMissing(primary)} grain directory entries lie past the end of the file`);
    return layer;
  }

  private gtOk(sector: number): boolean {
    return sector > 0 && sector * SECTOR + this.header.numGTEsPerGT * 4 <= this.src.size;
  }

  /** Grain table `gdi`: primary pointer, else the redundant copy's (docs/format-notes.md, KDMV), else unallocated/missing. */
  private gt(gdi: number): Promise<GtState> {
    const hit = this.gtCache.get(gdi);
    if (hit) return hit;
    const p = (async (): Promise<GtState> => {
      const prim = this.gd[gdi]!;
      const red = this.rgd ? this.rgd[gdi]! : -1;
      let sector = -1;
      if (prim > 0 && this.gtOk(prim)) sector = prim;
      else if (red > 0 && this.gtOk(red)) sector = red;
      if (sector < 0) {
        if (prim === 0 && red <= 0) return { kind: 'unallocated' };
        if (prim === -1 && red === 0) return { kind: 'unallocated' };
        if (prim === -1) return { kind: 'missing', reason: 'grain directory past end of file' };
        return { kind: 'missing', reason: 'grain table past end of file' };
      }
      const bytes = await this.meta.read(sector * SECTOR, this.header.numGTEsPerGT * 4);
      const entries = new Uint32Array(this.header.numGTEsPerGT);
      for (let i = 0; i < entries.length; i++) entries[i] = u32(bytes, i * 4);
      return { kind: 'table', entries };
    })();
    this.gtCache.set(gdi, p);
    p.catch(() => this.gtCache.delete(gdi));
    return p;
  }

  async mapRange(offset: number, length: number): Promise<LayerExtent[]> {
    checkLayerRange(this, offset, length);
    const out: LayerExtent[] = [];
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      const gdi = Math.floor(pos / this.gtCoverage);
      const gtEnd = Math.min(end, (gdi + 1) * this.gtCoverage);
      const gt = gdi < this.gdEntries ? await this.gt(gdi) : ({ kind: 'unallocated' } as GtState);
      if (gt.kind === 'unallocated') pushExtent(out, { kind: 'parent', offset: pos, length: gtEnd - pos });
      else if (gt.kind === 'missing') pushExtent(out, { kind: 'missing', offset: pos, length: gtEnd - pos, reason: gt.reason });
      else {
        while (pos < gtEnd) {
          const gi = Math.floor(pos / this.grainSize);
          const gEnd = Math.min(gtEnd, (gi + 1) * this.grainSize);
          const gte = gt.entries[gi - gdi * this.header.numGTEsPerGT]!;
          pushExtent(out, this.grainExtent(gte, gi, pos, gEnd - pos));
          pos = gEnd;
        }
      }
      pos = gtEnd;
    }
    return out;
  }

  private grainExtent(gte: number, gi: number, offset: number, length: number): LayerExtent {
    if (gte === 0) return { kind: 'parent', offset, length };
    if (gte === 1 && this.zeroGrains) return { kind: 'zero', offset, length };
    if (this.mapper) return this.mapper.grainExtent(gte, gi, offset, length);
    const sourceOffset = gte * SECTOR + (offset - gi * this.grainSize);
    if (sourceOffset + length > this.src.size) return { kind: 'missing', offset, length, reason: 'grain past end of file' };
    return { kind: 'data', offset, length, source: this.src, sourceOffset };
  }

  async allocatedBytes(): Promise<number> {
    let total = 0;
    const grains = Math.ceil(this.capacity / this.grainSize);
    for (let gdi = 0; gdi < this.gdEntries; gdi++) {
      // Skip entries that cannot name a table without going through the (async) GT cache.
      if (this.gd[gdi]! <= 0 && (this.rgd ? this.rgd[gdi]! : -1) <= 0) continue;
      const gt = await this.gt(gdi);
      if (gt.kind !== 'table') continue;
      const first = gdi * this.header.numGTEsPerGT;
      const n = Math.min(this.header.numGTEsPerGT, grains - first);
      for (let i = 0; i < n; i++) {
        const gte = gt.entries[i]!;
        if (gte === 0 || (gte === 1 && this.zeroGrains)) continue;
        total += Math.min(this.grainSize, this.capacity - (first + i) * this.grainSize);
      }
    }
    return total;
  }
}

/** Reads a GD of `n` u32 entries; entries past the end of the file become -1 ("unknown"). */
async function readGd(src: ByteSource, sector: number, n: number): Promise<Float64Array> {
  const gd = new Float64Array(n).fill(-1);
  if (n === 0 || sector === 0) return gd;
  const start = sector * SECTOR;
  const bytes = await readUpTo(src, start, n * 4);
  const avail = Math.floor(bytes.length / 4);
  for (let i = 0; i < avail; i++) gd[i] = u32(bytes, i * 4);
  return gd;
}

function countMissing(gd: Float64Array): number {
  let n = 0;
  for (const v of gd) if (v < 0) n++;
  return n;
}

/** Bounds check shared by every layer's mapRange. */
export function checkLayerRange(layer: { capacity: number; path: string }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > layer.capacity) {
    throw new OutOfRangeError(`${layer.path}: range 0x${offset.toString(16)}+0x${length.toString(16)} is outside the disk (capacity 0x${layer.capacity.toString(16)})`);
  }
}

/** Opens an uncompressed hosted sparse extent (monolithicSparse, a twoGbMaxExtentSparse piece). */
export async function openHostedSparseExtent(src: ByteSource, name: string): Promise<KdmvLayer> {
  const header = await readKdmvHeader(src, name);
  if (header.flags & KDMV_FLAGS.compressed) {
    throw new UnsupportedError(`${name}: compressed KDMV extent: open it with openStreamOptimizedExtent`);
  }
  return KdmvLayer.open(src, name, header, null);
}
