import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatastore, type Datastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir, oracleAvailable, run, runCli, sha256File } from '../helpers/tools.js';
import { expectedSha, FIXTURE_DIR, fixtureImage } from '../helpers/vmfs3-fixture.js';

/**
 * The real ESX-written VMFS3 volume, read by our reader and by vmfs-tools' debugvmfs: volume
 * facts, every listing and every file's content hash must agree.
 */
/** debugvmfs prints local times: pin UTC. `show` exits 1 even when it prints, so only stdout counts. */
const ORACLE_ENV = { ...process.env, TZ: 'UTC' };
function debugvmfsShow(img: string, what?: string): string {
  const r = spawnSync('debugvmfs', [img, 'show', ...(what ? [what] : [])], { encoding: 'utf8', env: ORACLE_ENV });
  if (!r.stdout) throw new Error(`debugvmfs show ${what} printed nothing: ${r.stderr}`);
  return r.stdout;
}

/** sha256 of `debugvmfs IMG cat PATH`, streamed (files may be big). */
function debugvmfsCatSha(img: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    const child = spawn('debugvmfs', [img, 'cat', p]);
    child.stdout.on('data', (d: Buffer) => h.update(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(h.digest('hex')) : reject(new Error(`debugvmfs cat ${p} exited ${code}`))));
  });
}

interface OracleEntry {
  mode: string;
  size: number;
  date: string;
  name: string;
}

/** Parses `debugvmfs IMG ls -l DIR`: mode links uid gid size date time name. */
function debugvmfsLs(img: string, dir: string): OracleEntry[] {
  return run('debugvmfs', [img, 'ls', '-l', dir], { env: ORACLE_ENV })
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(\S+)\s+\d+\s+\S+\s+\S+\s+(\d+)\s+(\S+ \S+)\s(.*)$/.exec(l);
      if (!m) throw new Error(`unparsed debugvmfs line: ${l}`);
      return { mode: m[1]!, size: Number(m[2]), date: m[3]!, name: m[4]! };
    });
}

async function ourSha(ds: Datastore, p: string): Promise<string> {
  const f = await ds.openFile(p);
  const h = createHash('sha256');
  for (let o = 0; o < f.size; o += 4 << 20) h.update(await f.read(o, Math.min(4 << 20, f.size - o)));
  return h.digest('hex');
}

const haveOracle = oracleAvailable('debugvmfs');

describe.skipIf(!haveOracle)('real VMFS3 volume vs debugvmfs', () => {
  let img = '';
  let src: NodeFileSource;
  let ds: Datastore;
  beforeAll(async () => {
    img = await fixtureImage();
    expect(sha256File(img)).toBe(expectedSha());
    src = await NodeFileSource.open(img);
    ds = await openDatastore([src]);
  });
  afterAll(async () => {
    await src?.close();
  });

  it('volume info matches debugvmfs show fs / lvm and df', () => {
    const fsText = debugvmfsShow(img); // bare `show` prints the FS descriptor
    const field = (t: string, k: string) => new RegExp(`^\\s*${k}:\\s*(.*)$`, 'm').exec(t)?.[1]?.trim();
    expect(ds.info.fsMajor).toBe(Number(field(fsText, 'Volume Version')));
    expect(ds.info.fsMinor).toBe(Number(field(fsText, 'Version')));
    expect(ds.info.label).toBe(field(fsText, 'Label'));
    expect(ds.info.uuid).toBe(field(fsText, 'UUID'));
    expect(`${ds.info.blockSize / 2 ** 20} MiB`).toBe(field(fsText, 'Block size'));
    expect(`${ds.info.subBlockSize / 1024} KiB`).toBe(field(fsText, 'Subblock size'));
    const created = new Date(ds.info.creationTime * 1000).toISOString().slice(0, 19).replace('T', ' ');
    expect(created).toBe(field(fsText, 'Creation time'));
    const lvm = debugvmfsShow(img, 'lvm');
    expect(ds.info.lvmUuid).toBe(field(lvm, 'UUID'));
    expect(ds.info.version).toBe(3);
    expect(ds.info.holes).toEqual([]);
  });

  it('free space matches debugvmfs df', async () => {
    const df = run('debugvmfs', [img, 'df']);
    const n = (k: string) => Number(new RegExp(`^${k}\\s*:\\s*(\\d+)`, 'm').exec(df)?.[1]);
    const u = await ds.usage();
    expect(u.blockSize).toBe(n('Block size'));
    expect(u.totalBlocks).toBe(n('Total blocks'));
    expect(u.freeBlocks).toBe(n('Free blocks'));
    const m = await ds.allocationMap();
    expect(m.freeBlocks).toBe(n('Free blocks'));
    expect(m.runs.filter((r) => r.state === 'used').reduce((a, r) => a + r.count, 0)).toBe(n('Allocated blocks'));
  });

  it('every directory listing matches debugvmfs ls -l (names, sizes, types, ctime)', async () => {
    const dirs = ['/'];
    let seen = 0;
    while (dirs.length) {
      const dir = dirs.shift()!;
      const oracle = debugvmfsLs(img, dir);
      const ours = await ds.readdir(dir);
      expect(ours.map((e) => e.name)).toEqual(oracle.map((o) => o.name));
      for (let k = 0; k < ours.length; k++) {
        const e = ours[k]!;
        const o = oracle[k]!;
        expect(e.error).toBeUndefined();
        expect(e.size, e.name).toBe(o.size);
        expect(e.type === 'directory', e.name).toBe(o.mode.startsWith('d'));
        // debugvmfs prints st_ctime (FD offset 0x30).
        expect(new Date(e.ctime * 1000).toISOString().slice(0, 19).replace('T', ' '), e.name).toBe(o.date);
        if (e.type === 'directory' && e.name !== '.' && e.name !== '..') dirs.push(`${dir === '/' ? '' : dir}/${e.name}`);
        seen++;
      }
    }
    expect(seen).toBe(15);
  });

  it('every file content hash matches debugvmfs cat', async () => {
    const entries = (await ds.readdir('/')).filter((e) => e.type !== 'directory');
    expect(entries.length).toBe(13);
    for (const e of entries) {
      const p = `/${e.name}`;
      expect(await ourSha(ds, p), p).toBe(await debugvmfsCatSha(img, p));
    }
  });

  it('opens a file by FD address and resolves chain files through the volume resolver', async () => {
    const st = await ds.stat('/thick-flat.vmdk');
    expect(st.fdAddressText).toBe('<0x00800184>'); // format doc §14, decoded by hand
    expect(await ourSha(ds, '<0x00800184>')).toBe(await debugvmfsCatSha(img, '/thick-flat.vmdk'));
    const r = ds.resolver();
    const desc = await r.open(r.resolve('/thick.vmdk', 'thick-flat.vmdk'));
    expect(desc?.size).toBe(209715200);
    expect(await r.open('/missing.vmdk')).toBeNull();
  });

  it('CLI ls --json and cat agree with debugvmfs', async () => {
    const ls = runCli(['ls', '--image', img, '/', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const arr = JSON.parse(ls.stdout) as { name: string; type: string; size: number; fdAddress: number }[];
    const oracle = debugvmfsLs(img, '/');
    expect(arr.map((e) => [e.name, e.size])).toEqual(oracle.map((o) => [o.name, o.size]));
    expect(arr.every((e) => typeof e.fdAddress === 'number' && (e.fdAddress & 7) === 4)).toBe(true);
    const tmp = makeTempDir();
    try {
      for (const f of ['/thin.vmdk', '/zeroedthick-flat.vmdk']) {
        const out = path.join(tmp.dir, 'out.bin');
        const c = runCli(['cat', '--image', img, f, '--out', out]);
        expect(c.code, c.stderr).toBe(0);
        const last = c.stdout.trim().split('\n').pop();
        const want = await debugvmfsCatSha(img, f);
        expect(last).toBe(want);
        expect(sha256File(out)).toBe(want);
        if (f === '/zeroedthick-flat.vmdk') {
          // Its 200 MiB read as zeros (debugvmfs's hash says so): cat leaves them as holes.
          const st = statSync(out);
          expect(st.size).toBe(209715200);
          expect(st.blocks * 512).toBeLessThan(st.size / 16);
        }
      }
      const info = runCli(['info', '--image', img, '--json']);
      expect(info.code, info.stderr).toBe(0);
      expect(JSON.parse(info.stdout).label).toBe('toto');
      const bad = runCli(['ls', '--image', img, '/no-such-file']);
      expect(bad.code).toBe(1);
      const notVmfs = runCli(['info', '--image', path.join(FIXTURE_DIR, 'README.md')]);
      expect(notVmfs.code).toBe(2);
    } finally {
      tmp.cleanup();
    }
  });
});
