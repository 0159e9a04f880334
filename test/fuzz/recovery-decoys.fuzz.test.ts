import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedSource, type ByteSource } from '../../src/core/io/byte-source.js';
import { MAX_REJECTED, scanForDeltas } from '../../src/core/recovery/index.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { buildSeSparseV6Dump } from '../builders/recovery/sesparse-v6.js';
import { decoyBlocks, decoyBytes, decoyTemplates, DECOY_KINDS, type DecoyTemplates } from '../builders/recovery/decoys.js';
import { DATA_OFFSET } from '../builders/vmfs/index.js';
import { FUZZ_CASES, fuzzCase, rng } from '../helpers/fuzz.js';
import { PatchedSource } from '../helpers/patched-source.js';
import { makeTempDir } from '../helpers/tools.js';
import { expectRanksFirst } from '../helpers/rank.js';

/**
 * The whole scan over free space full of random data and decoys (test/builders/recovery/decoys.ts)
 * around a real deleted delta. The volume is built once; each case lays a fresh random choice of
 * decoys over a pool of free blocks in a memory layer (the dump is never written), opens the
 * datastore on it and scans: the scan must answer (no error: a bad remnant is rejected, not fatal)
 * within the fuzz CPU bound, with the real delta first, its parent the builder's, and every other
 * candidate strictly below it. CI runs a few dozen cases; `npm run fuzz` (FUZZ_CASES) runs the rest.
 */
const CASES = process.env.FUZZ_CASES ? FUZZ_CASES : 40;
/** Free blocks decoys may take per case (each is left zero, random, or one decoy kind). */
const POOL = 40;

async function fuzzDecoys(label: string, d: DeletedDeltaDump, src: ByteSource, t: DecoyTemplates, pool: readonly number[], seed: number): Promise<void> {
  const lun = d.manifest.luns[0]!;
  const volBase = lun.partitionOffset + DATA_OFFSET;
  const bs = d.manifest.blockSize;
  for (let i = 0; i < CASES; i++) {
    const r = rng(seed + i);
    const patches: { at: number; bytes: Uint8Array }[] = [];
    for (const b of pool) {
      const x = r();
      if (x < 0.25) continue;
      const kind = x < 0.45 ? 'random' : DECOY_KINDS[Math.floor(r() * DECOY_KINDS.length)]!;
      patches.push({ at: volBase + b * bs, bytes: decoyBytes(kind, r, t) });
    }
    const outcome = await fuzzCase(label, seed + i, async () => {
      const ds = await openDatastore([new PatchedSource(src, patches)]);
      const scan = await scanForDeltas(ds);
      const top = scan.candidates[0];
      expect(top?.id, `${label} seed ${seed + i}`).toBe(d.candidateId);
      expect(top!.parent).toBe(d.parentPath);
      expectRanksFirst(top!, scan.candidates.slice(1), `${label} seed ${seed + i}:`);
      expect(scan.rejected.length).toBeLessThanOrEqual(MAX_REJECTED);
      expect(scan.rejectedCount).toBeGreaterThanOrEqual(scan.rejected.length);
    });
    expect(outcome, `${label} seed ${seed + i}: the scan failed instead of rejecting a remnant`).toBe('ok');
  }
}

describe('recovery fuzz: whole scan over free space full of random data and decoys', () => {
  const tmp = makeTempDir('recovery-decoys-fuzz-');
  const targets: { name: string; build: (dir: string) => Promise<DeletedDeltaDump>; seed: number }[] = [
    { name: 'COWD on VMFS5, FD zeroed (contiguous)', build: (dir) => buildDeletedDeltaDump({ dir, case: 'contiguous', seed: 17, reuse: true, noise: true, oracle: false }), seed: 0xdec0 },
    { name: 'COWD on VMFS5, freed FD intact', build: (dir) => buildDeletedDeltaDump({ dir, case: 'fd-intact', seed: 18, reuse: true, noise: false, oracle: false }), seed: 0xdec1 },
    { name: 'seSparse on VMFS6', build: (dir) => buildSeSparseV6Dump({ dir, seed: 19, reuse: false, oracle: false }), seed: 0xdec2 },
  ];
  const opened: NodeFileSource[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    tmp.cleanup();
  });

  targets.forEach((tc, k) => {
    describe(tc.name, () => {
      let d: DeletedDeltaDump;
      let src: ByteSource;
      let t: DecoyTemplates;
      let pool: number[];
      beforeAll(async () => {
        const dir = path.join(tmp.dir, `t${k}`);
        d = await tc.build(dir);
        t = decoyTemplates(dir, d);
        pool = decoyBlocks(d, POOL);
        const file = await NodeFileSource.open(d.dump, path.basename(d.dump));
        opened.push(file);
        // The dump below the decoys never changes: its pages are cached across cases (64 MiB at most).
        src = new CachedSource(file, 64 * 1024, 1024);
      }, 120_000);

      it(`${CASES} cases: the scan answers, the real delta first`, async () => {
        await fuzzDecoys(`decoys (${tc.name})`, d, src, t, pool, tc.seed);
      }, Math.max(600_000, CASES * 2000));
    });
  });
});
