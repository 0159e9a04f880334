import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoveredDisk, scanForDeltas } from '../../src/core/recovery/index.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildVmfs6FreedDump, type V6FreedDump } from '../builders/recovery/vmfs6-freed.js';
import { DATA_OFFSET } from '../builders/vmfs/index.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';
import { PatchedSource } from '../helpers/patched-source.js';

/**
 * VMFS6 freed-metadata evidence under damage: a deleted seSparse delta whose freed FD (8 KiB, u64
 * slots) and freed pointer block (a 64 KiB sub-block of u64 entries) survive; both are mutated in
 * place (overlays over the dump) and the scan + recovery of the top candidates must end within
 * 1 s in a result or a RescueError.
 */

/** The whole 1 GiB disk mapped in the largest pieces a read may ask for. */
async function mapAll(disk: { size: number; mapRange(offset: number, length: number): Promise<unknown> }): Promise<void> {
  const step = 256 * 1024 * 1024;
  for (let at = 0; at < disk.size; at += step) await disk.mapRange(at, Math.min(step, disk.size - at));
}

describe('recovery fuzz: mutated freed FD and pointer block on VMFS6', () => {
  const tmp = makeTempDir('recovery-fuzz-v6-freed-');
  let d: V6FreedDump;
  let src: NodeFileSource;
  let fdAt: number;
  let pbAt: number;
  let fd: Uint8Array;
  let pb: Uint8Array;
  beforeAll(async () => {
    d = await buildVmfs6FreedDump({ dir: tmp.dir, seed: 13, case: 'fd-intact', addressing: 'pointer', oracle: false });
    src = await NodeFileSource.open(d.dump, path.basename(d.dump));
    const base = d.manifest.luns[0]!.partitionOffset + DATA_OFFSET;
    fdAt = base + d.fdVolOffset;
    pbAt = base + d.pbVolOffset!;
    fd = (await src.read(fdAt, 8192)).slice();
    pb = (await src.read(pbAt, 65536)).slice();
  }, 120_000);
  afterAll(async () => {
    await src?.close();
    tmp.cleanup();
  });

  it('unmutated: the delta is rebuilt from its freed FD, the freed PB agreeing', async () => {
    const r = await scanForDeltas(await openDatastore([src]));
    const top = r.candidates[0]!;
    expect(top.id).toBe(d.candidateId);
    expect(top.method).toBe('fd');
    expect(top.evidence.map((e) => e.kind)).toEqual(expect.arrayContaining(['freed-fd', 'freed-pb']));
    const { disk } = await recoveredDisk(await openDatastore([src]), top, top.parent);
    await mapAll(disk);
  });

  it(`${FUZZ_CASES} mutated cases end in a result or a RescueError within 1 s`, async () => {
    const r = rng(0x6f6d);
    // FD: lock, metadata (length, block size, ZLA, shift), the first slots; PB: the first entries.
    const fdRegions: [number, number][] = [[0, 0x10], [0x1000, 0x1094], [0x1600, 0x1700]];
    const pbRegions: [number, number][] = [[0, 0x100]];
    let results = 0;
    for (let i = 0; i < FUZZ_CASES; i++) {
      const which = r();
      const patches = [
        { at: fdAt, bytes: which < 0.7 ? mutate(fd, r, fdRegions) : fd },
        { at: pbAt, bytes: which >= 0.4 ? mutate(pb, r, pbRegions) : pb },
      ];
      const outcome = await fuzzCase('recovery scan (VMFS6 freed FD / PB)', i, async () => {
        const ds = await openDatastore([new PatchedSource(src, patches)]);
        const scan = await scanForDeltas(ds);
        for (const c of scan.candidates.slice(0, 2)) {
          const { disk } = await recoveredDisk(ds, c, c.parent);
          await mapAll(disk);
          await disk.read(0, Math.min(disk.size, 1 << 20));
        }
      });
      if (outcome === 'ok') results++;
    }
    expect(results).toBeGreaterThan(0);
  }, 600_000);
});
