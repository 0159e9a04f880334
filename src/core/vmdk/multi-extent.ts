import { findRun } from '../util/runs.js';
import { SECTOR } from '../util/struct.js';
import { pushExtent } from './extent-list.js';
import { checkLayerRange } from './formats/hosted-sparse.js';
import type { DiskFormat, DiskLayer, LayerExtent } from './types.js';

/** One extent of a descriptor placed at `start` bytes, `length` bytes long (from the descriptor). */
export interface PlacedExtent {
  start: number;
  length: number;
  layer: DiskLayer;
}

/**
 * The concatenation of a descriptor's extents (twoGbMaxExtent*, custom multi-extent disks, and
 * single-extent descriptors too, so every descriptor disk has one shape). Each slot is as long as
 * its descriptor line says; where the extent's own capacity is shorter the rest is 'missing'
 * (reported), where it is longer the excess is ignored (trust the smaller: docs/format-notes.md "VMDK text descriptor").
 */
export class MultiExtentLayer implements DiskLayer {
  readonly capacity: number;
  readonly grainSize: number;
  private readonly starts: number[];
  constructor(
    readonly path: string,
    readonly format: DiskFormat,
    readonly parts: readonly PlacedExtent[],
  ) {
    let pos = 0;
    for (const p of parts) {
      if (p.start !== pos) throw new Error(`${path}: extents must be contiguous`);
      pos += p.length;
    }
    this.capacity = pos;
    this.grainSize = parts.reduce((g, p) => Math.max(g, p.layer.grainSize), SECTOR);
    this.starts = parts.map((p) => p.start);
  }

  async mapRange(offset: number, length: number): Promise<LayerExtent[]> {
    checkLayerRange(this, offset, length);
    const out: LayerExtent[] = [];
    if (length === 0) return out;
    const end = offset + length;
    let i = findRun(this.starts, offset);
    let pos = offset;
    while (pos < end && i < this.parts.length) {
      const p = this.parts[i++]!;
      const pEnd = Math.min(end, p.start + p.length);
      if (pEnd <= pos) continue;
      const rel = pos - p.start;
      const inside = Math.max(0, Math.min(pEnd - p.start, p.layer.capacity) - rel);
      if (inside > 0) {
        for (const e of await p.layer.mapRange(rel, inside)) pushExtent(out, { ...e, offset: e.offset + p.start });
      }
      if (pos + inside < pEnd) {
        pushExtent(out, { kind: 'missing', offset: pos + inside, length: pEnd - pos - inside, reason: `extent ${p.layer.path} is shorter than its descriptor line` });
      }
      pos = pEnd;
    }
    return out;
  }

  async allocatedBytes(): Promise<number> {
    let n = 0;
    for (const p of this.parts) n += await p.layer.allocatedBytes();
    return n;
  }
}
