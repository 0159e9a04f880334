import type { Geometry } from './geometry.js';
import { Le } from './writer.js';

/** Where a resource file's first group starts (the value every known volume uses). */
export const CG_OFFSET = 0x10000;

export const MAGIC = { fbb: 0x10c00002, sbc: 0x10c00003, pbc: 0x10c00004, fdc: 0x10c00005, pb2: 0x10c00006, jbc: 0x10c00007 };

/**
 * A resource ("system") file: header at offset 0, then cluster groups of C cluster headers (H bytes
 * each: lock, then metadata with the bitmap) followed by C clusters of R items of S bytes. The file
 * occupies consecutive FS blocks starting at startBlock.
 */
export class Resource {
  readonly groupSize: number;
  readonly size: number;
  startBlock = -1;
  /** Allocated item numbers (cluster × R + resource); FBB uses `isUsed` instead. */
  readonly used = new Set<number>();
  isUsed: ((item: number) => boolean) | null = null;

  constructor(
    readonly g: Geometry,
    readonly name: string,
    readonly magic: number,
    /** FDC resource number of this file's own FD. */
    readonly fdResource: number,
    readonly R: number,
    readonly C: number,
    readonly S: number,
    readonly numGroups: number,
    readonly total: number,
  ) {
    this.groupSize = C * (g.clusterHeader + R * S);
    this.size = CG_OFFSET + numGroups * this.groupSize;
  }

  get numBlocks(): number {
    return Math.max(1, Math.ceil(this.size / this.g.blockSize));
  }

  volOffset(fileOffset: number): number {
    if (this.startBlock < 0) throw new Error(`builder bug: ${this.name} not placed`);
    return this.startBlock * this.g.blockSize + fileOffset;
  }

  /** File offset of item i: group offset + C headers + (cluster-in-group × R + resource) × S. */
  itemOffset(item: number): number {
    const cluster = Math.floor(item / this.R);
    const r = item % this.R;
    const grp = Math.floor(cluster / this.C);
    const cig = cluster % this.C;
    return CG_OFFSET + grp * this.groupSize + this.C * this.g.clusterHeader + (cig * this.R + r) * this.S;
  }

  itemVolOffset(item: number): number {
    return this.volOffset(this.itemOffset(item));
  }

  headerBytes(): Uint8Array {
    const b = new Uint8Array(this.g.version === 6 ? 0x60 : 0x20);
    const w = new Le(b);
    w.u32(0x00, this.R).u32(0x04, this.C).u32(0x08, CG_OFFSET).u32(0x0c, this.S);
    w.u32(0x10, this.groupSize).u32(0x14, this.total).u32(0x18, this.numGroups);
    if (this.g.version === 6) {
      // 'rfmd' signature, version 1, flags 0, one bit per resource, childMetaOffset 0 (one header
      // serves both LFB and SFB levels of .fbb.sf).
      w.u32(0x1c, 0).u32(0x20, 0x72666d64).u32(0x24, 1).u32(0x28, 0).u32(0x30, 1).u32(0x34, 0);
    }
    return b;
  }

  /**
   * Cluster headers of group grp: lock (magic, own vol offset), then at +0x200 (VMFS5) or
   * +mdAlignment (VMFS6): u32 cluster number, total, free, next free, bitmap with 1 = FREE.
   * The VMFS6 metadata layout follows vmfs6-tools; dissect decodes other fields there and the real
   * VMFS6 bitmap position is unconfirmed (docs §5.4).
   */
  groupHeaders(grp: number): Uint8Array {
    const H = this.g.clusterHeader;
    const out = new Uint8Array(this.C * H);
    const md = this.g.version === 6 ? this.g.mdAlignment : 0x200;
    for (let cig = 0; cig < this.C; cig++) {
      const cluster = grp * this.C + cig;
      const first = cluster * this.R;
      const total = Math.max(0, Math.min(this.R, this.total - first));
      const w = new Le(out.subarray(cig * H, cig * H + H));
      const own = this.volOffset(CG_OFFSET + grp * this.groupSize + cig * H);
      w.u32(0, this.magic).u64(4, own);
      let free = 0;
      let nextFree = -1;
      for (let r = 0; r < total; r++) {
        const used = this.isUsed ? this.isUsed(first + r) : this.used.has(first + r);
        if (!used) {
          free++;
          if (nextFree < 0) nextFree = r;
          out[cig * H + md + 0x10 + (r >> 3)]! |= 1 << (r & 7);
        }
      }
      w.u32(md, cluster).u32(md + 4, total).u32(md + 8, free).u32(md + 12, Math.max(0, nextFree));
    }
    return out;
  }

  /** Next free item at or after `from`. */
  allocItem(from = 0): number {
    for (let i = from; i < this.total; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        return i;
      }
    }
    throw new Error(`builder: ${this.name} is full`);
  }
}
