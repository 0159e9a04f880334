import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, type DeletedDeltaDump, type DeletedCase } from '../builders/recovery/deleted-delta.js';
import { buildChainDump } from '../builders/recovery/chain.js';
import { buildSeSparseV6Dump } from '../builders/recovery/sesparse-v6.js';
import { buildMultiPbDump, type MultiPbDump } from '../builders/recovery/multi-pb.js';
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

/** Scan and recover through the CLI; the real delta ranks first with the builder's parent, lost runs and sha256. */
async function verifyCase(d: DeletedDeltaDump, dir: string, method: string, reuse: boolean, lostReason?: RegExp): Promise<void> {
  const scan = runCli(['scan', '--image', d.dump, '--json']);
  expect(scan.code, scan.stderr).toBe(0);
  const j = JSON.parse(scan.stdout) as ScanJson;
  const top = j.candidates[0]!;
  expect(top.id).toBe(d.candidateId);
  expect(top.format).toBe(d.format ?? 'vmfsSparse');
  expect(top.capacityBytes).toBe(d.capacity);
  expect(top.parent).toBe(d.parentPath);
  expect(top.evidence.map((e) => e.kind)).toContain(method);
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
  if (lostReason) {
    expect(top.lostRuns.length).toBeGreaterThan(0);
    for (const l of top.lostRuns) expect(l.reason).toMatch(lostReason);
  } else if (!reuse) expect(top.lostGrains).toBe(0);
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
      await verifyCase(d, dir, tc.method, tc.reuse);
    }, 120_000);
  }
});

describe.skipIf(!ok)('recovery of a delta through several freed pointer blocks (case iii)', () => {
  const tmp = makeTempDir('recovery-multipb-');
  afterAll(() => tmp.cleanup());

  it('(iii) > 1024 blocks in many fragments, FD zeroed, two freed PBs joined in file order past decoys, blocks reused', async () => {
    const d: MultiPbDump = await buildMultiPbDump({ dir: tmp.dir, seed: 61 });
    expect(d.pieces).toBeGreaterThanOrEqual(2);
    const scan = runCli(['scan', '--image', d.dump, '--json']);
    expect(scan.code, scan.stderr).toBe(0);
    const j = JSON.parse(scan.stdout) as ScanJson;
    const top = j.candidates[0]!;
    expect(top.id).toBe(d.candidateId);
    expect(top.capacityBytes).toBe(d.capacity);
    expect(top.parent).toBe(d.parentPath);
    expect(top.evidence.filter((e) => e.kind === 'freed-pb').length).toBe(d.pieces);
    for (const other of j.candidates.slice(1)) expect(other.confidence).toBeLessThan(top.confidence);
    expect(union(top.lostRuns)).toEqual(union(d.expectedLost));
    for (const l of d.expectedLost) {
      const hit = top.lostRuns.find((r) => r.sector <= l.sector && l.sector < r.sector + r.sectors)!;
      expect(hit.reason).toMatch(l.kind === 'table' ? /grain table/ : /grain data/);
    }
    expect(new Set(d.expectedLost.map((l) => l.kind))).toEqual(new Set(['table', 'data']));
    expect(top.recoverableGrains).toBe(d.expectedRecoverableGrains);

    const out = path.join(tmp.dir, 'recovered.img');
    const rec = runCli(['recover', '--image', d.dump, '--candidate', top.id, '--out', out, '--format', 'raw', '--no-verify']);
    expect(rec.code, rec.stderr).toBe(0);
    const lines = rec.stdout.trim().split('\n');
    expect(lines[lines.length - 1]).toBe(d.expectedSha256);
    expect(sha256File(out)).toBe(d.expectedSha256);
  }, 300_000);
});

describe.skipIf(!ok)('recovery in a two-level snapshot chain (case iv)', () => {
  const tmp = makeTempDir('recovery-chain-');
  afterAll(() => tmp.cleanup());
  it('(iv) top delta deleted over a surviving middle link: parent is the middle link, disk is d2 over d1 over the base', async () => {
    const d = await buildChainDump({ dir: tmp.dir, seed: 71 });
    await verifyCase(d, tmp.dir, 'carved-header', true);
  }, 120_000);
});

describe.skipIf(!ok)('recovery from a truncated dump (case vi)', () => {
  const tmp = makeTempDir('recovery-trunc-');
  afterAll(() => tmp.cleanup());
  const cases = [
    { name: '(vi) dump cut mid-sector inside the delta (contiguous, FD zeroed)', c: 'contiguous' as const, cut: { fileBlock: 2, within: 300_000 }, method: 'carved-header' },
    { name: '(vi) dump cut at a block boundary of a fragmented delta (freed FD intact)', c: 'fd-intact' as const, cut: { fileBlock: 1, within: 0 }, method: 'freed-fd' },
  ];
  let k = 0;
  for (const tc of cases) {
    it(tc.name, async () => {
      const dir = path.join(tmp.dir, `case${k++}`);
      mkdirSync(dir);
      const d = await buildDeletedDeltaDump({ dir, case: tc.c, seed: 90 + k, reuse: false, noise: false, truncate: tc.cut });
      await verifyCase(d, dir, tc.method, false, /beyond end of dump/);
    }, 120_000);
  }
});

describe.skipIf(!ok)('recovery of a deleted seSparse delta on VMFS6 (case v)', () => {
  const tmp = makeTempDir('recovery-v6-');
  afterAll(() => tmp.cleanup());
  for (const reuse of [false, true]) {
    it(`(v) VMFS6, seSparse delta carved from free space${reuse ? ', grain-table block and a grain block reused by the new delta' : ''}`, async () => {
      const dir = path.join(tmp.dir, reuse ? 'reuse' : 'clean');
      mkdirSync(dir);
      const d = await buildSeSparseV6Dump({ dir, seed: 81, reuse });
      await verifyCase(d, dir, 'carved-header', reuse);
    }, 120_000);
  }
});
