import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTextRemnantsDump, type DescriptorPlace } from '../builders/recovery/text-remnants.js';
import { buildCandidates, carveFreeRange, mergeCarved, planFreeRanges } from '../../src/core/recovery/index.js';
import { mergeCarvedTexts } from '../../src/core/recovery/free-ranges.js';
import { guessParent, surveyLive } from '../../src/core/recovery/parent-guess.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir, oracleAvailable, run, runCli, sha256File } from '../helpers/tools.js';

/**
 * A deleted delta whose parent only text remnants tell (two live disks of
 * the same capacity; the decoy is what a guess without evidence picks). The deleted descriptor is
 * in a freed sub-block (read by debugvmfs before it was deleted), or at the start of a free block,
 * or gone (only the live and a stale carved .vmsd name the parent). Expected values: CIDs the
 * builder wrote, the parent it built, and qemu-img's conversion of the pre-deletion chain.
 */
const ok = oracleAvailable('qemu-img', 'debugvmfs');

interface CandJson {
  id: string;
  parent: string | null;
  parentReasons: string[];
  evidence: { kind: string; location?: string; volOffset: number; detail: string }[];
  descriptor?: { cid: string; parentCid: string; parentFileNameHint: string | null; createType: string; extentFile: string | null; location: string; volOffset: number };
  lostGrains: number;
}

describe.skipIf(!ok)('recovery: parent from descriptor and .vmsd text remnants (VMFS5)', () => {
  const tmp = makeTempDir('recovery-text-');
  afterAll(() => tmp.cleanup());

  const places: DescriptorPlace[] = ['sub-block', 'free-block', 'none'];
  for (const place of places) {
    it(`descriptor ${place === 'none' ? 'gone, .vmsd only' : `text in a ${place}`}`, async () => {
      const dir = path.join(tmp.dir, place);
      const d = await buildTextRemnantsDump({ dir, seed: 61 + places.indexOf(place), place });
      // debugvmfs read the files as the builder wrote them (the descriptor before its deletion).
      expect(d.debugvmfsVmsd).toBe(d.vmsdText);
      if (place === 'sub-block') {
        expect(d.debugvmfsDescriptor).toBe(d.deltaDescriptor);
        // After the deletion debugvmfs no longer lists it, and counts only the live sub-blocks
        // (the /vm1 and /vm2 folders and vm1.vmsd) as used: the freed bitmap bit reads as free.
        expect(run('debugvmfs', [d.dump, 'ls', '/vm1']).split('\n')).not.toContain('vm1-000001.vmdk');
        expect(run('debugvmfs', [d.dump, 'show', 'sbc'])).toMatch(/Used items: 3\b/);
      }

      // Without evidence no disk is picked (the decoy ties with the parent): only the remnants can disambiguate.
      const src = await NodeFileSource.open(d.dump);
      try {
        const ds = await openDatastore([src]);
        const live = await surveyLive(ds);
        expect(live.disks.map((x) => x.path).sort()).toEqual([d.parentPath, d.decoyPath].sort());
        const blind = guessParent(live.disks, d.capacity);
        expect(blind.path).toBeNull();
        expect(blind.ambiguous).toBe(true);
        expect(blind.alternatives.map((a) => a.path).sort()).toEqual([d.parentPath, d.decoyPath].sort());
        expect(live.vmsds.map((v) => v.path)).toEqual(['/vm1/vm1.vmsd']);
        // The split pass (as workers run it) carries the text blocks through JSON and merges.
        const plan = await planFreeRanges(ds, 3);
        const results = [];
        for (const r of plan.ranges) results.push(JSON.parse(JSON.stringify(await carveFreeRange(ds, r))));
        const texts = mergeCarvedTexts(results);
        expect(texts).toContainEqual({ block: d.staleVmsdVolOffset / (1 << 20), kind: 'vmsd' });
        if (place === 'free-block') expect(texts).toContainEqual({ block: d.descriptorVolOffset / (1 << 20), kind: 'descriptor' });
        const split = await buildCandidates(ds, mergeCarved(results), {}, texts);
        expect(split.candidates[0]!.id).toBe(d.candidateId);
        expect(split.candidates[0]!.parent).toBe(d.parentPath);
      } finally {
        await src.close();
      }

      const scan = runCli(['scan', '--image', d.dump, '--json']);
      expect(scan.code, scan.stderr).toBe(0);
      const top = (JSON.parse(scan.stdout) as { candidates: CandJson[] }).candidates[0]!;
      expect(top.id).toBe(d.candidateId);
      expect(top.parent).toBe(d.parentPath);
      const why = top.parentReasons.join('\n');
      expect(why).toContain(`.vmsd names ${d.parentPath}`);
      const kinds = top.evidence.map((e) => e.kind);
      expect(kinds).toContain('vmsd-text');
      expect(top.evidence.filter((e) => e.kind === 'vmsd-text').map((e) => e.location).sort()).toEqual(['free-block', 'live-file']);
      if (place === 'none') {
        expect(top.descriptor).toBeUndefined();
        expect(kinds).not.toContain('descriptor-text');
      } else {
        expect(top.descriptor).toEqual({
          cid: d.deltaCid,
          parentCid: d.baseCid,
          parentFileNameHint: 'vm1.vmdk',
          createType: 'vmfsSparse',
          extentFile: 'vm1-000001-delta.vmdk',
          location: place === 'sub-block' ? 'free-sub-block' : 'free-block',
          volOffset: d.descriptorVolOffset,
        });
        const ev = top.evidence.find((e) => e.kind === 'descriptor-text')!;
        expect(ev.detail).toContain(`CID ${d.deltaCid}, parentCID ${d.baseCid}`);
        expect(why).toContain(`its CID ${d.baseCid} is the parentCID of the recovered descriptor`);
        expect(why).toContain('parentFileNameHint "vm1.vmdk"');
      }

      const out = path.join(dir, 'recovered.img');
      const rec = runCli(['recover', '--image', d.dump, '--candidate', top.id, '--out', out, '--format', 'raw']);
      expect(rec.code, rec.stderr).toBe(0);
      expect(rec.stdout.trim().split('\n').pop()).toBe(d.expectedSha256);
      expect(sha256File(out)).toBe(d.expectedSha256);

      const ls = runCli(['ls', '--image', d.dump, '--deleted', '--json']);
      expect(ls.code, ls.stderr).toBe(0);
      const listed = (JSON.parse(ls.stdout) as { type: string; size: number; volOffset?: number }[]).filter((f) => f.type === 'descriptor-text');
      expect(listed).toEqual(place === 'sub-block' ? [expect.objectContaining({ size: d.deltaDescriptor.length, volOffset: d.descriptorVolOffset })] : []);
    }, 120_000);
  }
});
