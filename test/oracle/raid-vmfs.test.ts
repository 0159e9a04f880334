import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { detectRaid, RaidUndecidedError, toRaidConfig } from '../../src/core/raid/detect.js';
import { openRaid } from '../../src/core/raid/raid-source.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildArray, type ArraySpec } from '../builders/raid.js';
import { buildVmfs, MiB, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';

/**
 * RAID arrays cut (test/builders/raid.ts, md's reverse mapping) from VMFS5 and VMFS6 LUN dumps of
 * the synthetic builder, with pseudo-random "controller metadata" of a different length before each
 * member's data, members given shuffled and some missing. Detection must find exactly the
 * parameters the array was cut with; the assembled LUN must hash like the source LUN (sha256sum);
 * the datastore read through --member must list and cat like debugvmfs reads the source dump.
 */
const oracles = oracleAvailable('debugvmfs', 'dd', 'sha256sum');
const tmp = makeTempDir('raid-vmfs-');
afterAll(() => tmp.cleanup());

const lun: Record<5 | 6, { manifest: Manifest; path: string; sha: string }> = {} as never;

beforeAll(async () => {
  for (const version of [5, 6] as const) {
    const manifest = await buildVmfs({
      version, dir: tmp.dir, name: `raid${version}`, label: `raid-ds${version}`, seed: 16 + version, fdcGroups: 16,
      luns: [{ scheme: 'gpt', segments: 1 }],
      files: [
        { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
        { path: '/vm1/vm1.vmdk', kind: 'resident', size: 500 },
        { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: 24 * MiB, blocks: [{ index: 0, content: 'data' }, { index: 3, content: 'data' }, { index: 20, content: 'data', dataLength: MiB }] },
        { path: '/notes/a.txt', kind: 'resident', size: 300 },
      ],
    });
    const p = manifest.luns[0]!.path;
    lun[version] = { manifest, path: p, sha: sha256File(p) };
  }
}, 300_000);

interface Case {
  version: 5 | 6;
  spec: Omit<ArraySpec, 'offsets'>;
  missing?: number[];
}

const CASES: Case[] = [
  { version: 5, spec: { level: 'raid0', disks: 3, stripeBytes: 4096 } },
  { version: 5, spec: { level: 'raid1', disks: 2, stripeBytes: 0 } },
  { version: 5, spec: { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'left-symmetric' } },
  { version: 5, spec: { level: 'raid5', disks: 4, stripeBytes: 131072, layout: 'left-asymmetric' }, missing: [2] },
  { version: 5, spec: { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'right-symmetric', parityDelay: 4 } },
  { version: 5, spec: { level: 'raid5', disks: 3, stripeBytes: 32768, layout: 'right-asymmetric' }, missing: [0] },
  { version: 5, spec: { level: 'raid6', disks: 5, stripeBytes: 16384, layout: 'left-symmetric' } },
  { version: 5, spec: { level: 'raid10', disks: 4, stripeBytes: 65536 }, missing: [3] },
  { version: 5, spec: { level: 'jbod', disks: 2, stripeBytes: 0, jbodSplit: [100 * MiB + 4096] } },
  { version: 6, spec: { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'right-asymmetric' }, missing: [0] },
  { version: 6, spec: { level: 'raid6', disks: 5, stripeBytes: 32768, layout: 'right-symmetric' }, missing: [4] },
  { version: 6, spec: { level: 'raid6', disks: 6, stripeBytes: 16384, layout: 'left-asymmetric', parityDelay: 2 } },
  { version: 6, spec: { level: 'raid0', disks: 2, stripeBytes: 8192 } },
  // Every md layout and delayed parity with members missing: RAID 5 with one, RAID 6 with one and two.
  { version: 6, spec: { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'left-symmetric' }, missing: [1] },
  { version: 5, spec: { level: 'raid5', disks: 5, stripeBytes: 32768, layout: 'right-symmetric' }, missing: [3] },
  { version: 6, spec: { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'left-asymmetric', parityDelay: 4 }, missing: [2] },
  { version: 5, spec: { level: 'raid5', disks: 4, stripeBytes: 16384, layout: 'right-asymmetric', parityDelay: 3 }, missing: [0] },
  { version: 5, spec: { level: 'raid6', disks: 6, stripeBytes: 16384, layout: 'left-symmetric' }, missing: [0, 3] },
  { version: 6, spec: { level: 'raid6', disks: 6, stripeBytes: 32768, layout: 'left-asymmetric' }, missing: [1, 5] },
  { version: 5, spec: { level: 'raid6', disks: 5, stripeBytes: 65536, layout: 'right-symmetric' }, missing: [2, 4] },
  { version: 6, spec: { level: 'raid6', disks: 6, stripeBytes: 16384, layout: 'right-asymmetric' }, missing: [0, 2] },
  { version: 5, spec: { level: 'raid6', disks: 6, stripeBytes: 16384, layout: 'left-symmetric', parityDelay: 2 }, missing: [1, 4] },
  { version: 5, spec: { level: 'raid6', disks: 6, stripeBytes: 32768, layout: 'left-asymmetric' }, missing: [2] },
  { version: 6, spec: { level: 'raid6', disks: 5, stripeBytes: 65536, layout: 'right-asymmetric', parityDelay: 2 }, missing: [3] },
];

const caseName = (c: Case) =>
  `VMFS${c.version} ${c.spec.level} of ${c.spec.disks}${c.spec.stripeBytes ? ` ${c.spec.stripeBytes / 1024} KiB` : ''}${c.spec.layout ? ` ${c.spec.layout}` : ''}${c.spec.parityDelay ? ` delay ${c.spec.parityDelay}` : ''}${c.missing ? ` missing ${c.missing.join('+')}` : ''}`;

/** Deterministic shuffle and start offsets per case. */
function rng(seed: number) {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

const cli = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), errIsTTY: false });
  return { code, out, err };
};

async function sha256Of(src: { size: number; read(o: number, l: number): Promise<Uint8Array> }): Promise<string> {
  const h = createHash('sha256');
  for (let o = 0; o < src.size; o += 8 * MiB) h.update(await src.read(o, Math.min(8 * MiB, src.size - o)));
  return h.digest('hex');
}

describe.skipIf(!oracles)('RAID members cut from VMFS dumps', () => {
  CASES.forEach((c, k) => {
    it(caseName(c), async () => {
      const r = rng(1000 + k);
      const offsets = Array.from({ length: c.spec.disks }, () => Math.floor(r() * 2048) * 512);
      const spec: ArraySpec = { ...c.spec, offsets, seed: 77 + k };
      const files = buildArray(lun[c.version].path, spec, tmp.dir, `case${k}`);
      const kept = files.map((f, disk) => ({ f, disk })).filter((x) => !c.missing?.includes(x.disk));
      // shuffled
      for (let i = kept.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [kept[i], kept[j]] = [kept[j]!, kept[i]!];
      }
      const srcs = await Promise.all(kept.map((x) => NodeFileSource.open(x.f)));
      try {
        const d = await detectRaid(srcs);
        const parity = c.spec.level === 'raid5' || c.spec.level === 'raid6';
        expect({ level: d.level, stripeBytes: d.stripeBytes, layout: d.layout, parityDelay: d.parityDelay, missing: d.missing }).toEqual({
          level: c.spec.level,
          stripeBytes: c.spec.level === 'raid1' || c.spec.level === 'jbod' ? null : c.spec.stripeBytes,
          layout: c.spec.layout ?? null,
          parityDelay: parity ? (c.spec.parityDelay ?? 1) : null,
          missing: c.missing?.length ?? 0,
        });
        expect(d.members.map((m) => m.offsetBytes)).toEqual(kept.map((x) => offsets[x.disk]));
        if (c.spec.level !== 'raid1') expect(d.members.map((m) => m.role)).toEqual(kept.map((x) => (c.spec.level === 'raid10' ? x.disk >> 1 : x.disk)));
        expect(d.sizeBytes).toBe(readFileSync(lun[c.version].path).length);
        expect(await sha256Of(openRaid(toRaidConfig(d, srcs)))).toBe(lun[c.version].sha);
      } finally {
        await Promise.all(srcs.map((s) => s.close()));
      }
    }, 300_000);
  });

  /** Detection on the members `kept` (disk numbers) of `spec`: exact, or refused with what was found; true when exact. */
  async function exactOrRefused(spec: ArraySpec, files: string[], kept: number[]): Promise<boolean> {
    const srcs = await Promise.all(kept.map((d) => NodeFileSource.open(files[d]!)));
    try {
      const d = await detectRaid(srcs).catch((e: unknown) => e);
      if (d instanceof RaidUndecidedError) {
        expect(d.message).toMatch(/give --|contradict every fitting layout/);
        return false;
      }
      const det = d as Awaited<ReturnType<typeof detectRaid>>;
      expect({ level: det.level, stripeBytes: det.stripeBytes, layout: det.layout, parityDelay: det.parityDelay, disks: det.disks }).toEqual({
        level: spec.level, stripeBytes: spec.stripeBytes, layout: spec.layout, parityDelay: spec.parityDelay ?? 1, disks: spec.disks,
      });
      expect(det.members.map((m) => [m.role, m.offsetBytes])).toEqual(kept.map((k) => [k, spec.offsets[k]]));
      expect(await sha256Of(openRaid(toRaidConfig(det, srcs)))).toBe(lun[5].sha);
      return true;
    } finally {
      await Promise.all(srcs.map((s) => s.close()));
    }
  }

  it('RAID 6 with two members missing: exact, or refused with what was found (never a wrong array)', async () => {
    const spec: ArraySpec = { level: 'raid6', disks: 6, stripeBytes: 16384, layout: 'left-symmetric', offsets: [0, 512, 65536, 4096, 1024, 2048], seed: 3 };
    await exactOrRefused(spec, buildArray(lun[5].path, spec, tmp.dir, 'r6m2'), [5, 3, 2, 0]);
  }, 300_000);

  // Left-symmetric and left-asymmetric RAID 6 of 5 put P and Q on the same disks and differ only in
  // the data order of two rows in five; with one member missing, a member's landmarks can fit a data
  // role and a parity role alike. One redundancy is left (P or Q, a missing data chunk rebuilt from P
  // and checked by Q), and it must decide: every member in turn is the missing one, each exact.
  it('RAID 6 of 5, 16 KiB, left-symmetric, one member missing (each in turn): exact', async () => {
    const spec: ArraySpec = { level: 'raid6', disks: 5, stripeBytes: 16384, layout: 'left-symmetric', offsets: [1536, 0, 65536, 4096, 2048], seed: 83 };
    const files = buildArray(lun[5].path, spec, tmp.dir, 'r6m1');
    const exact: number[] = [];
    for (const missing of [0, 1, 2, 3, 4]) {
      const kept = [4, 3, 2, 1, 0].filter((d) => d !== missing);
      if (await exactOrRefused(spec, files, kept)) exact.push(missing);
    }
    expect(exact).toEqual([0, 1, 2, 3, 4]);
  }, 300_000);

  it('CLI: raid detect --json, raid assemble (sparse, sha256 last) and ls / cat through --member agree with debugvmfs on the source', async () => {
    const spec: ArraySpec = { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'left-symmetric', offsets: [1536, 0, 65536, 4096], seed: 5 };
    const files = buildArray(lun[5].path, spec, tmp.dir, 'cli');
    const members = [files[3]!, files[0]!, files[1]!].flatMap((f) => ['--member', f]);
    const det = await cli(['raid', 'detect', ...members, '--json']);
    expect(det.code, det.err.join('\n')).toBe(0);
    const j = JSON.parse(det.out.join('\n')) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(['level', 'stripeBytes', 'layout', 'parityDelay', 'members', 'missing', 'sizeBytes', 'confidence', 'evidence']);
    expect(j.members).toEqual([
      { file: files[3], role: 3, offsetBytes: 4096 },
      { file: files[0], role: 0, offsetBytes: 1536 },
      { file: files[1], role: 1, offsetBytes: 0 },
    ]);
    expect(j.missing).toBe(1);

    const out = path.join(tmp.dir, 'assembled.img');
    const asm = await cli(['raid', 'assemble', ...members, '--out', out]);
    expect(asm.code, asm.err.join('\n')).toBe(0);
    expect(asm.out.at(-1)).toBe(lun[5].sha);
    expect(sha256File(out)).toBe(lun[5].sha);
    // members are never written: an --out on a member is refused
    expect((await cli(['raid', 'assemble', ...members, '--out', files[0]!])).code).toBe(1);

    // debugvmfs on the source partition is the reference for ls and cat
    const l = lun[5].manifest.luns[0]!;
    const part = path.join(tmp.dir, 'src-part.img');
    run('dd', [`if=${l.path}`, `of=${part}`, 'bs=1M', `skip=${l.partitionOffset / MiB}`, `count=${l.partitionLength / MiB}`, 'conv=sparse', 'status=none']);
    const oracleNames = run('debugvmfs', [part, 'ls', '/vm1']).split('\n').filter((n) => n && n !== '.' && n !== '..').sort();
    const ls = await cli(['ls', ...members, '/vm1', '--json']);
    expect(ls.code, ls.err.join('\n')).toBe(0);
    expect((JSON.parse(ls.out.join('\n')) as { name: string }[]).map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort()).toEqual(oracleNames);
    const catOut = path.join(tmp.dir, 'vmx');
    const cat = await cli(['cat', ...members, '/vm1/vm1-flat.vmdk', '--out', catOut]);
    expect(cat.code, cat.err.join('\n')).toBe(0);
    const oracleCat = spawnSync('debugvmfs', [part, 'cat', '/vm1/vm1-flat.vmdk'], { maxBuffer: 64 * MiB });
    expect(oracleCat.status).toBe(0);
    const oracleSha = createHash('sha256').update(oracleCat.stdout).digest('hex');
    expect(cat.out.at(-1)).toBe(oracleSha);
    const info = await cli(['info', ...members, '--json']);
    expect(info.code).toBe(0);
    expect((JSON.parse(info.out.join('\n')) as { label: string }).label).toBe('raid-ds5');
  }, 300_000);

  it('overrides: a wrong --stripe is refused with what was found (exit 2); --order and --offset alone skip nothing they do not say', async () => {
    const spec: ArraySpec = { level: 'raid0', disks: 3, stripeBytes: 4096, offsets: [0, 512, 1024], seed: 9 };
    const files = buildArray(lun[5].path, spec, tmp.dir, 'ovr');
    const members = files.flatMap((f) => ['--member', f]);
    const bad = await cli(['raid', 'detect', ...members, '--stripe', '65536', '--level', 'raid0', '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out.join('\n')).decided).toBe(false);
    // every parameter given: no detection, and the LUN still assembles
    const all = ['--level', 'raid0', '--stripe', '4K', '--order', files.join(','), ...files.map((f, i) => ['--offset', `${f}=${spec.offsets[i]}`]).flat()];
    const given = await cli(['raid', 'detect', ...members, ...all, '--json']);
    expect(given.code, given.err.join('\n')).toBe(0);
    expect(JSON.parse(given.out.join('\n')).evidence[0]).toMatch(/command line/);
  }, 300_000);
});
