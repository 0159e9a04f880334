import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTwoVmDump } from '../builders/recovery/two-vms.js';
import { buildSeSparseV6Dump } from '../builders/recovery/sesparse-v6.js';
import { extractPartition } from '../builders/recovery/volume-io.js';
import { makeTempDir, oracleAvailable, run, runCli, sha256File } from '../helpers/tools.js';
import { union } from '../helpers/lost-runs.js';
import { recoverRawChecked } from '../helpers/recover-cli.js';

/**
 * Two VMs with same-capacity disks cloned from one template (same base CID): a deleted delta of
 * vm1 goes onto vm1's base only by evidence (its freed descriptor's parentFileNameHint in /vm1);
 * without evidence no parent is picked, `recover` refuses without --parent and lists both bases,
 * and with --parent gives the pre-revert disk qemu-img computes. debugvmfs reads the volume.
 */
const ok = oracleAvailable('qemu-img', 'debugvmfs');
const ok6 = oracleAvailable('qemu-img', 'debugvmfs6', 'dd');

interface Cand {
  id: string;
  parent: string | null;
  parentAmbiguous: boolean;
  parentAlternatives: { path: string; score: number; reasons: string[] }[];
  parentReasons: string[];
  recoverableGrains: number;
  guessedGrains: number;
  lostGrains: number;
  lostRuns: { sector: number; sectors: number; reason: string }[];
  guessedRuns: { sector: number; sectors: number; reason: string }[];
  confidence: number;
}

describe.skipIf(!ok)('parent of a deleted delta among same-capacity disks of several VMs', () => {
  const tmp = makeTempDir('recovery-parents-');
  afterAll(() => tmp.cleanup());

  it('the freed descriptor in vm1\'s folder decides: vm1\'s base, not vm2\'s (same CID); guessed grains counted apart', async () => {
    const dir = path.join(tmp.dir, 'descriptor');
    mkdirSync(dir);
    const d = await buildTwoVmDump({ dir, seed: 21, evidence: 'descriptor' });
    // debugvmfs reads the volume: both VMs' files, the bases' descriptors as written, no deleted delta.
    expect(run('debugvmfs', [d.dump, 'cat', '/vm1/vm1.vmdk'])).toBe(d.vm1BaseDescriptor);
    const ls1 = run('debugvmfs', [d.dump, 'ls', '/vm1']).split('\n');
    expect(ls1).toContain('vm1-flat.vmdk');
    expect(ls1).not.toContain('vm1-000001-delta.vmdk');
    expect(run('debugvmfs', [d.dump, 'ls', '/vm2']).split('\n')).toContain('vm2-flat.vmdk');

    const scan = runCli(['scan', '--image', d.dump, '--json']);
    expect(scan.code, scan.stderr).toBe(0);
    const top = (JSON.parse(scan.stdout) as { candidates: Cand[] }).candidates[0]!;
    expect(top.id).toBe(d.candidateId);
    expect(top.parent).toBe(d.parentPath);
    expect(top.parentAmbiguous).toBe(false);
    expect(top.parentReasons.join(' ')).toMatch(/parentFileNameHint "vm1\.vmdk"/);
    // Every live disk of the capacity is listed (the live leaf deltas too), vm1's base first and alone on top.
    expect(top.parentAlternatives.map((a) => a.path)).toContain(d.otherBase);
    expect(top.parentAlternatives[0]!.path).toBe(d.parentPath);
    expect(top.parentAlternatives[0]!.score).toBeGreaterThan(top.parentAlternatives[1]!.score);
    expect(union(top.lostRuns)).toEqual(union(d.expectedLost));
    // Item 6: FD zeroed, so every block after the header is placed by contiguity.
    expect(top.guessedGrains).toBe(d.expectedGuessedGrains);
    expect(top.guessedGrains).toBeGreaterThan(0);
    expect(top.recoverableGrains + top.guessedGrains).toBe(d.expectedRecoverableGrains);
    const rep = recoverRawChecked(dir, d, top.id);
    expect(rep.parent).toBe(d.parentPath);
  }, 180_000);

  it('without evidence: parent null, ambiguous, both bases listed; recover exits 1 without --parent, and with it gives qemu-img\'s disk', async () => {
    const dir = path.join(tmp.dir, 'none');
    mkdirSync(dir);
    const d = await buildTwoVmDump({ dir, seed: 23, evidence: 'none' });
    expect(run('debugvmfs', [d.dump, 'cat', '/vm1/vm1.vmdk'])).toBe(d.vm1BaseDescriptor);

    // The two bases tie on top (a live leaf delta over each after the revert; same CID); the leaf deltas follow.
    const c = ambiguousCandidate(d.dump, d.candidateId, [d.parentPath, d.otherBase]);
    for (const a of c.parentAlternatives) expect(a.reasons.join(' ')).toMatch(/same capacity/);
    refusedThenRecovered(dir, d.dump, c.id, [d.parentPath, d.otherBase], d.parentPath, d.expectedSha256, path.join(dir, 'r.json'));
    const rep = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as { parent: string; totals: { recoverableGrains: number; guessedGrains: number; lostGrains: number } };
    expect(rep.parent).toBe(d.parentPath);
    expect(rep.totals.guessedGrains).toBe(d.expectedGuessedGrains);
    expect(rep.totals.recoverableGrains + rep.totals.guessedGrains).toBe(d.expectedRecoverableGrains);
  }, 180_000);
});

/** The candidate `id` of a scan of `dump`: no parent picked, `tied` the alternatives sharing the top score. */
function ambiguousCandidate(dump: string, id: string, tied: string[]): Cand {
  const scan = runCli(['scan', '--image', dump, '--json']);
  expect(scan.code, scan.stderr).toBe(0);
  const c = (JSON.parse(scan.stdout) as { candidates: Cand[] }).candidates.find((x) => x.id === id)!;
  expect(c.parent).toBeNull();
  expect(c.parentAmbiguous).toBe(true);
  const best = c.parentAlternatives[0]!.score;
  expect(c.parentAlternatives.filter((a) => a.score === best).map((a) => a.path).sort()).toEqual([...tied].sort());
  return c;
}

/** `recover` without --parent exits 1 listing every alternative and writes nothing; with `parent` it gives `sha256`. */
function refusedThenRecovered(dir: string, dump: string, id: string, alternatives: string[], parent: string, sha256: string, report?: string): void {
  const out = path.join(dir, 'refused.img');
  const bad = runCli(['recover', '--image', dump, '--candidate', id, '--out', out, '--format', 'raw']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/parent is ambiguous/);
  for (const a of alternatives) expect(bad.stderr).toContain(a);
  expect(existsSync(out)).toBe(false);
  const good = path.join(dir, 'chosen.img');
  const rec = runCli(['recover', '--image', dump, '--candidate', id, '--out', good, '--format', 'raw', '--parent', parent, ...(report ? ['--report', report] : [])]);
  expect(rec.code, rec.stderr).toBe(0);
  expect(rec.stdout.trim().split('\n').pop()).toBe(sha256);
  expect(sha256File(good)).toBe(sha256);
}

describe.skipIf(!ok6)('parent of a deleted seSparse delta among same-capacity disks (VMFS6)', () => {
  const tmp = makeTempDir('recovery-parents6-');
  afterAll(() => tmp.cleanup());

  it('two template clones, both reverted: no parent picked; recover needs --parent and then gives qemu-img\'s disk', async () => {
    const d = await buildSeSparseV6Dump({ dir: tmp.dir, seed: 27, reuse: false, otherVm: true });
    // debugvmfs6 reads the volume (its VMFS partition cut out as a user would): both VMs' bases.
    const part = extractPartition(d.manifest.luns[0]!, path.join(tmp.dir, 'part.img'));
    expect(run('debugvmfs6', [part, 'ls', '/vm1']).split('\n')).toContain('vm1-flat.vmdk');
    expect(run('debugvmfs6', [part, 'ls', '/vm2']).split('\n')).toContain('vm2-flat.vmdk');
    expect(run('debugvmfs6', [part, 'cat', '/vm2/vm2.vmdk'])).toMatch(/createType="vmfs"/);

    const bases = ['/vm1/vm1.vmdk', '/vm2/vm2.vmdk'];
    const c = ambiguousCandidate(d.dump, d.candidateId, bases);
    expect(c.recoverableGrains + c.guessedGrains).toBe(d.expectedRecoverableGrains);
    expect(c.guessedGrains).toBeGreaterThan(0);
    refusedThenRecovered(tmp.dir, d.dump, c.id, bases, d.parentPath, d.expectedSha256);
  }, 240_000);
});
