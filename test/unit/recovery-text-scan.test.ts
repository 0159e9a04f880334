import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTextRemnantsDump } from '../builders/recovery/text-remnants.js';
import { buildCandidates, carveFreeRange, mergeCarved, scanForDeltas } from '../../src/core/recovery/index.js';
import { mergeCarvedTexts, type RangeEvidence } from '../../src/core/recovery/free-ranges.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * Text evidence through the core API (no external tools): the free-block pass flags text blocks
 * in any split (overlapping, out of order, through JSON, and results saved before `texts`
 * existed), and the scan attributes the carved descriptor and names the parent from it.
 */
describe('text remnants in the scan', () => {
  const tmp = makeTempDir('recovery-text-scan-');
  afterAll(() => tmp.cleanup());

  it('free-block descriptor: split passes merge to the single pass', async () => {
    const d = await buildTextRemnantsDump({ dir: path.join(tmp.dir, 'fb'), seed: 71, place: 'free-block', oracle: false });
    const src = await NodeFileSource.open(d.dump);
    try {
      const ds = await openDatastore([src]);
      const single = await scanForDeltas(ds);
      const top = single.candidates[0]!;
      expect(top.id).toBe(d.candidateId);
      expect(top.parent).toBe(d.parentPath);
      expect(top.descriptor).toMatchObject({ cid: d.deltaCid, parentCid: d.baseCid, location: 'free-block', volOffset: d.descriptorVolOffset });
      expect(single.vmsds.map((v) => v.location).sort()).toEqual(['free-block', 'live-file']);

      const total = single.volume.totalBlocks;
      const parts: RangeEvidence[] = [];
      for (const [a, b] of [[120, total], [0, 130], [90, 155]] as const) parts.push(JSON.parse(JSON.stringify(await carveFreeRange(ds, { startBlock: a, endBlock: b }))));
      const whole = await carveFreeRange(ds, { startBlock: 0, endBlock: total });
      expect(mergeCarvedTexts(parts)).toEqual(mergeCarvedTexts([whole]));
      expect(mergeCarvedTexts([whole]).map((t) => t.kind).sort()).toEqual(['descriptor', 'vmsd']);
      // A result saved without `texts` still merges (and then gives no text blocks).
      const { texts: _t, ...old } = whole;
      expect(mergeCarvedTexts([old])).toEqual([]);
      expect(mergeCarved([old])).toEqual(mergeCarved([whole]));
      const split = await buildCandidates(ds, mergeCarved(parts), {}, mergeCarvedTexts(parts));
      expect(split.candidates.map(({ layer: _l, plan: _p, header: _h, ...i }) => i)).toEqual(single.candidates.map(({ layer: _l, plan: _p, header: _h, ...i }) => i));
      // Without the text blocks (an old caller) the .vmsd still names the parent.
      const noText = await buildCandidates(ds, mergeCarved(parts));
      expect(noText.candidates[0]!.parent).toBe(d.parentPath);
      expect(noText.candidates[0]!.descriptor).toBeUndefined();
    } finally {
      await src.close();
    }
  }, 60_000);

  it('sub-block descriptor: found in the free sub-block, not listed as a live file', async () => {
    const d = await buildTextRemnantsDump({ dir: path.join(tmp.dir, 'sb'), seed: 72, place: 'sub-block', oracle: false });
    const src = await NodeFileSource.open(d.dump);
    try {
      const ds = await openDatastore([src]);
      expect((await ds.readdir('/vm1')).map((e) => e.name)).not.toContain('vm1-000001.vmdk');
      const r = await scanForDeltas(ds);
      expect(r.descriptors).toEqual([expect.objectContaining({ location: 'free-sub-block', volOffset: d.descriptorVolOffset, cid: d.deltaCid, textBytes: d.deltaDescriptor.length })]);
      expect(r.candidates[0]!.parent).toBe(d.parentPath);
      expect(r.candidates[0]!.evidence.map((e) => e.kind)).toContain('descriptor-text');
    } finally {
      await src.close();
    }
  }, 60_000);
});
