import { describe, expect, it } from 'vitest';
import { fileBlockLevels, freeFileBlocks } from '../../src/core/vmfs/file-blocks.js';
import type { VmfsFs } from '../../src/core/vmfs/filesystem.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import type { FileDescriptor } from '../../src/core/vmfs/fd.js';
import { ResourceFile, type ClusterState } from '../../src/core/vmfs/resource.js';

/**
 * fileBlockLevels / freeFileBlocks on the VMFS6 .fbb.sf layouts without an oracle here (ESXi's LFB
 * parent + SFB child, per dissect.vmfs), over a minimal mocked VmfsFs: only the fields they read.
 */
const MiB = 1024 * 1024;
const BS = MiB;
const LFB = 512 * MiB;
const PER_LFB = LFB / BS;

/** A resource level with `n` items, R per cluster, whose clusters report counts only (ESXi 'rcmd'). */
function level(name: string, n: number, R: number, freePerCluster: (c: number) => number, extra: { childMetaOffset?: number; flags?: number } = {}): ResourceFile {
  const clusters = Math.ceil(n / R);
  return {
    name,
    v6: true, // ESXi's layout is VMFS6: counts come per cluster, not from VMFS3/5 bitmaps
    h: { R, C: clusters, groupOffset: 0x10000, S: 0, G: 0, numResources: n, numGroups: 1, flags: extra.flags ?? 0, childMetaOffset: extra.childMetaOffset ?? 0 },
    usedClusters: clusters,
    totalClusters: clusters,
    forEachCluster: async (first: number, end: number, visit: (c: number, st: ClusterState) => void) => {
      for (let c = first; c < end; c++) visit(c, { total: Math.min(R, n - c * R), free: freePerCluster(c), bitmap: null });
    },
  } as unknown as ResourceFile;
}

function mockFs(volBlocks: number, fbb: ResourceFile | null, sfb: ResourceFile | null, v6 = true): VmfsFs {
  return { name: 'mock', vol: { size: volBlocks * BS }, L: { v6, blockSize: BS, lfbSize: LFB }, fbb, sfb } as unknown as VmfsFs;
}

describe('fileBlockLevels, ESXi VMFS6 layout (LFB parent, SFB child)', () => {
  it('uses the child item count when it fits the LFB count, and counts free LFBs + free SFBs', async () => {
    // 1999 blocks: 4 LFB slots, the last partial (463 SFBs).
    const parent = level('.fbb.sf', 4, 4, () => 2, { childMetaOffset: 0x20000 });
    const child = level('.fbb.sf (SFB)', 1999, PER_LFB, (c) => (c === 0 ? 10 : 0));
    const fs = mockFs(1999, parent, child);
    const lv = fileBlockLevels(fs);
    expect(lv).toMatchObject({ totalBlocks: 1999, lfbs: 4, blockLevel: child, lfbLevel: parent, countBlockLevel: true, warnings: [] });
    // 2 free LFB slots × 512 − the 49 SFBs the partial last slot lacks, + 10 free SFBs.
    expect(await freeFileBlocks(fs, lv)).toBe(2 * PER_LFB - (4 * PER_LFB - 1999) + 10);
  });

  it('falls back to the LFB slots when the child count does not fit them', () => {
    const parent = level('.fbb.sf', 4, 4, () => 0, { childMetaOffset: 0x20000 });
    const child = level('.fbb.sf (SFB)', 100, PER_LFB, () => 0); // only converted slots' SFBs?
    const lv = fileBlockLevels(mockFs(1999, parent, child));
    expect(lv.totalBlocks).toBe(1999);
    expect(lv.blockLevel).toBe(child);
  });

  it('warns when the LFB slots cover less than the volume', () => {
    const parent = level('.fbb.sf', 2, 2, () => 0, { childMetaOffset: 0x20000 });
    const child = level('.fbb.sf (SFB)', 1024, PER_LFB, () => 0);
    const lv = fileBlockLevels(mockFs(1999, parent, child));
    expect(lv.totalBlocks).toBe(1024);
    expect(lv.warnings.join('\n')).toMatch(/counts 2 LFBs, fewer than the volume's 1999 blocks/);
  });

  it('counts free LFBs + free SFBs also when the child lives inside its parent groups (flags 0x2)', async () => {
    const parent = level('.fbb.sf', 4, 4, () => 1, { childMetaOffset: 0x20000 });
    const child = level('.fbb.sf (SFB)', 1999, PER_LFB, () => 100, { flags: 2 });
    const fs = mockFs(1999, parent, child);
    const lv = fileBlockLevels(fs);
    expect(lv).toMatchObject({ countBlockLevel: true, warnings: [] });
    expect(await freeFileBlocks(fs, lv)).toBe(PER_LFB - (4 * PER_LFB - 1999) + 4 * 100);
  });

  it('treats a parent whose child header did not open as the LFB level alone', async () => {
    const parent = level('.fbb.sf', 4, 4, () => 4, { childMetaOffset: 0x20000 });
    const fs = mockFs(1999, parent, null);
    const lv = fileBlockLevels(fs);
    expect(lv).toMatchObject({ totalBlocks: 1999, lfbs: 4, blockLevel: null, lfbLevel: parent, countBlockLevel: false });
    expect(await freeFileBlocks(fs, lv)).toBe(1999);
  });

  it('reads a single small header (childMetaOffset 0) as LFBs, a single large one as SFBs (vmfs6-tools)', () => {
    const small = level('.fbb.sf', 4, 4, () => 0);
    expect(fileBlockLevels(mockFs(1999, small, small))).toMatchObject({ lfbs: 4, blockLevel: null, lfbLevel: small });
    const big = level('.fbb.sf', 1999, PER_LFB, () => 0);
    expect(fileBlockLevels(mockFs(1999, big, big))).toMatchObject({ totalBlocks: 1999, lfbs: 4, blockLevel: big, lfbLevel: null, countBlockLevel: true });
  });

  it('warns and uses the volume size when a single header counts more items than the volume holds', () => {
    const huge = level('.fbb.sf', 5000, PER_LFB, () => 0);
    const lv = fileBlockLevels(mockFs(1999, huge, huge));
    expect(lv).toMatchObject({ totalBlocks: 1999, lfbs: 4, blockLevel: null, lfbLevel: null });
    expect(lv.warnings.join('\n')).toMatch(/counts 5000 items, more than the volume's 1999 blocks/);
  });

  it('has no levels without .fbb.sf', () => {
    expect(fileBlockLevels(mockFs(100, null, null))).toMatchObject({ totalBlocks: 100, blockLevel: null, lfbLevel: null });
  });
});

describe('VMFS6 cluster metadata (second half of the cluster header)', () => {
  const H = 8192; // 2 × mdAlignment 4096
  const R = 16;
  const open = (fill: (md: DataView) => void) => {
    const bytes = new Uint8Array(0x10000 + H + R * 512);
    fill(new DataView(bytes.buffer, 0x10000 + H / 2));
    const content = Object.assign(new MemorySource(bytes, 'res'), { fd: {} as FileDescriptor });
    const h = { R, C: 1, groupOffset: 0x10000, S: 512, G: H + R * 512, numResources: R, numGroups: 1, flags: 0, childMetaOffset: 0, parentR: 0, parentC: 0, parentG: 0 };
    return new ResourceFile('.fdc.sf', content, h, H, true);
  };

  it('decodes the vmfs6-tools record and its bitmap (1 = free)', async () => {
    const res = open((md) => {
      md.setUint32(0, 0, true); // cluster 0
      md.setUint32(4, R, true);
      md.setUint32(8, 14, true);
      md.setUint16(0x10, 0xfffc, true); // items 0 and 1 used
    });
    expect(await res.hasBitmaps()).toBe(true);
    expect([await res.isAllocated(0, 0), await res.isAllocated(0, 1), await res.isAllocated(0, 2)]).toEqual([true, true, false]);
  });

  it("keeps ESXi 'rcmd' clusters on counts (no bitmap, allocation unknown)", async () => {
    const res = open((md) => {
      md.setUint32(0x10, 0x72636d64, true);
      md.setUint16(0x20, R, true);
      md.setUint16(0x22, 5, true);
    });
    expect(await res.cluster(0)).toEqual({ total: R, free: 5, bitmap: null });
    expect(await res.hasBitmaps()).toBe(false);
    expect(await res.isAllocated(0, 0)).toBeNull();
  });

  it("takes 'rcmd' item allocation from the live items, and says which clusters' counts disagree", async () => {
    const res = open((md) => {
      md.setUint32(0x10, 0x72636d64, true);
      md.setUint16(0x20, R, true);
      md.setUint16(0x22, R - 2, true); // two used
    });
    expect(await res.setLiveItems(new Set([0, 3]))).toMatchObject({ mismatched: [] });
    expect([await res.isAllocated(0, 0), await res.isAllocated(0, 1), await res.isAllocated(0, 3)]).toEqual([true, false, true]);
    expect((await res.setLiveItems(new Set([0]))).mismatched).toEqual([0]);
  });

  it("rejects 'rcmd' metadata that names another cluster", async () => {
    const res = open((md) => {
      md.setUint32(0x10, 0x72636d64, true);
      md.setBigUint64(0x18, 3n, true);
    });
    await expect(res.cluster(0)).rejects.toThrow(/'rcmd' metadata says cluster 3/);
  });

  it('rejects metadata with neither signature nor the right cluster number', async () => {
    const res = open((md) => md.setUint32(0, 7, true));
    await expect(res.cluster(0)).rejects.toThrow(/neither the 'rcmd' signature nor cluster number 0/);
  });
});
