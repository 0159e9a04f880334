import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { toRaidConfig } from '../../src/core/raid/detect.js';
import { givenDetection } from '../../src/core/raid/given.js';
import { openRaid } from '../../src/core/raid/raid-source.js';
import { formOf, overridesOf, type RaidForm } from '../../src/app/state/raid-form.js';
import { buildArray, type ArraySpec } from '../builders/raid.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * The app's RAID form as the user fills it in with the parameters an array was cut with (test
 * builder, md's reverse mapping): members picked shuffled, one missing. Its overrides, taken as
 * given (core givenDetection, as the RAID worker does), must present the LUN byte for byte, and
 * the form of that array must be the form entered.
 */
const tmp = makeTempDir('raid-form-');
afterAll(() => tmp.cleanup());
const LUN = 5 * 65536 * 6;
const lunPath = path.join(tmp.dir, 'lun.img');
const lun = new Uint8Array(randomBytes(LUN));
writeFileSync(lunPath, lun);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function roundTrip(spec: ArraySpec, picked: number[], roleOf: (disk: number) => number): Promise<void> {
  const files = buildArray(lunPath, spec, tmp.dir, `${spec.level}-${picked.join('')}`);
  const sources = picked.map((disk) => new MemorySource(new Uint8Array(readFileSync(files[disk]!)), path.basename(files[disk]!)));
  const form: RaidForm = {
    level: spec.level,
    disks: spec.disks,
    stripeBytes: spec.stripeBytes,
    layout: spec.layout ?? 'left-symmetric',
    parityDelay: spec.parityDelay ?? 1,
    roles: picked.map(roleOf),
    offsets: picked.map((disk) => spec.offsets[disk]!),
  };
  const det = givenDetection(overridesOf(form), sources);
  expect(det).not.toBeNull();
  expect(det!.missing).toBe(spec.disks - picked.length);
  const src = openRaid({ ...toRaidConfig(det!, sources), sizeBytes: LUN });
  expect(sha(await src.read(0, LUN))).toBe(sha(lun));
  const back = formOf(det!);
  expect(back.roles).toEqual(form.roles);
  expect(back.offsets).toEqual(form.offsets);
  expect(back.disks).toBe(form.disks);
}

describe('the app RAID form, taken as given', () => {
  it('raid5 of 5, delayed parity, shuffled, one member missing', async () => {
    const spec: ArraySpec = { level: 'raid5', disks: 5, stripeBytes: 65536, layout: 'right-asymmetric', parityDelay: 3, offsets: [512, 0, 4096, 65536, 1024], seed: 3 };
    await roundTrip(spec, [4, 0, 3, 1], (d) => d);
  });

  it('raid6 of 5, shuffled, two members missing', async () => {
    const spec: ArraySpec = { level: 'raid6', disks: 5, stripeBytes: 16384, layout: 'left-symmetric', offsets: [0, 8192, 512, 0, 2048], seed: 4 };
    await roundTrip(spec, [2, 4, 0], (d) => d);
  });

  it('raid10 of 4: both copies of a column share its role', async () => {
    const spec: ArraySpec = { level: 'raid10', disks: 4, stripeBytes: 65536, offsets: [0, 4096, 512, 0], seed: 5 };
    await roundTrip(spec, [3, 1, 0, 2], (d) => d >> 1);
  });

  it('a re-check sends only what the user changed', () => {
    const form: RaidForm = { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'left-symmetric', parityDelay: 1, roles: [0, 1, 2, 3], offsets: [0, 0, 0, 0] };
    const ov = overridesOf(form, new Set(['layout']));
    expect(Object.keys(ov)).toEqual(['layout']);
    expect(overridesOf(form, new Set(['roles'])).order).toEqual([0, 1, 2, 3]);
  });
});
