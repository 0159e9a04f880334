import type { VmfsFs } from './filesystem.js';
import type { ResourceFile } from './resource.js';

/**
 * How .fbb.sf accounts for the volume's file blocks.
 *
 * VMFS3/5: one header; its items are the file blocks (fileBlockSize each).
 *
 * VMFS6 has two levels: 1 MiB small file blocks (SFB, the "file blocks" that capacity, free space
 * and `vmkfstools -P` count) and 512 MiB large file blocks (LFB = fileBlockSize << sfbToLfbShift).
 * Two layouts of .fbb.sf are known:
 * - ESXi (dissect.vmfs): the header at offset 0 is the LFB level (items = LFBs) and the header at
 *   childMetaOffset is the SFB level (R = SFBs per cluster, one cluster per LFB slot, flags 0x2:
 *   its cluster headers are the parent's items). Whether the child's item count is every SFB or
 *   only those of converted slots is unconfirmed, so it is used only when it fits the LFB count.
 *   Free space = free LFB slots × 512 + the child's free SFBs, which count converted slots only
 *   (the `vmkfstools -P` figures below add them so).
 * - vmfs6-tools (and the synthetic builder, which follows it): childMetaOffset = 0, one header whose
 *   items are SFBs, R = 512 SFBs per cluster (one LFB slot); an LFB allocation shows as 512 SFBs
 *   allocated. debugvmfs6 `df` reports that header's item count and cluster counts.
 * Which one a single header is, is told by its item count against the volume size: SFBs fill the
 * volume at 1 MiB each, LFBs at 512 MiB each.
 *
 * A partial last LFB slot holds fewer SFBs ([INF] from one `vmkfstools -P` output, Cormac Hogan
 * 2017: 1000 LFBs, 511744 file blocks = 1999 LVM extents of 256 MiB, and avail = 488 free LFBs ×
 * 512 + free SFBs − 256).
 */
export interface FileBlockLevels {
  /** File blocks of the volume (FB on VMFS3/5, SFB on VMFS6), at most the volume size / block size. */
  totalBlocks: number;
  /** VMFS6: LFB slots (the last one may be partial); 0 on VMFS3/5. */
  lfbs: number;
  /** The header whose items are file blocks (FB / SFB), or null when there is none. */
  blockLevel: ResourceFile | null;
  /** VMFS6: the header whose items are LFBs, or null (vmfs6-tools layout). */
  lfbLevel: ResourceFile | null;
  /** Whether blockLevel's cluster counts are read for free space (not for an ESXi child header). */
  countBlockLevel: boolean;
  warnings: string[];
}

export function fileBlockLevels(fs: VmfsFs): FileBlockLevels {
  const bs = fs.L.blockSize;
  const volBlocks = Math.floor(fs.vol.size / bs);
  const warnings: string[] = [];
  const fbb = fs.fbb;
  const name = `${fs.name}: .fbb.sf`;
  if (!fbb) return { totalBlocks: volBlocks, lfbs: 0, blockLevel: null, lfbLevel: null, countBlockLevel: false, warnings };

  if (!fs.L.v6) {
    const n = fbb.h.numResources;
    if (n > volBlocks) warnings.push(`${name} counts ${n} file blocks but the volume holds ${volBlocks}`);
    return { totalBlocks: Math.min(n, volBlocks), lfbs: 0, blockLevel: fbb, lfbLevel: null, countBlockLevel: true, warnings };
  }

  const perLfb = fs.L.lfbSize / bs;
  const sfb = fs.sfb;
  if (sfb && sfb !== fbb) {
    // ESXi layout: LFB parent, SFB child.
    const lfbs = fbb.h.numResources;
    const n = sfb.h.numResources;
    const fits = n <= volBlocks && n <= lfbs * perLfb && n > (lfbs - 1) * perLfb;
    const totalBlocks = fits ? n : Math.min(volBlocks, lfbs * perLfb);
    if (lfbs * perLfb < volBlocks - perLfb) warnings.push(`${name} counts ${lfbs} LFBs, fewer than the volume's ${volBlocks} blocks need`);
    // A child laid out inside its parent's groups (flags 0x2) has its cluster headers in the
    // parent's item area (see ResourceFile.clusterHeaderOffset); each names its own cluster, which
    // freeFileBlocks checks before it trusts the counts.
    const countBlockLevel = true;
    return { totalBlocks, lfbs, blockLevel: sfb, lfbLevel: fbb, countBlockLevel, warnings };
  }

  const n = fbb.h.numResources;
  const maxLfbs = Math.ceil(volBlocks / perLfb);
  const asLfbs = (): FileBlockLevels => ({ totalBlocks: Math.min(volBlocks, n * perLfb), lfbs: n, blockLevel: null, lfbLevel: fbb, countBlockLevel: false, warnings });
  // A parent whose child header did not open: the LFB level alone.
  if (fbb.h.childMetaOffset !== 0 && n <= maxLfbs) return asLfbs();
  // One header for both levels (childMetaOffset = 0): more items than LFB slots means SFBs.
  if (n > maxLfbs && n <= volBlocks) return { totalBlocks: n, lfbs: Math.ceil(n / perLfb), blockLevel: fbb, lfbLevel: null, countBlockLevel: true, warnings };
  if (n <= maxLfbs) return asLfbs();
  warnings.push(`${name} counts ${n} items, more than the volume's ${volBlocks} blocks`);
  return { totalBlocks: volBlocks, lfbs: Math.ceil(volBlocks / perLfb), blockLevel: null, lfbLevel: null, countBlockLevel: false, warnings };
}

/**
 * Free items of a resource file: from each cluster's bitmap where decoded, else its header's free
 * count (ESXi VMFS6 'rcmd'). Where both exist and disagree, the bitmap wins: it is what says which
 * items are free, and recovery trusts it (debugvmfs df sums the headers' counts instead). The
 * headers are read in bulk (ResourceFile.forEachCluster; on VMFS3/5 freeFromBitmaps, which counts
 * 32-bit words without a state object per cluster).
 */
export async function resourceFree(res: ResourceFile): Promise<number> {
  if (!res.v6) return res.freeFromBitmaps();
  let free = 0;
  const R = res.h.R;
  const N = res.h.numResources;
  await res.forEachCluster(0, res.usedClusters, (c, st) => {
    const inCluster = Math.min(R, N - c * R);
    free += st.bitmap ? popcount(st.bitmap, Math.min(st.total, inCluster)) : Math.min(st.free, inCluster);
  });
  return free;
}

/** Set bits per byte value. */
const BITS = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let x = v; x; x >>= 1) n += x & 1;
  return n;
});

/** Free bits (bit = 1 = free) among the first `total` bits of a cluster bitmap. */
export function popcount(bitmap: Uint8Array, total: number): number {
  const whole = Math.min(total >>> 3, bitmap.length);
  let n = 0;
  let i = 0;
  // A 64 TiB .fbb.sf has 8 MiB of bitmaps: counted a 32-bit word at a time where aligned (a full
  // or empty word, the usual case, in one compare; others by SWAR), the tail a byte at a time.
  if ((bitmap.byteOffset & 3) === 0) {
    const words = new Int32Array(bitmap.buffer, bitmap.byteOffset, whole >>> 2);
    for (let k = 0; k < words.length; k++) {
      let v = words[k]!;
      if (v === -1) n += 32;
      else if (v !== 0) {
        v -= (v >>> 1) & 0x55555555;
        v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
        n += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
      }
    }
    i = words.length << 2;
  }
  for (; i < whole; i++) n += BITS[bitmap[i]!]!;
  const rest = total & 7;
  if (rest && whole < bitmap.length) n += BITS[bitmap[whole]! & ((1 << rest) - 1)]!;
  return n;
}

/** Free file blocks of the volume (see fileBlockLevels for the VMFS6 rules). */
export async function freeFileBlocks(fs: VmfsFs, lv: FileBlockLevels): Promise<number> {
  if (!fs.L.v6) return lv.blockLevel ? Math.min(lv.totalBlocks, await resourceFree(lv.blockLevel)) : 0;
  const perLfb = fs.L.lfbSize / fs.L.blockSize;
  let free = 0;
  if (lv.lfbLevel) {
    const freeLfbs = await resourceFree(lv.lfbLevel);
    // The partial last slot counts only the SFBs that exist.
    if (freeLfbs > 0) free += freeLfbs * perLfb - Math.max(0, lv.lfbs * perLfb - lv.totalBlocks);
  }
  if (lv.blockLevel && lv.countBlockLevel) free += await resourceFree(lv.blockLevel);
  return Math.max(0, Math.min(free, lv.totalBlocks));
}
