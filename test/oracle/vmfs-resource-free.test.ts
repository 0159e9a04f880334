import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { popcount, resourceFree } from '../../src/core/vmfs/file-blocks.js';
import { fsOf, openDatastore } from '../../src/core/vmfs/index.js';
import type { ResourceFile } from '../../src/core/vmfs/resource.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildVmfs, DATA_OFFSET, MiB, type FileSpec } from '../builders/vmfs/index.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * resourceFree reads cluster headers in bulk and counts bitmap bits a byte at a time. Checked
 * against the slow path (one cluster, then one item at a time) and against debugvmfs `df`, on
 * volumes whose .fbb.sf spans several cluster groups; and on a dump where a cluster header's free
 * count disagrees with its bitmap: the bitmap wins (debugvmfs sums the headers' counts instead).
 */
const oracles = oracleAvailable('debugvmfs');
const tmp = makeTempDir('vmfs-free-');
afterAll(() => tmp.cleanup());

function dfFree(dump: string): number {
  const m = /^Free blocks\s*:\s*(\d+)/m.exec(run('debugvmfs', [dump, 'df']));
  if (!m) throw new Error('debugvmfs df: no free blocks line');
  return Number(m[1]);
}

/** Free items the slow way: every cluster on its own (cached path), every item on its own. */
async function freeItemByItem(res: ResourceFile): Promise<number> {
  let free = 0;
  for (let c = 0; c < res.usedClusters; c++) {
    const n = Math.min(res.h.R, res.h.numResources - c * res.h.R);
    for (let r = 0; r < n; r++) if ((await res.isAllocated(c, r)) === false) free++;
  }
  return free;
}

/** Files whose blocks are scattered over the volume, so clusters are partly used in varied ways. */
function scattered(totalBlocks: number, seed: number): FileSpec[] {
  const files: FileSpec[] = [];
  const taken = new Set<number>(); // the builder refuses a block twice
  let x = seed;
  for (let f = 0; f < 6; f++) {
    const blocks = [];
    for (let i = 0; i < 40; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const at = 64 + ((x >>> 8) % (totalBlocks - 64));
      if (!taken.has(at)) blocks.push({ index: i, content: 'zero' as const, at });
      taken.add(at);
    }
    files.push({ path: `/vm/f${f}-flat.vmdk`, kind: 'blocks', size: 40 * MiB, blocks });
  }
  return files;
}

describe.skipIf(!oracles)('resource free counts from bulk cluster-header reads', () => {
  for (const [fbbPerCluster, segments] of [[16, 8], [200, 12], [3968, 20]] as const) {
    it(`equal the item-by-item count and debugvmfs df (${fbbPerCluster} blocks per cluster, ${segments} segments)`, async () => {
      const totalBlocks = (segments * 256 * MiB) / MiB;
      const m = await buildVmfs({
        version: 5, dir: tmp.dir, name: `free${fbbPerCluster}`, label: 'free', seed: fbbPerCluster, hashLimit: 0, fbbPerCluster,
        luns: [{ scheme: 'bare', segments }], files: scattered(totalBlocks, fbbPerCluster),
      });
      const src = await NodeFileSource.open(m.luns[0]!.path);
      try {
        const ds = await openDatastore([src]);
        const fs = fsOf(ds);
        for (const res of [fs.fbb, fs.fdc, fs.sbc, fs.pbc]) {
          if (res) expect(await resourceFree(res), res.name).toBe(await freeItemByItem(res));
        }
        expect((await ds.usage()).freeBlocks).toBe(dfFree(m.luns[0]!.path));
      } finally {
        await src.close();
      }
    });
  }

  it('take the bitmap over a cluster header whose free count disagrees (debugvmfs df takes the count)', async () => {
    const m = await buildVmfs({
      version: 5, dir: tmp.dir, name: 'freebad', label: 'free', seed: 9, hashLimit: 0, fbbPerCluster: 64,
      luns: [{ scheme: 'bare', segments: 8 }], files: scattered(2048, 9),
    });
    const dump = m.luns[0]!.path;
    const before = dfFree(dump);
    const src = await NodeFileSource.open(dump);
    let at: number;
    try {
      const fs = fsOf(await openDatastore([src]));
      // The `free` field of cluster 5's metadata (+0x200 of the header, field at +8).
      const e = await fs.mapOffset(fs.fbb!.content.fd, fs.fbb!.clusterHeaderOffset(5) + 0x208);
      if (e.kind !== 'vol') throw new Error('cluster header not mapped');
      at = m.luns[0]!.partitionOffset + DATA_OFFSET + e.volOffset;
    } finally {
      await src.close();
    }
    const fh = openSync(dump, 'r+');
    const b = Buffer.alloc(4);
    try {
      // Claims 10 fewer free items than the bitmap shows (counts stay within the cluster's total).
      readSync(fh, b, 0, 4, at);
      const stated = b.readUInt32LE(0);
      expect(stated).toBeGreaterThanOrEqual(10);
      b.writeUInt32LE(stated - 10, 0);
      writeSync(fh, b, 0, 4, at);
    } finally {
      closeSync(fh);
    }
    expect(dfFree(dump)).toBe(before - 10);
    const src2 = await NodeFileSource.open(dump);
    try {
      const ds = await openDatastore([src2]);
      expect((await ds.usage()).freeBlocks).toBe(before);
      expect(await resourceFree(fsOf(ds).fbb!)).toBe(before);
    } finally {
      await src2.close();
    }
  });
});

describe('popcount', () => {
  it('counts the first `total` bits like a bit-by-bit loop', () => {
    let x = 7;
    for (let t = 0; t < 200; t++) {
      // Random bytes, runs of full and empty bytes (whole words take a shortcut), aligned or not.
      const backing = new Uint8Array(4 + (t % 70));
      const bytes = backing.subarray(t % 4 === 3 ? 1 : 0, 1 + (t % 70));
      for (let i = 0; i < bytes.length; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        bytes[i] = t % 3 === 0 ? x >>> 24 : (x >>> 24) % 3 === 0 ? 0 : (x >>> 24) % 3 === 1 ? 0xff : x >>> 16;
      }
      for (const total of [0, 1, 7, 8, 9, bytes.length * 8 - 3, bytes.length * 8, bytes.length * 8 + 5]) {
        if (total < 0) continue;
        let n = 0;
        for (let i = 0; i < total; i++) n += ((bytes[i >>> 3] ?? 0) >>> (i & 7)) & 1;
        expect(popcount(bytes, total)).toBe(n);
      }
    }
  });
});
