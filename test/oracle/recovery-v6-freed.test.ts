import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildVmfs6FreedDump, type V6FreedCase, type V6FreedDump } from '../builders/recovery/vmfs6-freed.js';
import { makeTempDir, oracleAvailable, run, runCli } from '../helpers/tools.js';
import { union } from '../helpers/lost-runs.js';
import { recoverRawChecked } from '../helpers/recover-cli.js';
import { expectRanksFirst } from '../helpers/rank.js';

/**
 * Recovery of a deleted seSparse delta on VMFS6 from its freed metadata: a freed
 * but intact FD (direct slots or through a pointer block held in a 64 KiB sub-block) and, with the
 * FD zeroed, the freed pointer block. The delta's blocks are not contiguous, so header carving
 * alone cannot rebuild it. The builder checks the pre-revert volume with debugvmfs6 (the delta is
 * listed and reads back byte for byte); the expected disk is qemu-img's conversion of the
 * pre-revert chain with the lost grains taken from the base.
 */
const ok = oracleAvailable('qemu-img', 'debugvmfs6', 'dd');

interface ScanJson {
  volume: { version: number };
  candidates: { id: string; format: string; capacityBytes: number; confidence: number; identity: number; completeness: number; parent: string | null; method: string; evidence: { kind: string; fd?: string }[]; recoverableGrains: number; lostGrains: number; lostRuns: { sector: number; sectors: number; reason: string }[] }[];
}

async function verify(d: V6FreedDump, dir: string, want: { method: string; kinds: string[]; absent: string[] }): Promise<void> {
  // After the revert debugvmfs6 no longer lists the delta (its directory entry is gone).
  expect(run('debugvmfs6', [d.partition, 'ls', '/vm1'])).not.toMatch(/vm1-000001-sesparse\.vmdk/);
  expect(run('debugvmfs6', [d.livePartition, 'ls', '/vm1'])).toMatch(/vm1-000001-sesparse\.vmdk/);

  if (want.method === 'fd') {
    // `ls --deleted` lists the freed delta FD in its folder, with the size debugvmfs6 gave the live file.
    const liveLine = run('debugvmfs6', [d.livePartition, 'ls', '-l', '/vm1']).split('\n').find((l) => l.endsWith(' vm1-000001-sesparse.vmdk'))!;
    const liveSize = Number(liveLine.trim().split(/\s+/)[4]);
    const ls = runCli(['ls', '--image', d.dump, '--deleted', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const del = (JSON.parse(ls.stdout) as { dir: string | null; size: number; fdAddress: number; state: string; type: string }[]).find((f) => f.fdAddress === d.fdAddress);
    expect(del).toMatchObject({ dir: '/vm1', size: liveSize, state: 'deleted', type: 'file' });
  }

  const scan = runCli(['scan', '--image', d.dump, '--json']);
  expect(scan.code, scan.stderr).toBe(0);
  const j = JSON.parse(scan.stdout) as ScanJson;
  expect(j.volume.version).toBe(6);
  const top = j.candidates[0]!;
  expect(top.id).toBe(d.candidateId);
  expect(top.method).toBe(want.method);
  expect(top.format).toBe('seSparse');
  expect(top.capacityBytes).toBe(d.capacity);
  expect(top.parent).toBe(d.parentPath);
  const kinds = new Set(top.evidence.map((e) => e.kind));
  for (const k of want.kinds) expect(kinds, k).toContain(k);
  for (const k of want.absent) expect(kinds, k).not.toContain(k);
  expectRanksFirst(top, j.candidates.slice(1));

  expect(union(top.lostRuns)).toEqual(union(d.expectedLost));
  for (const l of d.expectedLost) {
    const hit = top.lostRuns.find((r) => r.sector <= l.sector && l.sector < r.sector + r.sectors)!;
    expect(hit.reason).toMatch(l.kind === 'table' ? /grain table/ : /grain data/);
  }
  expect(top.recoverableGrains).toBe(d.expectedRecoverableGrains);

  const rep = recoverRawChecked(dir, d, top.id);
  expect(rep.lostRuns).toEqual(top.lostRuns);
}

describe.skipIf(!ok)('recovery of a deleted seSparse delta on VMFS6 from freed metadata', () => {
  const tmp = makeTempDir('recovery-v6-freed-');
  afterAll(() => tmp.cleanup());
  const cases: { name: string; c: V6FreedCase; addressing?: 'direct' | 'pointer'; layout?: 'esxi'; method: string; kinds: string[]; absent: string[] }[] = [
    { name: 'FD freed but intact, direct u64 slots, blocks not contiguous', c: 'fd-intact', addressing: 'direct', method: 'fd', kinds: ['freed-fd', 'descriptor'], absent: ['freed-pb'] },
    { name: 'FD freed but intact, blocks through a freed sub-block pointer block', c: 'fd-intact', addressing: 'pointer', method: 'fd', kinds: ['freed-fd', 'freed-pb', 'descriptor'], absent: [] },
    { name: 'FD zeroed, freed sub-block pointer block intact', c: 'pointer-block', method: 'pointer-block', kinds: ['freed-pb'], absent: ['freed-fd'] },
    // ESXi's layout: no decoded bitmap ('rcmd' counts only), items free where the live tree does not reach.
    { name: "ESXi layout ('rcmd', two-level .fbb.sf): FD freed but intact, blocks through a freed pointer block", c: 'fd-intact', addressing: 'pointer', layout: 'esxi', method: 'fd', kinds: ['freed-fd', 'freed-pb', 'descriptor'], absent: [] },
    { name: "ESXi layout ('rcmd', two-level .fbb.sf): FD zeroed, freed pointer block intact", c: 'pointer-block', layout: 'esxi', method: 'pointer-block', kinds: ['freed-pb'], absent: ['freed-fd'] },
  ];
  let k = 0;
  for (const tc of cases) {
    it(tc.name, async () => {
      const dir = path.join(tmp.dir, `case${k++}`);
      mkdirSync(dir);
      const d = await buildVmfs6FreedDump({ dir, seed: 61 + k, case: tc.c, addressing: tc.addressing, layout: tc.layout });
      await verify(d, dir, tc);
    }, 300_000);
  }
});
