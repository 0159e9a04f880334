import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { candidateInfo, grainDamageMap, pickCandidate, recoveryReport, scanForDeltas, scanJson, type ScanResult } from '../../src/core/recovery/index.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * The grain damage map (the app's map of a candidate) and the one report serializer (the CLI's
 * `scan --json` / `recover --report` and the app's report), on builder dumps with a deleted delta
 * whose blocks were partly reused. Expected values are the builder's: the grains it wrote and
 * could still be read, the grains placed by contiguity, and the sectors it made lost.
 */

const sum = (a: Uint32Array) => a.reduce((x, y) => x + y, 0);

describe.each(['contiguous', 'fd-intact'] as const)('damage map and report of a deleted delta (%s)', (kase) => {
  const tmp = makeTempDir('recovery-report-map-');
  let d: DeletedDeltaDump;
  let src: NodeFileSource;
  let scan: ScanResult;
  beforeAll(async () => {
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: kase, seed: kase === 'contiguous' ? 61 : 62, reuse: true, noise: false, oracle: false });
    src = await NodeFileSource.open(d.dump);
    scan = await scanForDeltas(await openDatastore([src]));
  }, 60_000);
  afterAll(async () => {
    await src?.close();
    tmp.cleanup();
  });

  it('the map counts each grain once: the builder\'s intact grains as recovered or guessed, its lost sectors as lost, in their buckets', async () => {
    const c = pickCandidate(scan, d.candidateId);
    const m = await grainDamageMap(c);
    const g = m.grainBytes;
    const grainSectors = g / 512;
    expect(m.totalGrains).toBe(Math.ceil(d.capacity / g));
    expect(sum(m.recovered) + sum(m.guessed) + sum(m.lost) + sum(m.parent) + sum(m.zero)).toBe(m.totalGrains);
    expect(sum(m.recovered) + sum(m.guessed)).toBe(d.expectedRecoverableGrains);
    expect(sum(m.guessed)).toBe(d.expectedGuessedGrains ?? 0);
    // Lost grains per bucket, straight from the builder's lost sector runs.
    const lost = new Array<number>(m.buckets).fill(0);
    for (const r of d.expectedLost) for (let s = r.sector; s < r.sector + r.sectors; s += grainSectors) lost[Math.floor(s / grainSectors / m.grainsPerBucket)]!++;
    expect(d.expectedLost.length).toBeGreaterThan(0); // reuse: true makes some
    expect([...m.lost]).toEqual(lost);
  });

  it('the report carries the builder\'s totals, the chosen parent, and the candidate as scan --json shows it', async () => {
    const c = pickCandidate(scan, d.candidateId);
    const out = { format: 'raw', files: ['x.img'], bytesWritten: d.capacity, verified: true };
    const rep = JSON.parse(JSON.stringify(recoveryReport(scan, c, d.parentPath, { tool: 'test', output: out, sha256: 'ab'.repeat(32), warnings: ['w'] }))) as Record<string, any>;
    expect(rep.tool).toBe('test');
    expect(rep.parent).toBe(d.parentPath);
    expect(rep.candidate.id).toBe(d.candidateId);
    expect(rep.totals.capacityBytes).toBe(d.capacity);
    expect(rep.totals.recoverableGrains + rep.totals.guessedGrains).toBe(d.expectedRecoverableGrains);
    expect(rep.totals.guessedGrains).toBe(d.expectedGuessedGrains ?? 0);
    expect(rep.totals.lostBytes).toBe(d.expectedLost.reduce((n, r) => n + r.sectors * 512, 0));
    expect(rep.output).toEqual(out);
    expect(rep.hashes).toEqual({ logicalSha256: 'ab'.repeat(32) });
    expect(rep.warnings.at(-1)).toBe('w');
    // One serializer: the report's candidate is the scan JSON's, key for key.
    const listed = (JSON.parse(JSON.stringify(scanJson(scan))) as { candidates: { id: string }[] }).candidates.find((x) => x.id === d.candidateId);
    expect(rep.candidate).toEqual(listed);
    expect(rep.candidate).toEqual(JSON.parse(JSON.stringify(candidateInfo(c))));
    // Not recovered yet: no output, no hashes.
    const bare = recoveryReport(scan, c, null, { output: null, sha256: null, warnings: [] }) as Record<string, unknown>;
    expect([bare.output, bare.hashes, bare.parent, 'tool' in bare]).toEqual([null, null, null, false]);
  });
});
