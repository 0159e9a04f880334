import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVmfs as buildVmfsCore } from '../../src/core/synth/vmfs/vmfs-builder.js';
import { buildVmfs, standardBuild, type Manifest } from '../builders/vmfs/index.js';
import { nodeSha256 } from '../builders/vmfs/sparse-file.js';
import { OverwriteFile, zeroRange } from '../helpers/deep-dumps.js';
import { makeTempDir, oracleAvailable, run, runCli, sha256File } from '../helpers/tools.js';

/**
 * A previous volume spanned over two LUNs: the builder's spanned VMFS5 volume (data on both
 * extents; debugvmfs reads it from the two partitions: the expected file contents), then the first
 * LUN is damaged: (a) its GPT and LVM header zeroed, or (c) a new empty datastore formatted over it.
 * The second LUN's LVM header still names the old volume: `info --deep` with both dumps joins the
 * two extents, and every file reads byte-exact, the parts on the second LUN included.
 */
const ok = oracleAvailable('debugvmfs', 'dd', 'sha256sum');
const MiB = 1 << 20;

type Vol = { uuid: string; uuidFromMetadata: boolean; state: string; originBytes: number; sizeBytes: number; extents?: { source: string; offsetBytes: number }[] };
type LsEntry = { path: string; name: string; type: string; size: number; fdAddress: number; overwrittenBytes: number };

function cliJson<T>(args: string[]): T {
  const r = runCli(args);
  if (r.code !== 0) throw new Error(`vmfs-rescue ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe.skipIf(!ok)('deep search, VMFS5 spanned over two LUNs', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let m: Manifest;
  let newUuid: string;
  const expected = new Map<string, string>();
  const dumps: Record<'a' | 'c' | 'b', string> = { a: '', c: '', b: '' };
  beforeAll(async () => {
    tmp = makeTempDir('deep-span-');
    m = await buildVmfs(standardBuild('span5', tmp.dir));
    const parts = m.luns.map((l, i) => {
      const out = path.join(tmp.dir, `part${i}.img`);
      run('dd', [`if=${l.path}`, `of=${out}`, 'bs=1M', `skip=${l.partitionOffset / MiB}`, `count=${l.partitionLength / MiB}`, 'conv=sparse', 'status=none']);
      return out;
    });
    for (const e of m.entries) {
      if (e.type !== 'file') continue;
      expected.set(e.path, run('sh', ['-c', 'debugvmfs "$1" "$2" cat "$3" | sha256sum', 'sh', parts[0]!, parts[1]!, e.path]).split(/\s+/)[0]!);
    }
    const l0 = m.luns[0]!;
    dumps.b = m.luns[1]!.path;
    dumps.a = path.join(tmp.dir, 'lun0-a.img');
    copyFileSync(l0.path, dumps.a);
    zeroRange(dumps.a, 0, 34 * 512);
    zeroRange(dumps.a, l0.size - 33 * 512, 33 * 512);
    zeroRange(dumps.a, l0.partitionOffset + MiB, MiB);
    dumps.c = path.join(tmp.dir, 'lun0-c.img');
    copyFileSync(l0.path, dumps.c);
    const nm = await buildVmfsCore({
      version: 5, name: 'new', label: 'new-ds', seed: 95, files: [], luns: [{ scheme: 'gpt', segments: l0.numSegments }], hasher: nodeSha256,
      createLun: (_f, size) => new OverwriteFile(dumps.c, size),
    });
    newUuid = nm.fsUuid;
  }, 900_000);
  afterAll(() => tmp?.cleanup());

  for (const variant of ['a', 'c'] as const) {
    it(`(${variant}) info --deep joins the extents of both dumps; every file is listed and read byte-exact`, () => {
      const img = dumps[variant];
      const info = cliJson<{ volumes: Vol[] }>(['info', '--image', img, '--image', dumps.b, '--deep', '--json']);
      const prev = info.volumes.filter((v) => v.state === 'previous');
      expect(prev).toHaveLength(1);
      const p = prev[0]!;
      expect(p.originBytes).toBe(m.luns[0]!.partitionOffset + 0x1100000);
      expect(p.sizeBytes).toBe(m.volumeSize);
      expect(p.extents?.map((x) => path.basename(x.source))).toEqual([path.basename(img), path.basename(dumps.b)]);
      expect(p.extents![1]!.offsetBytes).toBe(m.luns[1]!.partitionOffset);
      if (variant === 'a') expect([p.uuid, p.uuidFromMetadata]).toEqual([m.fsUuid, true]);
      else expect(info.volumes.filter((v) => v.state === 'current').map((v) => v.uuid)).toEqual([newUuid]);

      const ls = cliJson<LsEntry[]>(['ls', '--image', img, '--image', dumps.b, '--volume', p.uuid, '--recursive', '--json']);
      const byFd = new Map(ls.map((e) => [e.fdAddress, e]));
      const files = m.entries.filter((e) => e.type === 'file');
      expect(files.length).toBeGreaterThan(2);
      for (const f of files) {
        const e = byFd.get(f.fdAddress);
        expect(e, `${f.path} listed`).toBeDefined();
        expect([e!.name, e!.size, e!.overwrittenBytes], f.path).toEqual([f.name, f.size, 0]);
        if (variant === 'a') expect(e!.path).toBe(f.path);
        const out = path.join(tmp.dir, `${variant}-${f.name}`);
        const r = runCli(['cat', '--image', img, '--image', dumps.b, '--volume', p.uuid, e!.path, '--out', out]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.trim().split('\n').pop(), f.path).toBe(expected.get(f.path));
        expect(sha256File(out)).toBe(expected.get(f.path));
      }
    }, 900_000);
  }
});
