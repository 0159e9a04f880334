import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, type DeletedCase } from '../builders/recovery/deleted-delta.js';
import { addDecoys } from '../builders/recovery/decoys.js';
import { makeTempDir, oracleAvailable, run, runCli } from '../helpers/tools.js';
import { union } from '../helpers/lost-runs.js';
import { recoverRawChecked } from '../helpers/recover-cli.js';
import { extractPartition } from '../builders/recovery/volume-io.js';
import { expectRanksFirst } from '../helpers/rank.js';

/**
 * A deleted COWD delta among decoys in free space (test/builders/recovery/decoys.ts): random
 * blocks and look-alikes of every structure the scan parses. debugvmfs reads the volume after the
 * decoys are written (live files intact); the scan exits 0, ranks the real delta first with the
 * builder's parent and lost runs, lists the malformed decoys as rejected remnants, and `recover`
 * gives the disk qemu-img makes of the pre-deletion chain.
 */
const ok = oracleAvailable('qemu-img', 'debugvmfs', 'dd');

interface ScanJson {
  candidates: {
    id: string;
    confidence: number;
    identity: number;
    completeness: number;
    parent: string | null;
    recoverableGrains: number;
    guessedGrains: number;
    lostRuns: { sector: number; sectors: number }[];
    descriptor?: { parentFileNameHint: string | null };
    evidence: { kind: string; detail: string }[];
  }[];
  rejected: { kind: string; volOffset: number; reason: string }[];
  rejectedCount: number;
  warnings: string[];
}

describe.skipIf(!ok)('recovery among decoys in free space', () => {
  const tmp = makeTempDir('recovery-decoys-');
  afterAll(() => tmp.cleanup());
  const cases: { c: DeletedCase; seed: number }[] = [
    { c: 'contiguous', seed: 141 },
    { c: 'fd-intact', seed: 142 },
  ];
  for (const tc of cases) {
    it(`${tc.c}: the real delta ranks first, malformed decoys are rejected, recover matches qemu-img`, async () => {
      const dir = path.join(tmp.dir, tc.c);
      mkdirSync(dir);
      const d = await buildDeletedDeltaDump({ dir, case: tc.c, seed: tc.seed, reuse: true, noise: true });
      const placed = addDecoys(d, dir, tc.seed);
      const bs = d.manifest.blockSize;

      // debugvmfs still reads the live files as the builder wrote them.
      const part = extractPartition(d.manifest.luns[0]!, path.join(dir, 'part.img'));
      const ls = run('debugvmfs', [part, 'ls', '/vm1']);
      for (const f of ['vm1.vmdk', 'vm1-flat.vmdk', 'vm1-000001.vmdk', 'vm1-000001-delta.vmdk']) expect(ls.split('\n')).toContain(f);
      const flat = d.manifest.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!;
      const catOut = path.join(dir, 'flat.debugvmfs');
      run('sh', ['-c', `debugvmfs "$1" cat /vm1/vm1-flat.vmdk > "$2"`, 'sh', part, catOut]);
      expect(run('sha256sum', [catOut]).split(/\s+/)[0]).toBe(flat.sha256);

      const scan = runCli(['scan', '--image', d.dump, '--json']);
      expect(scan.code, scan.stderr).toBe(0);
      const j = JSON.parse(scan.stdout) as ScanJson;
      const top = j.candidates[0]!;
      expect(top.id).toBe(d.candidateId);
      expect(top.parent).toBe(d.parentPath);
      expectRanksFirst(top, j.candidates.slice(1));
      expect(union(top.lostRuns)).toEqual(union(d.expectedLost));
      // Blocks after a header found only by carving are placed by contiguity: their grains are guessed.
      expect(top.recoverableGrains + top.guessedGrains).toBe(d.expectedRecoverableGrains);
      expect(top.guessedGrains).toBe(d.expectedGuessedGrains ?? 0);
      // Descriptor text of a disk that never existed (same capacity, parent "ghost.vmdk") is not
      // attributed to any candidate.
      for (const c of j.candidates) {
        expect(c.descriptor?.parentFileNameHint ?? null, c.id).not.toBe('ghost.vmdk');
        expect(c.evidence.filter((e) => /ghost/.test(e.detail)), c.id).toEqual([]);
      }

      // Every decoy whose own bytes cannot parse is a rejected remnant at its block, of its kind.
      const malformed: Record<string, string> = { 'cowd-garbage': 'cowd-header', 'kdmv-garbage': 'kdmv-header', 'kdmv-valid': 'kdmv-header', 'sesparse-garbage': 'sesparse-header', 'descriptor-broken': 'descriptor-text' };
      for (const p of placed.filter((x) => x.kind in malformed)) {
        expect(j.rejected, `${p.kind} at block ${p.block}`).toContainEqual(expect.objectContaining({ kind: malformed[p.kind], volOffset: p.block * bs }));
      }
      expect(j.rejectedCount).toBeGreaterThanOrEqual(placed.filter((x) => x.kind in malformed).length);
      expect(j.rejected.length).toBe(Math.min(100, j.rejectedCount));

      recoverRawChecked(dir, d, top.id);
    }, 180_000);
  }
});
