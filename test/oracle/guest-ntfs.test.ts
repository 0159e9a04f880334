import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import type { GuestFs } from '../../src/core/guest/types.js';
import { openNtfs } from '../../src/core/guest/ntfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * NTFS images made by Debian's ntfs-3g tools (mkntfs, ntfscp, ntfstruncate); expected listings
 * and contents come from the files copied in and from ntfsls / ntfscat / ntfsinfo.
 */
const have = oracleAvailable('mkntfs', 'ntfscp', 'ntfsls', 'ntfscat', 'ntfsinfo', 'ntfstruncate', 'ntfsfallocate');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** File content as ntfscat prints it (binary stdout, not run()'s text). */
function ntfscat(img: string, p: string): Buffer {
  const r = spawnSync('ntfscat', [img, p], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ntfscat ${p} failed: ${String(r.stderr)}`);
  return r.stdout;
}

async function readAll(fs: GuestFs, p: string): Promise<Uint8Array> {
  const s = await fs.open(p);
  const out = new Uint8Array(s.size);
  for (let o = 0; o < s.size; o += 1 << 20) out.set(await s.read(o, Math.min(1 << 20, s.size - o)), o);
  return out;
}

/** `ntfsls -a -s -i -l` lines: inode, size, modification minute (UTC), name (without "." and ".."). */
function ntfsls(img: string, dir: string): { id: number; size: number; minute: number; name: string }[] {
  const out = run('ntfsls', ['-a', '-s', '-i', '-l', '-p', dir, img], { env: { ...process.env, TZ: 'UTC' } });
  const rows = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\w{3})\s+(\d+)\s+(\d\d:\d\d)\s+(\d{4})\s(.*)$/.exec(line);
    if (m && m[7] !== '.' && m[7] !== '..') {
      const minute = Date.parse(`${m[3]} ${m[4]} ${m[6]} ${m[5]}:00 UTC`);
      rows.push({ id: Number(m[1]), size: Number(m[2]), minute, name: m[7]! });
    }
  }
  return rows.sort((a, b) => (a.name < b.name ? -1 : 1));
}

describe.skipIf(!have).each([4096, 512, 65536])('NTFS reader vs ntfs-3g (cluster %i)', (cluster) => {
  let tmp: ReturnType<typeof makeTempDir>;
  let img: string;
  let fs: GuestFs;
  let src: NodeFileSource;
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    tmp = makeTempDir('ntfs-oracle-');
    img = path.join(tmp.dir, 'vol.img');
    run('truncate', ['-s', '64M', img]);
    run('mkntfs', ['-F', '-f', '-q', '-c', String(cluster), '-L', 'Rescue', img]);
    files.set('tiny.txt', Buffer.from('hello ntfs\n'));
    files.set('empty', Buffer.alloc(0));
    files.set('big.bin', randomBytes(1536 * 1024 + 123));
    files.set('héllo wörld ✓.txt', Buffer.from('unicode name\n'));
    for (let i = 0; i < 80; i++) files.set(`file-with-a-longish-name-${String(i).padStart(3, '0')}.dat`, randomBytes(100 + i * 37));
    for (const [name, data] of files) {
      const host = path.join(tmp.dir, 'in');
      writeFileSync(host, data);
      run('ntfscp', ['-q', img, host, `/${name}`]);
    }
    // A sparse file: 5 bytes of data, extended by ntfstruncate to 5 MB (a hole past the initialized size).
    writeFileSync(path.join(tmp.dir, 'in'), 'head\n');
    run('ntfscp', ['-q', img, path.join(tmp.dir, 'in'), '/sparse.bin']);
    const ino = ntfsls(img, '/').find((r) => r.name === 'sparse.bin')!.id;
    run('ntfstruncate', [img, String(ino), String(5_000_000)]);
    src = await NodeFileSource.open(img);
    fs = await openNtfs(src);
  }, 60_000);

  afterAll(async () => {
    await src?.close();
    tmp?.cleanup();
  });

  it('reads the label and the geometry mkntfs wrote', () => {
    expect(fs.kind).toBe('ntfs');
    expect(fs.label).toBe('Rescue');
    expect((fs as unknown as { geo: { clusterSize: number } }).geo.clusterSize).toBe(cluster);
  });

  it('lists the root like ntfsls (names, record numbers, sizes, modification minute), through $INDEX_ALLOCATION', async () => {
    const info = run('ntfsinfo', ['-i', '5', img]);
    expect(info).toContain('$INDEX_ALLOCATION');
    const minute = (t?: number) => Math.floor((t ?? NaN) / 60_000) * 60_000;
    const ours = (await fs.readdir('/')).map((e) => ({ id: e.id, size: e.type === 'dir' ? 0 : e.size, minute: minute(e.mtime), name: e.name }));
    expect(ours).toEqual(ntfsls(img, '/'));
    for (const name of files.keys()) expect(ours.some((e) => e.name === name)).toBe(true);
    const ext = await fs.stat('/$Extend');
    expect(ext.type).toBe('dir');
  });

  it('lists a subdirectory like ntfsls', async () => {
    const ours = (await fs.readdir('/$Extend')).map((e) => ({ id: e.id, size: e.size, name: e.name }));
    expect(ours).toEqual(ntfsls(img, '/$Extend').map(({ id, size, name }) => ({ id, size, name })));
    expect(ours.length).toBeGreaterThan(0);
  });

  it('reads every copied file byte for byte (resident, non-resident, empty, unicode name)', async () => {
    expect(run('ntfsinfo', ['-F', '/tiny.txt', img])).toMatch(/\$DATA \(0x80\)[^]*?Resident:\s+Yes/);
    expect(run('ntfsinfo', ['-F', '/big.bin', img])).toMatch(/\$DATA \(0x80\)[^]*?Resident:\s+No/);
    for (const [name, data] of files) {
      const got = await readAll(fs, `/${name}`);
      expect(got.length, name).toBe(data.length);
      expect(sha(got), name).toBe(sha(data));
      const st = await fs.stat(`/${name}`);
      expect(st).toMatchObject({ name, type: 'file', size: data.length });
    }
    const cat = ntfscat(img, '/big.bin');
    expect(sha(await readAll(fs, '/big.bin'))).toBe(sha(cat));
  });

  it('reads a sparse file as ntfscat does, zeros past the initialized size', async () => {
    expect(run('ntfsinfo', ['-F', '/sparse.bin', img])).toContain('SPARSE');
    const got = await readAll(fs, '/sparse.bin');
    expect(got.length).toBe(5_000_000);
    expect(Buffer.from(got.subarray(0, 5)).toString()).toBe('head\n');
    expect(got.subarray(5).every((x) => x === 0)).toBe(true);
    const s = await fs.open('/sparse.bin');
    expect(Array.from(await s.read(4_999_990, 10))).toEqual(new Array(10).fill(0));
    expect(sha(got)).toBe(sha(ntfscat(img, '/sparse.bin')));
  });

  it('reads system files ($UpCase, $AttrDef) as ntfscat does', async () => {
    for (const name of ['$UpCase', '$AttrDef']) {
      const got = await readAll(fs, `/${name}`);
      const cat = ntfscat(img, `/${name}`);
      expect(sha(got), name).toBe(sha(cat));
    }
  });

  it('looks names up case-insensitively and reports missing paths as UserError', async () => {
    expect((await fs.stat('/TINY.TXT')).id).toBe((await fs.stat('/tiny.txt')).id);
    await expect(fs.stat('/nope')).rejects.toBeInstanceOf(UserError);
    await expect(fs.readdir('/tiny.txt')).rejects.toBeInstanceOf(UserError);
    await expect(fs.open('/$Extend')).rejects.toBeInstanceOf(UserError);
  });
});

describe.skipIf(!have)('NTFS reader vs ntfs-3g: a file fragmented past one MFT record ($ATTRIBUTE_LIST)', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let img: string;
  let src: NodeFileSource;
  const data = randomBytes(400 * 4096);

  beforeAll(async () => {
    tmp = makeTempDir('ntfs-frag-');
    img = path.join(tmp.dir, 'frag.img');
    const host = path.join(tmp.dir, 'in');
    run('truncate', ['-s', '64M', img]);
    run('mkntfs', ['-F', '-f', '-q', img]);
    writeFileSync(host, '');
    run('ntfscp', ['-q', img, host, '/a']);
    run('ntfscp', ['-q', img, host, '/b']);
    // Allocating one cluster at a time to two files in turn interleaves their clusters: /a gets
    // ~400 runs, more than its base record holds, so ntfs-3g moves $DATA extents to extension records.
    run('sh', ['-c', `for i in $(seq 0 399); do ntfsfallocate -l 4096 -o $((i*4096)) "$1" /a && ntfsfallocate -l 4096 -o $((i*4096)) "$1" /b || exit 1; done`, 'sh', img], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Same-size overwrite keeps the allocation and fills it with known bytes.
    writeFileSync(host, data);
    run('ntfscp', ['-q', img, host, '/a']);
    src = await NodeFileSource.open(img);
  }, 120_000);

  afterAll(async () => {
    await src?.close();
    tmp?.cleanup();
  });

  it('follows $ATTRIBUTE_LIST into extension records and reads the content like ntfscat', async () => {
    const info = run('ntfsinfo', ['-F', '/a', img]);
    expect(info).toContain('$ATTRIBUTE_LIST');
    const dataRecords = new Set([...info.matchAll(/\$DATA \(0x80\) from mft record (\d+)/g)].map((m) => m[1]));
    expect(dataRecords.size).toBeGreaterThan(1);
    const fs = await openNtfs(src);
    expect(await fs.stat('/a')).toMatchObject({ type: 'file', size: data.length });
    const got = await readAll(fs, '/a');
    expect(sha(got)).toBe(sha(data));
    expect(sha(got)).toBe(sha(ntfscat(img, '/a')));
  });
});
