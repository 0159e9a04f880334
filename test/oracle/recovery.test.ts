import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, type DeletedDeltaDump, type DeletedCase } from '../builders/recovery/deleted-delta.js';
import { makeTempDir, oracleAvailable, runCli, sha256File } from '../helpers/tools.js';

/**
 * Recovery of a deleted COWD delta from synthetic VMFS5 dumps (test/builders/recovery): the CLI
 * must rank the real delta first, print the sha256 that qemu-img gives for the pre-revert chain
 * (lost grains taken from the base), and list exactly the lost runs the builder computed.
 */
const ok = oracleAvailable('qemu-img');

interface ScanJson {
  volume: { label: string };
  candidates: { id: string; format: string; capacityBytes: number; sizeBytes: number; confidence: number; parent: string | null; evidence: { kind: string }[]; recoverableGrains: number; lostGrains: number; lostRuns: { sector: number; sectors: number; reason: string }[] }[];
}

/** Lost runs as merged sector ranges (causes compared separately). */
function union(runs: { sector: number; sectors: number }[]): [number, number][] {
  const out: [number, number][] = [];
  for (const r of [...runs].sort((a, b) => a.sector - b.sector)) {
    const prev = out[out.length - 1];
    if (prev && prev[1] === r.sector) prev[1] += r.sectors;
    else out.push([r.sector, r.sector + r.sectors]);
  }
  return out;
}

describe.skipIf(!ok)('recovery of deleted COWD deltas (VMFS5)', () => {
  const tmp = makeTempDir('recovery-oracle-');
  afterAll(() => tmp.cleanup());
  let k = 0;

  const cases: { name: string; c: DeletedCase; reuse: boolean; noise: boolean; method: string }[] = [
    { name: '(i) FD freed but intact, fragmented blocks', c: 'fd-intact', reuse: false, noise: false, method: 'freed-fd' },
    { name: '(i) FD freed but intact, two blocks reused by the new delta, noise in free space', c: 'fd-intact', reuse: true, noise: true, method: 'freed-fd' },
    { name: '(ii) FD zeroed, delta contiguous', c: 'contiguous', reuse: false, noise: false, method: 'carved-header' },
    { name: '(ii) FD zeroed, contiguous, two blocks reused, garbage and another VM delta in free space', c: 'contiguous', reuse: true, noise: true, method: 'carved-header' },
    { name: '(iii-lite) FD zeroed, fragmented blocks listed by a freed pointer block, blocks reused, noise', c: 'pointer-block', reuse: true, noise: true, method: 'freed-pb' },
  ];

  for (const tc of cases) {
    it(tc.name, async () => {
      const dir = path.join(tmp.dir, `case${k++}`);
      mkdirSync(dir);
      const d: DeletedDeltaDump = await buildDeletedDeltaDump({ dir, case: tc.c, seed: 40 + k, reuse: tc.reuse, noise: tc.noise });
      const scan = runCli(['scan', '--image', d.dump, '--json']);
      expect(scan.code, scan.stderr).toBe(0);
      const j = JSON.parse(scan.stdout) as ScanJson;
      const top = j.candidates[0]!;
      expect(top.id).toBe(d.candidateId);
      expect(top.format).toBe('vmfsSparse');
      expect(top.capacityBytes).toBe(d.capacity);
      expect(top.parent).toBe(d.parentPath);
      expect(top.evidence.map((e) => e.kind)).toContain(tc.method);
      // No other candidate ties or beats the real one.
      for (const other of j.candidates.slice(1)) expect(other.confidence).toBeLessThan(top.confidence);
      if (d.foreignHeaderBlock !== null) expect(j.candidates.map((c) => c.id)).toContain(`delta-${d.foreignHeaderBlock}`);

      // Lost runs: exactly the builder's, with the right cause.
      expect(union(top.lostRuns)).toEqual(union(d.expectedLost));
      for (const l of d.expectedLost) {
        const hit = top.lostRuns.find((r) => r.sector <= l.sector && l.sector < r.sector + r.sectors)!;
        expect(hit.reason).toMatch(l.kind === 'table' ? /grain table/ : /grain data/);
      }
      expect(top.recoverableGrains).toBe(d.expectedRecoverableGrains);
      if (!tc.reuse) expect(top.lostGrains).toBe(0);
      else expect(new Set(d.expectedLost.map((l) => l.kind))).toEqual(new Set(['table', 'data']));

      const out = path.join(dir, 'recovered.img');
      const report = path.join(dir, 'report.json');
      const rec = runCli(['recover', '--image', d.dump, '--candidate', top.id, '--out', out, '--format', 'raw', '--report', report]);
      expect(rec.code, rec.stderr).toBe(0);
      const lines = rec.stdout.trim().split('\n');
      expect(lines[lines.length - 1]).toBe(d.expectedSha256);
      expect(sha256File(out)).toBe(d.expectedSha256);
      const rep = JSON.parse(readFileSync(report, 'utf8')) as { lostRuns: unknown; hashes: { logicalSha256: string }; parent: string };
      expect(rep.hashes.logicalSha256).toBe(d.expectedSha256);
      expect(rep.lostRuns).toEqual(top.lostRuns);
      expect(rep.parent).toBe(d.parentPath);
    }, 120_000);
  }
});
