import type { Geometry } from './geometry.js';
import { Le } from './writer.js';

/** Where a resource file's first group starts (the value every known volume uses). */
export const CG_OFFSET = 0x10000;

export const MAGIC = { fbb: 0x10c00002, sbc: 0x10c00003, pbc: 0x10c00004, fdc: 0x10c00005, pb2: 0x10c00006, jbc: 0x10c00007 };

/**
 * How VMFS6 cluster metadata and .fbb.sf are laid out: 'vmfs6-tools' (the VMFS3/5 record with a
 * bitmap, one .fbb.sf header of SFBs; what debugvmfs6 reads) or 'esxi' (as dissect.vmfs reads
 * ESXi's volumes: 'rcmd' cluster metadata with counts only, and a two-level .fbb.sf whose header
 * at 0 counts 512 MiB LFB slots and whose child header at childMetaOffset counts 1 MiB SFBs).
 */
export type V6Layout = 'vmfs6-tools' | 'esxi';

/** ESXi's 'rcmd' cluster metadata (dissect.vmfs's fields; the rest of the block is not decoded anywhere and left zero). */
export const RCMD = 0x72636d64;
export function writeRcmd(out: Uint8Array, at: number, cluster: number, total: number, free: number): void {
  new Le(out.subarray(at, at + 0x28)).u32(0x10, RCMD).u32(0x14, 0).u64(0x18, cluster).u16(0x20, total).u16(0x22, free).u16(0x26, 0);
}

/** Where the SFB (child) header of ESXi's two-level .fbb.sf sits in the file. */
export const FBB_CHILD_META = 0x1000;

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
  /** VMFS6 cluster metadata layout (see V6Layout). */
  layout: V6Layout = 'vmfs6-tools';
  /** ESXi .fbb.sf: this (LFB) level's child counts SFBs; its cluster c header is LFB item c. */
  sfbChild: { perLfb: number; clustersPerGroup: number; totalBlocks: number; isBlockUsed: (b: number) => boolean } | null = null;

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
      // 'rfmd' signature, version 1, flags 0, one bit per resource; childMetaOffset 0 (one header
      // serves both LFB and SFB levels of .fbb.sf) unless ESXi's SFB child follows.
      w.u32(0x1c, 0).u32(0x20, 0x72666d64).u32(0x24, 1).u32(0x28, 0).u32(0x30, 1).u32(0x34, this.sfbChild ? FBB_CHILD_META : 0);
    }
    return b;
  }

  /**
   * ESXi .fbb.sf's SFB level, at FBB_CHILD_META: R = SFBs per LFB slot, flags 0x2 (laid out in
   * the parent's groups), the parent's R, C, G at 0x38-0x40, S = 0, G = C × H. One cluster per
   * LFB slot; cluster c's header is the parent's item c (the parent's S is H for that).
   */
  childHeaderBytes(): Uint8Array {
    const ch = this.sfbChild;
    if (!ch) throw new Error('builder bug: no SFB child');
    const b = new Uint8Array(0x60);
    const groups = Math.ceil(this.total / ch.clustersPerGroup);
    new Le(b).u32(0x00, ch.perLfb).u32(0x04, ch.clustersPerGroup).u32(0x08, CG_OFFSET).u32(0x0c, 0)
      .u32(0x10, ch.clustersPerGroup * this.g.clusterHeader).u32(0x14, ch.totalBlocks).u32(0x18, groups).u32(0x1c, 0)
      .u32(0x20, 0x72666d64).u32(0x24, 1).u32(0x28, 2).u32(0x30, 1).u32(0x34, 0)
      .u32(0x38, this.R).u32(0x3c, this.C).u32(0x40, this.groupSize);
    return b;
  }

  /**
   * Cluster header of SFB cluster (= LFB slot) n: lock, then 'rcmd' with its SFB counts. A slot
   * not converted to SFBs (wholly free: the LFB level counts it) has no free SFBs, so free space
   * is free LFBs × 512 + free SFBs, as `vmkfstools -P` adds them.
   */
  childClusterHeader(n: number): Uint8Array {
    const ch = this.sfbChild!;
    const H = this.g.clusterHeader;
    const out = new Uint8Array(H);
    new Le(out).u32(0, this.magic).u64(4, this.itemVolOffset(n));
    const total = Math.max(0, Math.min(ch.perLfb, ch.totalBlocks - n * ch.perLfb));
    let free = 0;
    for (let r = 0; r < total; r++) if (!ch.isBlockUsed(n * ch.perLfb + r)) free++;
    if (free === total) free = 0;
    writeRcmd(out, this.g.mdAlignment, n, total, free);
    return out;
  }

  /**
   * Cluster headers of group grp: lock (magic, own vol offset), then at +0x200 (VMFS5) or
   * +mdAlignment (VMFS6): u32 cluster number, total, free, next free, bitmap with 1 = FREE
   * (vmfs6-tools' layout); in ESXi's layout the 'rcmd' record (counts only, docs/format-notes.md "VMFS structures the reader cites").
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
      if (this.g.version === 6 && this.layout === 'esxi') {
        let free = 0;
        for (let r = 0; r < total; r++) if (!(this.isUsed ? this.isUsed(first + r) : this.used.has(first + r))) free++;
        writeRcmd(out, cig * H + md, cluster, total, free);
        continue;
      }
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
