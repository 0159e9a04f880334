import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { CancelledError } from '../../src/core/errors.js';
import { openDeepVolume, type DeepDatastore } from '../../src/core/vmfs/deep/open.js';
import { deepScan, type DeepScanState } from '../../src/core/vmfs/deep/scan.js';
import { Tripwire } from '../helpers/deep-landmarks.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildDeepDumps, type DeepDumps } from '../helpers/deep-dumps.js';
import { makeTempDir, oracleAvailable, run, runCli } from '../helpers/tools.js';
import { CLI_BIN, ensureCliBundle } from '../../scripts/cli-bundle.js';

/**
 * Deep volume search on deleted / re-created datastores. Generated VMFS5 and VMFS6 dumps are read
 * by debugvmfs / debugvmfs6 before the damage (the expected file contents), then damaged: (a) GPT
 * and LVM header zeroed, (b) FS descriptor zeroed too, (c) a new empty datastore formatted over the
 * partition (debugvmfs must then see the new, empty volume). Every file whose FD, pointer blocks and
 * data survive must be listed with its size and read byte-exact.
 */
const ok = oracleAvailable('debugvmfs', 'debugvmfs6', 'dd', 'sha256sum');
const MiB = 1 << 20;

type LsEntry = { path: string; name: string; type: string; size: number; fdAddress: number; overwrittenBytes: number };
type Vol = { uuid: string; uuidFromMetadata: boolean; state: string; version: number; blockSize: number; originBytes: number; sizeBytes: number; label: string };

function partitionOf(d: DeepDumps, img: string, out: string): string {
  const lun = d.manifest.luns[0]!;
  run('dd', [`if=${img}`, `of=${out}`, 'bs=1M', `skip=${lun.partitionOffset / MiB}`, `count=${lun.partitionLength / MiB}`, 'conv=sparse', 'status=none']);
  return out;
}

/** sha256 of `tool PART cat P`, debugvmfs6's banner line stripped, hashed by coreutils. */
function oracleSha(tool: string, part: string, p: string): string {
  const skip = tool === 'debugvmfs6' ? "tail -c +17 | " : '';
  return run('sh', ['-c', `${tool} "$1" cat "$2" | ${skip}sha256sum`, 'sh', part, p]).split(/\s+/)[0]!;
}

async function shaOf(ds: DeepDatastore, p: string): Promise<string> {
  const src = await ds.openFile(p);
  const h = createHash('sha256');
  for (let off = 0; off < src.size; off += 8 * MiB) h.update(await src.read(off, Math.min(8 * MiB, src.size - off)));
  return h.digest('hex');
}

function cliJson<T>(args: string[]): T {
  const r = runCli(args);
  if (r.code !== 0) throw new Error(`vmfs-rescue ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe.skipIf(!ok)('deep search, a VMFS5 datastore re-formatted as VMFS6 on the same partition', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let d: DeepDumps;
  const expected = new Map<string, string>();
  beforeAll(async () => {
    tmp = makeTempDir('deep-5to6-');
    d = await buildDeepDumps(tmp.dir, 5, 6);
    const part = partitionOf(d, d.original, path.join(tmp.dir, 'orig.part'));
    for (const e of d.manifest.entries) if (e.type === 'file') expected.set(e.path, oracleSha('debugvmfs', part, e.path));
  }, 900_000);
  afterAll(() => tmp?.cleanup());

  it('debugvmfs6 sees the new, empty VMFS6 volume; the old VMFS5 one is found by its 2 KiB FDs, listed and read byte-exact', async () => {
    const lun = d.newManifest.luns[0]!;
    const part = path.join(tmp.dir, 'c6.part');
    run('dd', [`if=${d.c}`, `of=${part}`, 'bs=1M', `skip=${lun.partitionOffset / MiB}`, `count=${lun.partitionLength / MiB}`, 'conv=sparse', 'status=none']);
    const names = run('debugvmfs6', [part, 'ls', '/']).split('\n').map((x) => x.trim()).filter((x) => x && !x.startsWith('VMFS version') && x !== '.' && x !== '..');
    expect(names.sort()).toEqual(d.newManifest.entries.filter((e) => e.type === 'system').map((e) => e.name).sort());

    const info = cliJson<{ volumes: (Vol & { evidence: { foreignFds?: number } })[]; uuid?: string }>(['info', '--image', d.c, '--deep', '--json']);
    expect(info.uuid).toBe(d.newManifest.fsUuid);
    expect(info.volumes.filter((v) => v.state === 'current').map((v) => [v.uuid, v.version])).toEqual([[d.newManifest.fsUuid, 6]]);
    const prev = info.volumes.filter((v) => v.state === 'previous');
    expect(prev).toHaveLength(1);
    const p = prev[0]!;
    expect([p.version, p.blockSize, p.originBytes, p.uuidFromMetadata]).toEqual([5, d.manifest.blockSize, d.origin, false]);
    expect(p.evidence.foreignFds).toBeGreaterThanOrEqual(2);

    const ls = cliJson<LsEntry[]>(['ls', '--image', d.c, '--volume', p.uuid, '--recursive', '--json']);
    const byFd = new Map(ls.filter((e) => e.fdAddress).map((e) => [e.fdAddress, e]));
    let overwritten = 0;
    for (const m of d.manifest.entries.filter((x) => x.path !== '/' && x.type !== 'system')) {
      const e = byFd.get(m.fdAddress);
      expect(e, `${m.path} listed`).toBeDefined();
      expect(e!.size, m.path).toBe(m.size);
      if (m.type !== 'file') continue;
      const out = path.join(tmp.dir, 'cat.bin');
      const r = runCli(['cat', '--image', d.c, '--volume', p.uuid, e!.path, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const last = r.stdout.trim().split('\n').pop();
      expect(run('sha256sum', [out]).split(/\s+/)[0]).toBe(last);
      if (e!.overwrittenBytes === 0) expect(last, `${m.path} read byte-exact`).toBe(expected.get(m.path));
      else overwritten++;
    }
    // The new format writes its system files and cluster headers: little of the old data.
    expect(overwritten).toBeLessThanOrEqual(1);
  }, 900_000);
});

for (const version of [5, 6] as const) {
  const tool = version === 6 ? 'debugvmfs6' : 'debugvmfs';
  describe.skipIf(!ok)(`deep search, VMFS${version}`, () => {
    let tmp: ReturnType<typeof makeTempDir>;
    let d: DeepDumps;
    const expected = new Map<string, string>();
    beforeAll(async () => {
      tmp = makeTempDir('deep-');
      d = await buildDeepDumps(tmp.dir, version);
      const part = partitionOf(d, d.original, path.join(tmp.dir, 'orig.part'));
      for (const e of d.manifest.entries) if (e.type === 'file') expected.set(e.path, oracleSha(tool, part, e.path));
    }, 900_000);
    afterAll(() => tmp?.cleanup());

    const files = () => d.manifest.entries.filter((e) => e.path !== '/' && e.type !== 'system');

    it('the oracle sees the new, empty volume after the re-format', () => {
      const part = partitionOf(d, d.c, path.join(tmp.dir, 'c.part'));
      const names = run(tool, [part, 'ls', '/']).split('\n').map((s) => s.trim()).filter((s) => s && !s.startsWith('VMFS version'));
      const sys = d.newManifest.entries.filter((e) => e.type === 'system').map((e) => e.name);
      expect(names.filter((n) => n !== '.' && n !== '..').sort()).toEqual(sys.sort());
    });

    for (const variant of ['a', 'b', 'c'] as const) {
      it(`(${variant}) info --deep finds the volumes; every surviving file is listed and read byte-exact`, async () => {
        const img = d[variant];
        const info = cliJson<{ volumes: Vol[]; label?: string; uuid?: string }>(['info', '--image', img, '--deep', '--json']);
        const prev = info.volumes.filter((v) => v.state === 'previous');
        expect(prev).toHaveLength(1);
        const p = prev[0]!;
        expect(p.originBytes).toBe(d.origin);
        expect(p.version).toBe(version);
        expect(p.blockSize).toBe(d.manifest.blockSize);
        if (variant === 'a') {
          expect(p.uuid).toBe(d.manifest.fsUuid);
          expect(p.uuidFromMetadata).toBe(true);
          expect(p.label).toBe(d.manifest.label);
        } else {
          expect(p.uuidFromMetadata).toBe(false);
          expect(p.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        }
        if (variant === 'c') {
          const cur = info.volumes.filter((v) => v.state === 'current');
          expect(cur.map((v) => v.uuid)).toEqual([d.newManifest.fsUuid]);
          expect(info.uuid).toBe(d.newManifest.fsUuid); // today's keys stay
          expect(info.label).toBe(d.newManifest.label);
        } else {
          expect(info.volumes).toHaveLength(1);
          expect(p.sizeBytes).toBe(d.manifest.volumeSize);
          expect(info.label).toBeUndefined();
        }

        const ls = cliJson<LsEntry[]>(['ls', '--image', img, '--volume', p.uuid.toUpperCase(), '--recursive', '--json']);
        const byFd = new Map(ls.filter((e) => e.fdAddress).map((e) => [e.fdAddress, e]));
        for (const m of files()) {
          const e = byFd.get(m.fdAddress);
          expect(e, `${m.path} listed`).toBeDefined();
          expect(e!.size, m.path).toBe(m.size);
          expect(e!.name === m.name || e!.path === `/lost+found/0x${m.fdAddress.toString(16).padStart(8, '0')}`, m.path).toBe(true);
          if (variant !== 'c') expect(e!.path, m.path).toBe(m.path);
          else {
            // The re-format wrote a new root directory over the old one: each old top-level entry is
            // /lost+found/<its FD>, and what lies below keeps the names its own directory blocks give.
            const [, top, ...rest] = m.path.split('/');
            const topFd = d.manifest.entries.find((x) => x.path === `/${top}`)!.fdAddress;
            const lost = `/lost+found/0x${topFd.toString(16).padStart(8, '0')}`;
            expect(e!.path, m.path).toBe([lost, ...rest].join('/'));
          }
        }

        const src = await NodeFileSource.open(img);
        try {
          const ds = await openDeepVolume([src], p.uuid);
          let overwritten = 0;
          for (const m of d.manifest.entries.filter((x) => x.type === 'file')) {
            const e = byFd.get(m.fdAddress)!;
            const sha = await shaOf(ds, e.path);
            if (e.overwrittenBytes === 0) expect(sha, `${m.path} read byte-exact`).toBe(expected.get(m.path));
            else {
              overwritten++;
              // What a newer volume wrote is read as it is now: not the old content.
              expect(sha, m.path).not.toBe(expected.get(m.path));
            }
          }
          // Only the re-format overwrites, and it writes little: its root directory lands on one old block.
          if (variant === 'c') expect(overwritten).toBeLessThanOrEqual(1);
          else expect(overwritten).toBe(0);
        } finally {
          await src.close();
        }

        // cat through the CLI: the sha256 is the last stdout line; overwritten ranges go to stderr, exit 0.
        const target = ls.find((e) => e.type === 'file' && e.overwrittenBytes > 0) ?? ls.find((e) => e.type === 'file' && e.size > MiB)!;
        const out = path.join(tmp.dir, `cat-${variant}.bin`);
        const r = runCli(['cat', '--image', img, '--volume', p.uuid, target.path, '--out', out]);
        expect(r.code, r.stderr).toBe(0);
        const m = d.manifest.entries.find((x) => x.fdAddress === target.fdAddress)!;
        const last = r.stdout.trim().split('\n').pop();
        if (target.overwrittenBytes > 0) expect(r.stderr).toMatch(/overwritten: file offset 0x[0-9a-f]+ length 0x[0-9a-f]+/);
        else expect(last).toBe(expected.get(m.path));
        expect(run('sha256sum', [out]).split(/\s+/)[0]).toBe(last);

        if (variant === 'c') {
          // The deleted-delta scan runs on a previous volume too.
          const scan = cliJson<{ volume: { uuid: string }; candidates: unknown[] }>(['scan', '--image', img, '--volume', p.uuid, '--json']);
          expect(scan.volume.uuid).toBe(p.uuid);
          expect(Array.isArray(scan.candidates)).toBe(true);
        }
      }, 900_000);
    }

    it('--resume: a search stopped half-way goes on from its saved state to the same volumes, and a finished one is reused by --volume', async () => {
      const img = d.c;
      const whole = runCli(['info', '--image', img, '--deep', '--json']);
      expect(whole.code, whole.stderr).toBe(0);
      // Stop the search at the middle of the dump (as SIGINT would) and keep the state it saves.
      const src = await NodeFileSource.open(img);
      const state = path.join(tmp.dir, 'deep-state.json');
      try {
        const ac = new AbortController();
        let saved: DeepScanState | undefined;
        const half = Math.floor(src.size / 2);
        await expect(deepScan([new Tripwire(src, ac, half)], { signal: ac.signal, onCheckpoint: (s) => (saved = s) })).rejects.toBeInstanceOf(CancelledError);
        expect(saved!.bytesScanned).toBeGreaterThan(0);
        expect(saved!.bytesScanned).toBeLessThan(src.size);
        writeFileSync(state, JSON.stringify(saved));
      } finally {
        await src.close();
      }
      const resumed = runCli(['info', '--image', img, '--deep', '--json', '--resume', state]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resuming from .*deep-state\.json \([0-9]+ of [0-9]+ bytes done\)/);
      expect(JSON.parse(resumed.stdout)).toEqual(JSON.parse(whole.stdout));
      const prev = (JSON.parse(whole.stdout) as { volumes: Vol[] }).volumes.find((v) => v.state === 'previous')!;
      const ls = runCli(['ls', '--image', img, '--volume', prev.uuid, '--recursive', '--json']);
      const lsSaved = runCli(['ls', '--image', img, '--volume', prev.uuid, '--recursive', '--json', '--resume', state]);
      expect(lsSaved.code, lsSaved.stderr).toBe(0);
      expect(lsSaved.stderr).toMatch(/using the finished search saved in/);
      expect(JSON.parse(lsSaved.stdout)).toEqual(JSON.parse(ls.stdout));
      // The state file is never one of the dumps.
      expect(runCli(['info', '--image', img, '--deep', '--resume', img]).code).toBe(1);
    }, 900_000);

    it('worker-thread lanes (from the sources and in the compiled CLI) give the same volumes as the main thread alone', () => {
      const img = d.b;
      const env = (n: number) => ({ env: { ...process.env, VMFS_RESCUE_DEEP_LANES: String(n) } });
      const alone = runCli(['info', '--image', img, '--deep', '--json'], env(0));
      expect(alone.code, alone.stderr).toBe(0);
      const lanes = runCli(['info', '--image', img, '--deep', '--json'], env(2));
      expect(lanes.code, lanes.stderr).toBe(0);
      expect(JSON.parse(lanes.stdout)).toEqual(JSON.parse(alone.stdout));
      ensureCliBundle();
      const compiled = spawnSync(process.execPath, [CLI_BIN, 'info', '--image', img, '--deep', '--json'], { encoding: 'utf8', maxBuffer: 256 * MiB, ...env(1) });
      expect(compiled.status, compiled.stderr).toBe(0);
      expect(JSON.parse(compiled.stdout)).toEqual(JSON.parse(alone.stdout));
    }, 900_000);

    it('a dump with no VMFS at all: info --deep exits 2', () => {
      const empty = path.join(tmp.dir, 'empty.img');
      run('truncate', ['-s', '64M', empty]);
      const r = runCli(['info', '--image', empty, '--deep', '--json']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no VMFS volume found/);
    });
  });
}
