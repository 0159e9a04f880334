import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, spliceLost, type DeletedDeltaDump, type DeletedCase } from '../builders/recovery/deleted-delta.js';
import { buildChainDump, buildDeletedChainDump } from '../builders/recovery/chain.js';
import { buildSeSparseV6Dump } from '../builders/recovery/sesparse-v6.js';
import { buildMultiPbDump, type MultiPbDump } from '../builders/recovery/multi-pb.js';
import { makeTempDir, oracleAvailable, run, runCli, sha256File } from '../helpers/tools.js';
import { union } from '../helpers/lost-runs.js';
import { recoverRawChecked } from '../helpers/recover-cli.js';
import { expectRanksFirst } from '../helpers/rank.js';

/**
 * Recovery of a deleted COWD delta from synthetic VMFS5 dumps (test/builders/recovery): the CLI
 * must rank the real delta first, print the sha256 that qemu-img gives for the pre-revert chain
 * (lost grains taken from the base), and list exactly the lost runs the builder computed.
 */
const ok = oracleAvailable('qemu-img');

interface ScanJson {
  volume: { label: string };
  candidates: { id: string; format: string; capacityBytes: number; sizeBytes: number; confidence: number; identity: number; completeness: number; parent: string | null; parentAmbiguous: boolean; evidence: { kind: string }[]; recoverableGrains: number; guessedGrains: number; lostGrains: number; lostRuns: { sector: number; sectors: number; reason: string }[]; guessedRuns: { sector: number; sectors: number; reason: string }[]; reasons: string[]; parentReasons: string[] }[];
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
  expectRanksFirst(top, j.candidates.slice(1));
  if (d.foreignHeaderBlock !== null) expect(j.candidates.map((c) => c.id)).toContain(`delta-${d.foreignHeaderBlock}`);

  // Lost runs: exactly the builder's, with the right cause.
  expect(union(top.lostRuns)).toEqual(union(d.expectedLost));
  for (const l of d.expectedLost) {
    const hit = top.lostRuns.find((r) => r.sector <= l.sector && l.sector < r.sector + r.sectors)!;
    expect(hit.reason).toMatch(l.kind === 'table' ? /grain table/ : /grain data/);
  }
  // Found only by its header (FD zeroed, no PB): the blocks after it are placed by contiguity and
  // their grains are guessed, apart from the recoverable ones; otherwise nothing is guessed.
  expect(top.recoverableGrains + top.guessedGrains).toBe(d.expectedRecoverableGrains);
  if (method === 'carved-header') {
    if (d.expectedGuessedGrains !== undefined) expect(top.guessedGrains).toBe(d.expectedGuessedGrains);
    else expect(top.guessedGrains).toBeGreaterThan(0);
    if (top.guessedGrains > 0) expect(top.reasons.join('\n')).toMatch(/grains sit in blocks placed by contiguity/);
    for (const g of top.guessedRuns) expect(g.reason).toMatch(/contiguity/);
  } else expect(top.guessedGrains).toBe(0);
  if (lostReason) {
    expect(top.lostRuns.length).toBeGreaterThan(0);
    for (const l of top.lostRuns) expect(l.reason).toMatch(lostReason);
  } else if (!reuse) expect(top.lostGrains).toBe(0);
  else expect(new Set(d.expectedLost.map((l) => l.kind))).toEqual(new Set(['table', 'data']));

  const rep = recoverRawChecked(dir, d, top.id);
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
    expectRanksFirst(top, j.candidates.slice(1));
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

describe.skipIf(!ok)('recovery of a deleted two-level snapshot chain (case iv, both deltas deleted)', () => {
  const tmp = makeTempDir('recovery-chain2-');
  afterAll(() => tmp.cleanup());
  it('(iv) d1 and d2 both deleted, new d3 over the base reuses blocks of both: d2 over candidate d1 over the base', async () => {
    const d = await buildDeletedChainDump({ dir: tmp.dir, seed: 73 });
    expect(d.middle.expectedLost.map((l) => l.kind)).toContain('table');
    // Top: d2, parent the candidate d1; exact lost runs, recoverable grains and sha256 (verifyCase).
    await verifyCase(d, tmp.dir, 'carved-header', true);
    const j = JSON.parse(runCli(['scan', '--image', d.dump, '--json']).stdout) as ScanJson & { candidates: { parentReasons: string[] }[] };
    const top = j.candidates[0]!;
    expect(top.evidence.map((e) => e.kind)).toContain('descriptor');
    expect(top.parentReasons.join(' ')).toMatch(/parentCID [0-9a-f]{8}, the CID of freed descriptor/);
    expect(top.parentReasons.join(' ')).toMatch(/parentFileNameHint "vm1-000001\.vmdk"/);
    // The older link: its own candidate, over the live base, with its own exact lost runs.
    const mid = j.candidates.find((c) => c.id === d.middle.candidateId)!;
    expect(mid).toBeDefined();
    expect(mid.parent).toBe(d.middle.parentPath);
    expect(union(mid.lostRuns)).toEqual(union(d.middle.expectedLost));
    for (const l of d.middle.expectedLost) {
      const hit = mid.lostRuns.find((r) => r.sector <= l.sector && l.sector < r.sector + r.sectors)!;
      expect(hit.reason).toMatch(l.kind === 'table' ? /grain table/ : /grain data/);
    }
    // Found by its header only (FDs zeroed): its later blocks are placed by contiguity, so guessed.
    expect(mid.recoverableGrains + mid.guessedGrains).toBe(d.middle.expectedRecoverableGrains);
    expect(mid.guessedGrains).toBeGreaterThan(0);
    expect(j.candidates.length).toBe(2);
    // --format delta needs a live parent: a clear error, not a broken file.
    const bad = runCli(['recover', '--image', d.dump, '--candidate', top.id, '--out', path.join(tmp.dir, 'x.vmdk'), '--format', 'delta']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/another recovered delta/);
  }, 180_000);
});

describe.skipIf(!ok)('recovery of a deleted chain whose blocks interleave (freed blocks reused)', () => {
  const tmp = makeTempDir('recovery-chain3-');
  afterAll(() => tmp.cleanup());
  type Chained = ScanJson['candidates'][number];

  it('d2 over d1 over the base, ordered by the freed FDs\' times although d2\'s header block comes first; d1 alone gives the snapshot-2 state', async () => {
    const dir = path.join(tmp.dir, 'dated');
    mkdirSync(dir);
    const d = await buildDeletedChainDump({ dir, seed: 75, layout: { kind: 'interleaved', dated: true } });
    expect(d.headerBlock).toBeLessThan(Number(d.middle.candidateId.slice('delta-'.length)));
    // Top: d2 over candidate d1, exact lost runs (its lost grains read d1, then the base) and sha256.
    await verifyCase(d, dir, 'freed-fd', true);
    const j = JSON.parse(runCli(['scan', '--image', d.dump, '--json']).stdout) as ScanJson;
    expect(j.candidates.map((c) => c.id)).toEqual([d.candidateId, d.middle.candidateId]);
    const [top, mid] = j.candidates as [Chained, Chained];
    expect(top.parentReasons.join(' ')).toMatch(/last modified at .* before .*: a link stops changing/);
    expect(top.parentReasons.join(' ')).not.toMatch(/GUESSED/);
    expect(mid.parent).toBe(d.middle.parentPath);
    expect(union(mid.lostRuns)).toEqual(union(d.middle.expectedLost));
    expect(mid.recoverableGrains).toBe(d.middle.expectedRecoverableGrains);
    expect(top.guessedGrains + mid.guessedGrains).toBe(0);
    // recover of d1: the snapshot-2 state (d1 over the base, its lost grains from the base).
    const midDir = path.join(dir, 'mid');
    mkdirSync(midDir);
    const out = path.join(midDir, 'd1.img');
    const rec = runCli(['recover', '--image', d.dump, '--candidate', d.middle.candidateId, '--out', out, '--format', 'raw']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout.trim().split('\n').pop()).toBe(d.middle.expectedSha256);
    expect(sha256File(out)).toBe(d.middle.expectedSha256);
  }, 240_000);

  it('without FD times the order is a guess, and the reasons say so', async () => {
    const dir = path.join(tmp.dir, 'undated');
    mkdirSync(dir);
    const d = await buildDeletedChainDump({ dir, seed: 77, layout: { kind: 'interleaved', dated: false } });
    const j = JSON.parse(runCli(['scan', '--image', d.dump, '--json']).stdout) as ScanJson;
    expect(j.candidates.length).toBe(2);
    const child = j.candidates.find((c) => c.parent?.startsWith('candidate:'))!;
    expect(child.parentReasons.join(' ')).toMatch(/order GUESSED/);
    expect(child.reasons.join(' ')).toMatch(/place in the chain of 2 deleted deltas is a guess/);
    // The newest link (as guessed) still comes before its ancestor.
    expect(j.candidates[0]!.id).toBe(child.id);
  }, 240_000);
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

/**
 * `recover --format delta`: the rebuilt delta as found plus a descriptor with
 * parentCID = the parent's CID, used in place beside the parent's files copied out with `cat`.
 * qemu-img converting that descriptor must give: with no lost grains, exactly the pre-revert disk
 * (our `recover` output); with lost grains, the pre-revert disk where a lost grain TABLE reads the
 * parent (the table's block reads as zeros: entries 0 = parent) and a lost DATA grain reads zeros
 * (its table still points at it, the block holds zeros: lost grains are not filled). Expected
 * values come from qemu over the builder's pre-revert chain and base (chain.raw, base.raw).
 */
describe.skipIf(!ok)('rebuilt delta for use in place (recover --format delta)', () => {
  const tmp = makeTempDir('recovery-delta-out-');
  afterAll(() => tmp.cleanup());

  /** Pre-revert chain with table-lost runs from the base and data-lost runs as zeros. */
  function expectedAsWritten(dir: string, lost: { sector: number; sectors: number; kind: 'table' | 'data' }[]): string {
    const out = path.join(dir, 'as-written.raw');
    spliceLost(path.join(dir, 'chain.raw'), path.join(dir, 'base.raw'), lost.filter((l) => l.kind === 'table'), out);
    const f = openSync(out, 'r+');
    try {
      for (const l of lost.filter((x) => x.kind === 'data')) writeSync(f, new Uint8Array(l.sectors * 512), 0, l.sectors * 512, l.sector * 512);
    } finally {
      closeSync(f);
    }
    return sha256File(out);
  }

  async function roundTrip(d: DeletedDeltaDump, dir: string, parentFiles: string[]): Promise<{ qemu: string; printed: string; desc: string }> {
    const use = path.join(dir, 'in-place');
    mkdirSync(use);
    for (const p of parentFiles) {
      const c = runCli(['cat', '--image', d.dump, p, '--out', path.join(use, path.basename(p))]);
      expect(c.code, c.stderr).toBe(0);
    }
    const desc = path.join(use, 'restored.vmdk');
    const report = path.join(dir, 'delta-report.json');
    const rec = runCli(['recover', '--image', d.dump, '--candidate', d.candidateId, '--out', desc, '--format', 'delta', '--report', report]);
    expect(rec.code, rec.stderr).toBe(0);
    const lines = rec.stdout.trim().split('\n');
    const text = readFileSync(desc, 'latin1');
    const parentDesc = readFileSync(path.join(use, path.basename(d.parentPath)), 'latin1');
    const parentCid = /^CID=([0-9a-f]{8})/m.exec(parentDesc)![1]!;
    expect(text).toMatch(new RegExp(`^parentCID=${parentCid}$`, 'm'));
    expect(text).toContain(`parentFileNameHint="${path.basename(d.parentPath)}"`);
    expect(text).toMatch(d.format === 'seSparse' ? /createType="seSparse"[\s\S]*SESPARSE "restored-sesparse\.vmdk"/ : /createType="vmfsSparse"[\s\S]*VMFSSPARSE "restored-delta\.vmdk"/);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { delta: { lostGrainsFilled: boolean; parentCid: string }; hashes: { logicalSha256: string } };
    expect(rep.delta.lostGrainsFilled).toBe(false);
    expect(rep.delta.parentCid).toBe(parentCid);
    // qemu reads the pair over the parent (it also checks the extent and parent can be opened).
    const raw = path.join(dir, 'qemu-delta.raw');
    run('qemu-img', ['convert', '-O', 'raw', desc, raw]);
    // Our own chain opener accepts it too (it checks parentCID against the parent's CID).
    const info = runCli(['vmdk', 'info', desc, '--json']);
    expect(info.code, info.stderr).toBe(0);
    return { qemu: sha256File(raw), printed: lines[lines.length - 1]!, desc };
  }

  it('no lost grains: qemu over the written delta gives the recovered disk', async () => {
    const dir = path.join(tmp.dir, 'clean');
    mkdirSync(dir);
    const d = await buildDeletedDeltaDump({ dir, case: 'contiguous', seed: 45, reuse: false, noise: true });
    expect(d.expectedLost).toEqual([]);
    const r = await roundTrip(d, dir, ['/vm1/vm1.vmdk', '/vm1/vm1-flat.vmdk']);
    expect(r.qemu).toBe(d.expectedSha256);
    expect(r.printed).toBe(d.expectedSha256);
  }, 120_000);

  it('lost grains (blocks reused, FD freed): lost tables read the parent, lost data grains read zeros, as qemu does', async () => {
    const dir = path.join(tmp.dir, 'lost');
    mkdirSync(dir);
    const d = await buildDeletedDeltaDump({ dir, case: 'fd-intact', seed: 46, reuse: true, noise: true });
    expect(new Set(d.expectedLost.map((l) => l.kind))).toEqual(new Set(['table', 'data']));
    const want = expectedAsWritten(dir, d.expectedLost);
    const r = await roundTrip(d, dir, ['/vm1/vm1.vmdk', '/vm1/vm1-flat.vmdk']);
    expect(r.qemu).toBe(want);
    expect(r.printed).toBe(want);
  }, 120_000);

  it('(v) seSparse on VMFS6, blocks reused: same semantics through qemu\'s seSparse reader', async () => {
    const dir = path.join(tmp.dir, 'v6');
    mkdirSync(dir);
    const d = await buildSeSparseV6Dump({ dir, seed: 82, reuse: true });
    const parentDesc = d.parentPath;
    const ls = runCli(['ls', '--image', d.dump, path.dirname(parentDesc), '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    // The parent's files: its descriptor and the flat extent it names.
    const names = (JSON.parse(ls.stdout) as { name: string }[]).map((e) => e.name).filter((n) => n === path.basename(parentDesc) || /-flat\.vmdk$/.test(n));
    const r = await roundTrip(d, dir, names.map((n) => `${path.dirname(parentDesc)}/${n}`));
    const want = existsSync(path.join(dir, 'chain.raw')) ? expectedAsWritten(dir, d.expectedLost) : null;
    if (want) expect(r.qemu).toBe(want);
    expect(r.printed).toBe(r.qemu);
  }, 300_000); // builds and converts 1 GiB volumes: minutes on a loaded 2-core machine
});
