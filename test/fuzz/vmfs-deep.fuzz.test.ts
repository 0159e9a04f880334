import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RescueError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { LANDMARK_SPAN, parseLandmark } from '../../src/core/vmfs/deep/landmarks.js';
import { findDeepVolumes, openDeepVolume } from '../../src/core/vmfs/deep/open.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { fixtureImage } from '../helpers/vmfs3-fixture.js';

/**
 * The deep search's landmark parsers and geometry rebuild on mutated metadata of the real VMFS3
 * image (LVM header, FS descriptor, FDC cluster headers, system and file FDs, root directory):
 * each parser call returns a landmark or null, and a whole search plus a listing of every volume
 * found ends within its budget in a result or a RescueError.
 */
const VOL = 0x1100000;
/** The image's first 27 MiB: tables, descriptor, FDC and the first resource files. */
const WINDOW = VOL + 0xa00000;

const REGIONS: [number, number][] = [
  [0x100000, 0x1400],
  [VOL + 0x200000, 0x200],
  [VOL + 0x410000, 0x2000],
  [VOL + 0x418000, 0x3000],
  [VOL + 0x478000, 0x5000],
  [VOL + 0x500000, 0x900],
  [VOL + 0x600000, 0x2000],
];

describe('deep search fuzz (real VMFS3 seed)', () => {
  let window: Uint8Array;
  beforeAll(async () => {
    const src = await NodeFileSource.open(await fixtureImage());
    try {
      window = (await src.read(0, WINDOW)).slice();
    } finally {
      await src.close();
    }
  });
  afterAll(() => {
    window = new Uint8Array(0);
  });

  it(`${FUZZ_CASES} mutated landmark buffers: every sector parses to a landmark or null`, async () => {
    let found = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const r = rng(seed);
      const [at, len] = REGIONS[Math.floor(r() * REGIONS.length)]!;
      const b = mutate(window.subarray(at, at + len + LANDMARK_SPAN), r);
      await fuzzCase('landmarks', seed, async () => {
        for (let i = 0; i < b.length; i += 512) if (parseLandmark(b, i, at + i)) found++;
      });
    }
    expect(found).toBeGreaterThan(0);
  });

  it(`${Math.min(FUZZ_CASES, 40)} mutated volumes: search, open and list end in a result or a RescueError`, async () => {
    let results = 0;
    for (let seed = 1; seed <= Math.min(FUZZ_CASES, 40); seed++) {
      const r = rng(seed * 7919);
      const img = window.slice();
      for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
        const [at, len] = REGIONS[Math.floor(r() * REGIONS.length)]!;
        img.set(mutate(img.subarray(at, at + len), r).subarray(0, len), at);
      }
      const res = await fuzzCase('deep search', seed, async () => {
        const src = new MemorySource(img, 'mutated');
        const found = await findDeepVolumes([src], { metadataZone: 8 << 20 });
        for (const v of found.volumes) {
          const ds = await openDeepVolume([src], v.uuid, { found }).catch((e: unknown) => {
            if (e instanceof RescueError) return null;
            throw e;
          });
          if (ds) await ds.readdir('/').catch((e: unknown) => {
            if (!(e instanceof RescueError)) throw e;
          });
        }
        return found.volumes.length;
      }, 5000);
      if (res === 'ok') results++;
    }
    expect(results).toBeGreaterThan(0);
  }, 300_000);
});
