import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTwoVmDump } from '../builders/recovery/two-vms.js';
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

    const scan = runCli(['scan', '--image', d.dump, '--json']);
    expect(scan.code, scan.stderr).toBe(0);
    const c = (JSON.parse(scan.stdout) as { candidates: Cand[] }).candidates.find((x) => x.id === d.candidateId)!;
    expect(c.parent).toBeNull();
    expect(c.parentAmbiguous).toBe(true);
    // The two bases tie on top (a live leaf delta over each after the revert; same CID); the leaf deltas follow.
    const best = c.parentAlternatives[0]!.score;
    expect(c.parentAlternatives.filter((a) => a.score === best).map((a) => a.path).sort()).toEqual([d.parentPath, d.otherBase].sort());
    for (const a of c.parentAlternatives) expect(a.reasons.join(' ')).toMatch(/same capacity/);

    const out = path.join(dir, 'refused.img');
    const bad = runCli(['recover', '--image', d.dump, '--candidate', c.id, '--out', out, '--format', 'raw']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/parent is ambiguous/);
    expect(bad.stderr).toContain(d.parentPath);
    expect(bad.stderr).toContain(d.otherBase);
    expect(existsSync(out)).toBe(false);

    const good = path.join(dir, 'chosen.img');
    const rec = runCli(['recover', '--image', d.dump, '--candidate', c.id, '--out', good, '--format', 'raw', '--parent', d.parentPath, '--report', path.join(dir, 'r.json')]);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout.trim().split('\n').pop()).toBe(d.expectedSha256);
    expect(sha256File(good)).toBe(d.expectedSha256);
    const rep = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as { parent: string; totals: { recoverableGrains: number; guessedGrains: number; lostGrains: number } };
    expect(rep.parent).toBe(d.parentPath);
    expect(rep.totals.guessedGrains).toBe(d.expectedGuessedGrains);
    expect(rep.totals.recoverableGrains + rep.totals.guessedGrains).toBe(d.expectedRecoverableGrains);
  }, 180_000);
});
