import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByteSource } from '../../src/core/io/byte-source.js';
import { recoveredDisk, scanForDeltas } from '../../src/core/recovery/index.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { buildSeSparseV6Dump } from '../builders/recovery/sesparse-v6.js';
import { DATA_OFFSET } from '../builders/vmfs/index.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';
import { PatchedSource } from '../helpers/patched-source.js';

/**
 * A deleted COWD delta sits in free space (FD zeroed, contiguous); its header, GD and grain tables
 * are mutated in place (an overlay over the dump) and the whole scan + recovery must end within
 * 1 s in a result or a RescueError, never a crash or a hang.
 */

/**
 * FUZZ_CASES mutations of `original` (within `regions`) laid over the dump at `at`: each scan and
 * recovery of the top two candidates (their maps, first MiB and, with `readTail`, last 4 KiB) must
 * end in a result or a RescueError within 1 s. Returns how many ended in a result.
 */
async function fuzzScans(label: string, r: ReturnType<typeof rng>, src: ByteSource, at: number, original: Uint8Array, regions: [number, number][], readTail: boolean): Promise<number> {
  let results = 0;
  for (let i = 0; i < FUZZ_CASES; i++) {
    const patch = mutate(original, r, regions);
    const outcome = await fuzzCase(label, i, async () => {
      const ds = await openDatastore([new PatchedSource(src, [{ at, bytes: patch }])]);
      const scan = await scanForDeltas(ds);
      for (const c of scan.candidates.slice(0, 2)) {
        const { disk } = await recoveredDisk(ds, c, c.parent);
        await disk.mapRange(0, disk.size);
        await disk.read(0, Math.min(disk.size, 1 << 20));
        if (readTail) await disk.read(Math.max(0, disk.size - 4096), Math.min(disk.size, 4096));
      }
    });
    if (outcome === 'ok') results++;
  }
  return results;
}

describe('recovery fuzz: mutated carved COWD metadata in free space', () => {
  const tmp = makeTempDir('recovery-fuzz-');
  let d: DeletedDeltaDump;
  let src: NodeFileSource;
  let blockAt: number;
  let original: Uint8Array;
  let regions: [number, number][];
  beforeAll(async () => {
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 7, reuse: true, noise: false, oracle: false });
    src = await NodeFileSource.open(d.dump, path.basename(d.dump));
    // The delta's first FS block: header, GD and the first grain tables.
    blockAt = d.manifest.luns[0]!.partitionOffset + DATA_OFFSET + d.headerBlock * d.manifest.blockSize;
    original = (await src.read(blockAt, d.manifest.blockSize)).slice();
    const gts = [...d.gtSectors.values()].map((s) => s * 512).filter((o) => o + 16384 <= original.length);
    regions = [[0, 0x20], [0x20, 0x800], [0x800, 0x880], ...gts.slice(0, 3).map((o): [number, number] => [o, o + 16384])];
  }, 60_000);
  afterAll(async () => {
    await src?.close();
    tmp.cleanup();
  });

  it('unmutated: the delta is found', async () => {
    const r = await scanForDeltas(await openDatastore([src]));
    expect(r.candidates[0]?.id).toBe(d.candidateId);
  });

  it(`${FUZZ_CASES} mutated cases end in a result or a RescueError within 1 s`, async () => {
    const results = await fuzzScans('recovery scan', rng(0x5eed), src, blockAt, original, regions, true);
    expect(results).toBeGreaterThan(0);
  }, 600_000);
});

describe('recovery fuzz: mutated carved seSparse metadata on VMFS6', () => {
  const tmp = makeTempDir('recovery-fuzz-v6-');
  let d: DeletedDeltaDump;
  let src: NodeFileSource;
  let at: number;
  let original: Uint8Array;
  let regions: [number, number][];
  const SPAN = 4 * 1024 * 1024; // const/volatile headers, GD (2 MiB) and the GT area (3 MiB)
  beforeAll(async () => {
    d = await buildSeSparseV6Dump({ dir: tmp.dir, seed: 9, reuse: false, oracle: false });
    src = await NodeFileSource.open(d.dump, path.basename(d.dump));
    at = d.manifest.luns[0]!.partitionOffset + DATA_OFFSET + d.headerBlock * d.manifest.blockSize;
    original = (await src.read(at, SPAN)).slice();
    const gdOff = Number(new DataView(original.buffer).getBigUint64(0x80, true)) * 512;
    const gtOff = Number(new DataView(original.buffer).getBigUint64(0x90, true)) * 512;
    regions = [[0, 0xd0], [0x200, 0x220], [gdOff, gdOff + 64], [gtOff, gtOff + 32768]];
  }, 60_000);
  afterAll(async () => {
    await src?.close();
    tmp.cleanup();
  });

  it('unmutated: the delta is found', async () => {
    const r = await scanForDeltas(await openDatastore([src]));
    expect(r.candidates[0]?.id).toBe(d.candidateId);
    expect(r.candidates[0]?.format).toBe('seSparse');
  });

  it(`${FUZZ_CASES} mutated cases end in a result or a RescueError within 1 s`, async () => {
    const results = await fuzzScans('recovery scan (seSparse)', rng(0x5e5e), src, at, original, regions, false);
    expect(results).toBeGreaterThan(0);
  }, 600_000);
});
