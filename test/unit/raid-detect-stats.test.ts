import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectRaid, RaidUndecidedError, toRaidConfig } from '../../src/core/raid/detect.js';
import { openRaid } from '../../src/core/raid/raid-source.js';
import { stripeFromRises } from '../../src/core/raid/stripe-stats.js';
import { VMFS_GPT_TYPE, writeGpt } from '../../src/core/synth/vmfs/partition-table.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildArray, type ArraySpec } from '../builders/raid.js';
import { SparseFile } from '../builders/vmfs/sparse-file.js';
import { rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * The statistics fallback for the stripe size (zero-to-nonzero transitions on chunk boundaries),
 * and a RAID whose members cannot tell two arrays apart.
 */
const tmp = makeTempDir('raid-stats-');
afterAll(() => tmp.cleanup());
const MiB = 1 << 20;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('stripeFromRises', () => {
  it('finds the stripe that the rises sit on (relative to each member start) and not twice it', () => {
    const r = rng(5);
    const stripe = 65536;
    const offsets = [1024, 0, 8192];
    // rises on chunk boundaries, at random rows (so about half of them also on 2 × stripe)
    const rises = offsets.map((off) => Array.from({ length: 40 }, () => off + (1 + Math.floor(r() * 4000)) * stripe));
    const st = stripeFromRises(rises, offsets);
    expect(st?.stripe).toBe(stripe);
    expect(st!.rises).toBe(120);
    // the same rises against wrong member starts say nothing
    expect(stripeFromRises(rises, [0, 512, 0])).toBeNull();
  });

  it('says nothing on too few rises, on rises at random sectors, or on rises aligned beyond the largest stripe', () => {
    const r = rng(6);
    expect(stripeFromRises([[65536, 131072]], [0])).toBeNull();
    expect(stripeFromRises([Array.from({ length: 500 }, () => (1 + Math.floor(r() * 1e6)) * 512)], [0])).toBeNull();
    expect(stripeFromRises([Array.from({ length: 100 }, (_, k) => (k + 1) * 64 * MiB)], [0])).toBeNull();
    // an unknown member start (null) is left out
    expect(stripeFromRises([Array.from({ length: 100 }, (_, k) => (2 * k + 1) * 32768)], [null])).toBeNull();
  });
});

/**
 * A LUN whose VMFS metadata is not there to read: a GPT, the LVM and FS descriptor magics, and
 * scattered data runs that start on 1 MiB boundaries (file blocks). The landmarks place every member
 * of a RAID 0 but fit 64 KiB and 128 KiB stripes alike; the transitions decide.
 */
function sparseLun(file: string, size: number, seed: number): void {
  const f = new SparseFile(file, size);
  writeGpt(f, [{ offset: MiB, length: size - 2 * MiB, typeGuid: VMFS_GPT_TYPE, name: 'vmfs' }], '11111111-2222-4333-8444-555555555555');
  const magic = (at: number, v: number) => {
    const b = new Uint8Array(512);
    new DataView(b.buffer).setUint32(0, v, true);
    b[100] = 7;
    f.write(at, b);
  };
  magic(2 * MiB, 0xc001d00d); // LVM header: partition + 1 MiB
  magic(20 * MiB, 0x2fabf15e); // FS descriptor: volume + 2 MiB
  const r = rng(seed);
  for (let k = 0; k < 120; k++) {
    const at = (24 + Math.floor(r() * (size / MiB - 26))) * MiB;
    const b = new Uint8Array((1 + Math.floor(r() * 2048)) * 512);
    for (let i = 0; i < b.length; i++) b[i] = 1 + Math.floor(r() * 255);
    f.write(at, b);
  }
  f.close();
}

describe('RAID detection: statistics fallback', () => {
  it('RAID 0 of 3, 64 KiB, shuffled: the stripe size comes from statistics, said so, at a lower confidence; the LUN assembles byte-exact', async () => {
    const lun = path.join(tmp.dir, 'stat-lun.img');
    // the backup GPT header ends on another member than the LVM header, so every member has a landmark
    const size = 192 * MiB - 65536;
    sparseLun(lun, size, 77);
    const spec: ArraySpec = { level: 'raid0', disks: 3, stripeBytes: 65536, offsets: [1024, 8192, 0], seed: 3 };
    const files = buildArray(lun, spec, tmp.dir, 'stat');
    const order = [2, 0, 1];
    const srcs = await Promise.all(order.map((d) => NodeFileSource.open(files[d]!)));
    try {
      const d = await detectRaid(srcs);
      expect({ level: d.level, stripeBytes: d.stripeBytes, roles: d.members.map((m) => m.role), offsets: d.members.map((m) => m.offsetBytes) }).toEqual({
        level: 'raid0', stripeBytes: 65536, roles: order, offsets: order.map((k) => spec.offsets[k]),
      });
      expect(d.evidence.join('\n')).toMatch(/stripe size from statistics, not landmarks/);
      expect(d.confidence).toBeLessThanOrEqual(0.6);
      const src = openRaid(toRaidConfig(d, srcs));
      expect(src.size).toBe(size);
      expect(sha(await src.read(0, size))).toBe(sha(readFileSync(lun)));
    } finally {
      await Promise.all(srcs.map((s) => s.close()));
    }
  }, 120_000);
});

describe('RAID detection: members that two arrays give alike', () => {
  // RAID 5 of 3, left-symmetric, one member missing. Array A keeps disks 0 and 2 of LUN A; array B
  // keeps disks 0 and 1 of LUN B, where LUN B's second chunk is what A's parity holds. Both are
  // consistent arrays, their members are byte-identical, and their LUNs differ: no detection can
  // know which one it holds, so it must refuse.
  it('RAID 5 with a member missing: identical members from two different LUNs are refused', async () => {
    const chunk = 65536;
    const lunA = path.join(tmp.dir, 'amb-a.img');
    const f = new SparseFile(lunA, 2 * chunk);
    writeGpt(f, [{ offset: 64 * 512, length: 2 * chunk - 128 * 512, typeGuid: VMFS_GPT_TYPE, name: 'vmfs' }], '11111111-2222-4333-8444-666666666666');
    f.close();
    const a = readFileSync(lunA);
    const b = new Uint8Array(a);
    for (let i = 0; i < chunk; i++) b[chunk + i] = a[i]! ^ a[chunk + i]!;
    const lunB = path.join(tmp.dir, 'amb-b.img');
    const fb = new SparseFile(lunB, b.length);
    fb.write(0, b);
    fb.close();
    const spec: ArraySpec = { level: 'raid5', disks: 3, stripeBytes: chunk, layout: 'left-symmetric', offsets: [0, 0, 0], seed: 4 };
    const filesA = buildArray(lunA, spec, tmp.dir, 'amb-a');
    const filesB = buildArray(lunB, spec, tmp.dir, 'amb-b');
    expect(sha(readFileSync(filesA[0]!))).toBe(sha(readFileSync(filesB[0]!)));
    expect(sha(readFileSync(filesA[2]!))).toBe(sha(readFileSync(filesB[1]!)));
    expect(sha(a)).not.toBe(sha(b));
    const srcs = await Promise.all([filesA[0]!, filesA[2]!].map((p) => NodeFileSource.open(p)));
    try {
      const e = await detectRaid(srcs).then(
        (d) => new Error(`detected ${JSON.stringify({ ...d, evidence: undefined })}`),
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(RaidUndecidedError);
      expect((e as Error).message).toMatch(/give --/);
    } finally {
      await Promise.all(srcs.map((s) => s.close()));
    }
  }, 60_000);
});
