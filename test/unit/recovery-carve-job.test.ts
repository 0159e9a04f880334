import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { buildVmfs, standardBuild } from '../builders/vmfs/index.js';
import { carveFreeRange, planFreeRanges } from '../../src/core/recovery/index.js';
import { carveJob, carveJobs } from '../../src/core/recovery/carve-job.js';
import { openDatastore, type Datastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * A free-space range carved from plain file reads (a carve worker that does not open the
 * datastore) finds what carveFreeRange finds on the opened datastore: on a GPT dump with a deleted
 * delta, another VM's delta and garbage headers, and on a volume spanned over two LUN dumps (its
 * blocks mapped through the LVM to either file). Jobs cross postMessage / IndexedDB as JSON.
 */
async function sameAsOpened(ds: Datastore, files: NodeFileSource[], n: number): Promise<number> {
  const plan = await planFreeRanges(ds, n);
  const jobs = await carveJobs(ds, plan.ranges, files);
  expect(jobs).not.toBeNull();
  let headers = 0;
  for (const [i, job] of jobs!.entries()) {
    const viaJob = await carveJob(files, JSON.parse(JSON.stringify(job)));
    const opened = await carveFreeRange(ds, plan.ranges[i]!);
    expect(viaJob).toEqual(opened);
    headers += opened.headers.length;
  }
  return headers;
}

describe('carve jobs (free-space ranges as plain file reads)', () => {
  const tmp = makeTempDir('recovery-carve-job-');
  let d: DeletedDeltaDump;
  const open: NodeFileSource[] = [];
  beforeAll(async () => {
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 53, reuse: true, noise: true, oracle: false });
  }, 60_000);
  afterAll(async () => {
    for (const s of open) await s.close();
    tmp.cleanup();
  });

  it('equal the opened datastore on a GPT dump with deltas and garbage headers', async () => {
    const src = await NodeFileSource.open(d.dump);
    open.push(src);
    const ds = await openDatastore([src]);
    for (const n of [1, 3, 8]) expect(await sameAsOpened(ds, [src], n)).toBeGreaterThanOrEqual(2); // the delta and the foreign one
    const whole = await carveJob([src], (await carveJobs(ds, [{ startBlock: 0, endBlock: 1 << 30 }], [src]))![0]!);
    expect(whole.headers.map((h) => h.block)).toEqual(expect.arrayContaining([d.headerBlock, d.foreignHeaderBlock]));
    // Paced (few reads in flight, then the full window, as a carve worker is while the early list
    // is built): the same evidence, and never more reads in flight than the pace allows.
    let inFlight = 0;
    let most = 0;
    let reads = 0;
    const counted = { size: src.size, name: src.name, read: async (o: number, l: number) => { most = Math.max(most, ++inFlight); reads++; try { return await src.read(o, l); } finally { inFlight--; } } };
    const paced = await carveJob([counted], (await carveJobs(ds, [{ startBlock: 0, endBlock: 1 << 30 }], [src]))![0]!, {}, () => (reads < 20 ? 3 : 32));
    expect(paced).toEqual(whole);
    expect(most).toBeLessThanOrEqual(32);
    let early = 0;
    inFlight = 0;
    reads = 0;
    const slow = { ...counted, read: async (o: number, l: number) => { if (reads < 19) early = Math.max(early, inFlight + 1); return counted.read(o, l); } };
    await carveJob([slow], (await carveJobs(ds, [{ startBlock: 0, endBlock: 1 << 30 }], [src]))![0]!, {}, () => (reads < 20 ? 3 : 32));
    expect(early).toBeLessThanOrEqual(3);
  });

  it('equal the opened datastore on a volume spanned over two dumps, reads going to both files', async () => {
    mkdirSync(`${tmp.dir}/span`);
    const m = await buildVmfs(standardBuild('span5', `${tmp.dir}/span`));
    const srcs = await Promise.all(m.luns.map((l) => NodeFileSource.open(l.path)));
    open.push(...srcs);
    // Picked in the other order: jobs name the files by their place in the list given.
    const files = [...srcs].reverse();
    const ds = await openDatastore(files);
    await sameAsOpened(ds, files, 4);
    const jobs = (await carveJobs(ds, (await planFreeRanges(ds, 4)).ranges, files))!;
    const used = new Set(jobs.flatMap((j) => j.runs.map((r) => r.file)));
    expect([...used].filter((f) => f >= 0).sort()).toEqual([0, 1]);
  });

  it('refuse a job that is not one', async () => {
    await expect(carveJob([], { range: { startBlock: 0, endBlock: 1 }, blockSize: 0, volumeSize: 0, runs: [] })).rejects.toThrow(/invalid carve job/);
  });
});
