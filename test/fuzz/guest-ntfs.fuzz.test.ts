import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../src/core/errors.js';
import { openNtfs } from '../../src/core/guest/ntfs/index.js';
import type { GuestFs } from '../../src/core/guest/types.js';
import { ExtentSource, MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import { u16, u32 } from '../../src/core/util/struct.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * Seed: a small NTFS volume made by mkntfs and populated by ntfscp (resident, non-resident,
 * sparse files; enough names for INDX blocks in the root). Mutations hit the boot sector, the MFT
 * records (headers, fixups, attributes, runlists) and the INDX blocks.
 */
const have = oracleAvailable('mkntfs', 'ntfscp', 'ntfstruncate', 'ntfsls', 'ntfsfallocate', 'ntfsinfo');
const CHUNK = 64 * 1024;

/** Everything a browser does with a volume: list, stat, read the start and the end of each file, one level down. */
async function exercise(fs: GuestFs): Promise<void> {
  const root = await fs.readdir('/');
  for (const e of root.slice(0, 120)) {
    const p = `/${e.name}`;
    await fs.stat(p);
    if (e.type === 'dir') {
      await fs.readdir(p);
      continue;
    }
    const s = await fs.open(p);
    await s.read(0, Math.min(CHUNK, s.size));
    if (s.size > CHUNK) await s.read(s.size - CHUNK, CHUNK);
  }
}

describe.skipIf(!have)('NTFS reader fuzz (mkntfs seed)', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let base: Uint8Array;
  let mftOff = 0;
  let indx: number[] = [];

  beforeAll(() => {
    tmp = makeTempDir('ntfs-fuzz-');
    const img = path.join(tmp.dir, 'seed.img');
    const host = path.join(tmp.dir, 'in');
    run('truncate', ['-s', '3M', img]);
    run('mkntfs', ['-F', '-f', '-q', '-L', 'seed', img]);
    const put = (name: string, data: Uint8Array) => {
      writeFileSync(host, data);
      run('ntfscp', ['-q', img, host, `/${name}`]);
    };
    put('tiny.txt', new TextEncoder().encode('tiny\n'));
    put('nonres.bin', new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff));
    for (let i = 0; i < 40; i++) put(`name-${String(i).padStart(2, '0')}-padding-padding.txt`, new Uint8Array(10 + i));
    put('sparse.bin', new TextEncoder().encode('s\n'));
    const ino = /^\s*(\d+)\s+sparse\.bin$/m.exec(run('ntfsls', ['-i', img]))![1]!;
    run('ntfstruncate', [img, ino, '1000000']);
    base = new Uint8Array(readFileSync(img));
    const dv = new DataView(base.buffer);
    const cluster = dv.getUint16(0x0b, true) * base[0x0d]!;
    mftOff = Number(dv.getBigUint64(0x30, true)) * cluster;
    // INDX blocks, found by their magic at cluster boundaries (independent of the reader).
    for (let o = 0; o + 4 <= base.length; o += cluster) if (String.fromCharCode(...base.subarray(o, o + 4)) === 'INDX') indx.push(o);
  }, 60_000);

  afterAll(() => tmp?.cleanup());

  it('the seed itself opens and lists', async () => {
    const fs = await openNtfs(new MemorySource(base, 'seed'));
    const names = (await fs.readdir('/')).map((e) => e.name);
    expect(names).toContain('nonres.bin');
    expect(names).toContain('name-39-padding-padding.txt');
    expect(indx.length).toBeGreaterThan(0);
    await exercise(fs);
  });

  const targets: [string, () => [number, number][]][] = [
    ['boot sector', () => [[0, 0x200]]],
    ['MFT system records', () => [[mftOff, mftOff + 16 * 1024]]],
    ['MFT file records (attributes, runlists)', () => [[mftOff + 64 * 1024, mftOff + 112 * 1024]]],
    ['INDX blocks', () => indx.map((o) => [o, o + 4096] as [number, number])],
    ['everything metadata', () => [[0, 0x200], [mftOff, mftOff + 112 * 1024], ...indx.map((o) => [o, o + 4096] as [number, number])]],
  ];

  for (const [label, regions] of targets) {
    it(`${label}: a result or a RescueError within 1 s`, async () => {
      let ok = 0;
      for (let seed = 1; seed <= FUZZ_CASES; seed++) {
        const r = rng(seed * 7919 + label.length);
        const bytes = mutate(base, r, regions());
        const outcome = await fuzzCase(`ntfs ${label}`, seed, async () => exercise(await openNtfs(new MemorySource(bytes, 'fuzz'))));
        if (outcome === 'ok') ok++;
      }
      // Some mutations must leave a readable volume, or the fuzzer only tests the first check.
      if (FUZZ_CASES >= 50 && label !== 'boot sector') expect(ok).toBeGreaterThan(0);
    }, 600_000);
  }

  it('reports NTFS compression as UnsupportedError, not garbage', async () => {
    const fs = await openNtfs(new MemorySource(base, 'seed'));
    const id = (await fs.stat('/nonres.bin')).id!;
    const b = base.slice();
    const rec = mftOff + id * 1024;
    let a = rec + u16(b, rec + 0x14);
    while (u32(b, a) !== 0xffffffff && u32(b, a) !== 0x80) a += u32(b, a + 4);
    expect(u32(b, a)).toBe(0x80);
    b[a + 0x0c]! |= 0x01; // ATTR_IS_COMPRESSED
    const fs2 = await openNtfs(new MemorySource(b, 'compressed'));
    await expect(fs2.open('/nonres.bin')).rejects.toBeInstanceOf(UnsupportedError);
  });
});

/**
 * Seed 2: a 64 MiB volume whose file /a is fragmented past one MFT record, so its $DATA extents
 * sit in extension records listed by $ATTRIBUTE_LIST. Only its MFT window is mutated and laid
 * over the unchanged image, so no case copies 64 MiB.
 */
describe.skipIf(!have)('NTFS reader fuzz ($ATTRIBUTE_LIST seed)', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let img: Uint8Array;
  let mftOff = 0;
  const WINDOW = 96 * 1024;

  beforeAll(() => {
    tmp = makeTempDir('ntfs-fuzz-frag-');
    const file = path.join(tmp.dir, 'frag.img');
    const host = path.join(tmp.dir, 'in');
    run('truncate', ['-s', '64M', file]);
    run('mkntfs', ['-F', '-f', '-q', file]);
    writeFileSync(host, '');
    run('ntfscp', ['-q', file, host, '/a']);
    run('ntfscp', ['-q', file, host, '/b']);
    run('sh', ['-c', 'for i in $(seq 0 399); do ntfsfallocate -l 4096 -o $((i*4096)) "$1" /a && ntfsfallocate -l 4096 -o $((i*4096)) "$1" /b || exit 1; done', 'sh', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    writeFileSync(host, new Uint8Array(400 * 4096).map((_, i) => (i * 13) & 0xff));
    run('ntfscp', ['-q', file, host, '/a']);
    expect(run('ntfsinfo', ['-F', '/a', file])).toContain('$ATTRIBUTE_LIST');
    img = new Uint8Array(readFileSync(file));
    mftOff = Number(new DataView(img.buffer).getBigUint64(0x30, true)) * new DataView(img.buffer).getUint16(0x0b, true) * img[0x0d]!;
  }, 120_000);

  afterAll(() => tmp?.cleanup());

  const overlay = (win: Uint8Array): ByteSource => {
    const w = new Uint8Array(WINDOW);
    w.set(win.subarray(0, WINDOW));
    const whole = new MemorySource(img, 'frag');
    return new ExtentSource(
      [
        { offset: 0, length: mftOff, source: whole, sourceOffset: 0 },
        { offset: mftOff, length: WINDOW, source: new MemorySource(w), sourceOffset: 0 },
        { offset: mftOff + WINDOW, length: img.length - mftOff - WINDOW, source: whole, sourceOffset: mftOff + WINDOW },
      ],
      img.length,
      'fuzz',
    );
  };

  it('records 64+ (attribute list, extension records, runlists): a result or a RescueError within 1 s', async () => {
    const clean = img.slice(mftOff, mftOff + WINDOW);
    const fs = await openNtfs(overlay(clean));
    expect((await fs.stat('/a')).size).toBe(400 * 4096);
    let ok = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const win = mutate(clean, rng(seed * 104729), [[64 * 1024, 72 * 1024]]);
      const outcome = await fuzzCase('ntfs attribute list', seed, async () => exercise(await openNtfs(overlay(win))));
      if (outcome === 'ok') ok++;
    }
    if (FUZZ_CASES >= 50) expect(ok).toBeGreaterThan(0);
  }, 600_000);
});
