import { CorruptError, UnsupportedError } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import { SECTOR } from '../../util/struct.js';
import type { DiskFormat, DiskLayer, LayerExtent } from '../types.js';
import { checkLayerRange } from './hosted-sparse.js';

/**
 * FLAT / VMFS extents (raw sectors, byte = file[(offset + rel) × 512]) and ZERO extents
 * (docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized"). A flat file shorter than its extent (truncated dump) maps its missing
 * tail as 'missing', so reads go on and the damage is reported.
 */
export class FlatLayer implements DiskLayer {
  readonly format: DiskFormat = 'flat';
  readonly grainSize = SECTOR;
  readonly capacity: number;
  readonly warnings: string[] = [];
  private readonly start: number;
  constructor(
    readonly path: string,
    private readonly src: ByteSource,
    sectors: number,
    offsetSectors = 0,
  ) {
    this.capacity = sectors * SECTOR;
    this.start = offsetSectors * SECTOR;
    if (!Number.isSafeInteger(this.capacity) || !Number.isSafeInteger(this.start + this.capacity)) {
      throw new CorruptError(`${path}: flat extent of ${sectors} sectors at sector ${offsetSectors} is out of range`);
    }
    const avail = Math.max(0, src.size - this.start);
    if (avail < this.capacity) {
      this.warnings.push(`${path}: flat file ${src.name} holds ${avail} of the extent's ${this.capacity} bytes; the rest is missing`);
    }
  }

  async mapRange(offset: number, length: number): Promise<LayerExtent[]> {
    checkLayerRange(this, offset, length);
    if (length === 0) return [];
    const avail = Math.max(0, Math.min(this.capacity, this.src.size - this.start));
    const out: LayerExtent[] = [];
    const dataEnd = Math.min(offset + length, avail);
    if (dataEnd > offset) out.push({ kind: 'data', offset, length: dataEnd - offset, source: this.src, sourceOffset: this.start + offset });
    const from = Math.max(offset, avail);
    if (from < offset + length) out.push({ kind: 'missing', offset: from, length: offset + length - from, reason: 'flat file ends early' });
    return out;
  }

  async allocatedBytes(): Promise<number> {
    return Math.max(0, Math.min(this.capacity, this.src.size - this.start));
  }
}

/** A ZERO extent: reads zeros and never consults a parent. */
export class ZeroLayer implements DiskLayer {
  readonly format: DiskFormat = 'zero';
  readonly grainSize = SECTOR;
  readonly capacity: number;
  constructor(
    readonly path: string,
    sectors: number,
  ) {
    this.capacity = sectors * SECTOR;
  }
  async mapRange(offset: number, length: number): Promise<LayerExtent[]> {
    checkLayerRange(this, offset, length);
    return length === 0 ? [] : [{ kind: 'zero', offset, length }];
  }
  async allocatedBytes(): Promise<number> {
    return 0;
  }
}

/** A raw device mapping: listed (format 'rdm') but its data lives on a LUN, not in any file here. */
export class RdmLayer implements DiskLayer {
  readonly format: DiskFormat = 'rdm';
  readonly grainSize = SECTOR;
  readonly capacity: number;
  constructor(
    readonly path: string,
    sectors: number,
  ) {
    this.capacity = sectors * SECTOR;
  }
  async mapRange(): Promise<LayerExtent[]> {
    throw new UnsupportedError(`${this.path}: raw device mapping; its data is on a LUN, not in the datastore, and cannot be read`);
  }
  async allocatedBytes(): Promise<number> {
    return 0;
  }
}

export function openFlatExtent(src: ByteSource, name: string, sectors: number, offsetSectors = 0): FlatLayer {
  return new FlatLayer(name, src, sectors, offsetSectors);
}

export function openZeroExtent(name: string, sectors: number): ZeroLayer {
  return new ZeroLayer(name, sectors);
}
