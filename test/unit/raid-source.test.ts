import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import { openRaid } from '../../src/core/raid/raid-source.js';
import type { ParityLayout, RaidLevel } from '../../src/core/raid/layout.js';
import { buildArray, type ArraySpec } from '../builders/raid.js';
import { makeTempDir } from '../helpers/tools.js';

/** Arrays cut by the test builder (md's reverse mapping) from a random LUN, read back through openRaid. */
const tmp = makeTempDir('raid-src-');
afterAll(() => tmp.cleanup());

const LUN = 3 * 65536 * 7 + 4096 * 3; // not a whole number of rows
const lunPath = path.join(tmp.dir, 'lun.img');
const lun = new Uint8Array(randomBytes(LUN));
// zero runs, so sparse members and all-zero rows are exercised
lun.fill(0, 100000, 300000);
writeFileSync(lunPath, lun);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let case_ = 0;
async function check(spec: ArraySpec, missing: number[]): Promise<void> {
  const dir = tmp.dir;
  const files = buildArray(lunPath, { ...spec, seed: 11 + case_ }, dir, `c${case_++}`);
  const members: (ByteSource | null)[] = files.map((f, i) => (missing.includes(i) ? null : new MemorySource(new Uint8Array(readFileSync(f)), f)));
  const src = openRaid({ level: spec.level as RaidLevel, disks: spec.disks, stripeBytes: spec.stripeBytes, layout: (spec.layout ?? null) as ParityLayout | null, parityDelay: spec.parityDelay ?? 1, members, offsets: spec.offsets, sizeBytes: LUN });
  expect(src.size).toBe(LUN);
  expect(sha(await src.read(0, LUN))).toBe(sha(lun));
  // unaligned small reads across chunk edges
  for (const [o, l] of [[65536 - 7, 20], [4095, 65539], [LUN - 5, 5], [123457, 1]] as const) {
    expect(Buffer.from(await src.read(o, l)).equals(Buffer.from(lun.subarray(o, o + l)))).toBe(true);
  }
}

const layouts: ParityLayout[] = ['left-symmetric', 'left-asymmetric', 'right-symmetric', 'right-asymmetric'];

describe('openRaid assembles what the builder cut', () => {
  it('raid0, raid1, raid10, jbod', async () => {
    await check({ level: 'raid0', disks: 3, stripeBytes: 65536, offsets: [512, 0, 4096] }, []);
    await check({ level: 'raid1', disks: 2, stripeBytes: 0, offsets: [1024, 0] }, [0]);
    await check({ level: 'raid10', disks: 4, stripeBytes: 4096, offsets: [0, 512, 1024, 1536] }, [1, 2]);
    await check({ level: 'jbod', disks: 3, stripeBytes: 0, offsets: [512, 0, 8192], jbodSplit: [300000, 500000] }, []);
  });
  for (const layout of layouts) {
    it(`raid5 ${layout}: whole, each member missing, delay 3`, async () => {
      await check({ level: 'raid5', disks: 4, stripeBytes: 65536, layout, offsets: [0, 512, 1024, 2048] }, []);
      for (let m = 0; m < 4; m++) await check({ level: 'raid5', disks: 4, stripeBytes: 65536, layout, offsets: [0, 512, 1024, 2048] }, [m]);
      await check({ level: 'raid5', disks: 3, stripeBytes: 4096, layout, parityDelay: 3, offsets: [4096, 0, 512] }, [1]);
    });
    it(`raid6 ${layout}: whole, every pair missing`, async () => {
      const spec: ArraySpec = { level: 'raid6', disks: 5, stripeBytes: 16384, layout, offsets: [0, 512, 1024, 2048, 512] };
      await check(spec, []);
      for (let a = 0; a < 5; a++) for (let b = a; b < 5; b++) await check(spec, a === b ? [a] : [a, b]);
      await check({ ...spec, disks: 6, parityDelay: 2, offsets: [0, 0, 0, 0, 0, 0] }, [0, 3]);
    });
  }
  it('refuses too many missing members', () => {
    expect(() => openRaid({ level: 'raid5', disks: 3, stripeBytes: 4096, layout: 'left-symmetric', parityDelay: 1, members: [null, null, new MemorySource(new Uint8Array(8192))], offsets: [0, 0, 0] })).toThrow(/at most 1/);
  });
});
