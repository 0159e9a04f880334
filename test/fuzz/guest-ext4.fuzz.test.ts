import { mkdirSync, openSync, closeSync, readFileSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { Ext4Fs, inspectDisk, type GuestFs } from '../../src/core/guest/index.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * Mutates the superblock, group descriptors, inode table, directory blocks and extent blocks of a
 * small ext4 made by mke2fs -d, and the MBR/EBR chain of a small disk; then opens, walks, stats,
 * reads and readlinks everything: each case ends within 1 s in a result or a RescueError.
 */
const HAVE = oracleAvailable('mkfs.ext4', 'debugfs');

/** Walks the whole tree, reading the first 64 KiB of each file; bounded by entry count. */
async function exercise(fs: GuestFs): Promise<number> {
  let seen = 0;
  const queue = ['/'];
  while (queue.length > 0 && seen < 300) {
    const dir = queue.shift()!;
    for (const e of await fs.readdir(dir)) {
      seen++;
      const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
      if (e.type === 'dir') queue.push(p);
      else if (e.type === 'symlink') await fs.readlink!(p);
      else if (e.type === 'file') {
        const s = await fs.open(p);
        await s.read(0, Math.min(s.size, 64 * 1024));
        if (s.size > 0) await s.read(s.size - 1, 1);
      }
      await fs.stat(p);
    }
  }
  return seen;
}

function blockOf(debugfsOut: string, re: RegExp): number {
  const m = re.exec(debugfsOut);
  if (!m) throw new Error(`debugfs output did not match ${re}: ${debugfsOut}`);
  return Number(m[1]);
}

describe.skipIf(!HAVE)('ext4 reader fuzz (mke2fs -d seed)', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let image: Uint8Array;
  const regions: [number, number][] = [];

  beforeAll(() => {
    tmp = makeTempDir('guest-ext4-fuzz-');
    const src = path.join(tmp.dir, 'src');
    mkdirSync(path.join(src, 'd/e'), { recursive: true });
    writeFileSync(path.join(src, 'd/e/f.txt'), 'nested\n');
    for (let i = 0; i < 40; i++) writeFileSync(path.join(src, 'd', `entry-${i}`), `x${i}`);
    // Islands of data: more extents than fit in the inode, so an extent index block exists.
    const fd = openSync(path.join(src, 'frag.bin'), 'w');
    for (let i = 0; i < 12; i++) writeSync(fd, Buffer.alloc(1024, i + 1), 0, 1024, i * 4096);
    closeSync(fd);
    symlinkSync('d/e/f.txt', path.join(src, 'ln'));
    const img = path.join(tmp.dir, 'fs.img');
    run('truncate', ['-s', '2M', img]);
    run('mkfs.ext4', ['-q', '-F', '-b', '1024', '-N', '64', '-O', '^has_journal', '-d', src, img]);
    image = new Uint8Array(readFileSync(img));
    const dbg = (cmd: string) => run('debugfs', ['-R', cmd, img], { stdio: ['ignore', 'pipe', 'ignore'] });
    const inodeTable = blockOf(dbg('stats'), /inode table at (\d+)/i);
    const rootDir = blockOf(dbg('blocks /'), /^(\d+)/);
    const dDir = blockOf(dbg('blocks /d'), /^(\d+)/);
    const etb = blockOf(dbg('stat /frag.bin'), /\(ETB0\):\s*(\d+)/);
    regions.push([1024, 2048], [2048, 3072], [inodeTable * 1024, inodeTable * 1024 + 16 * 256], [rootDir * 1024, rootDir * 1024 + 1024], [dDir * 1024, dDir * 1024 + 1024], [etb * 1024, etb * 1024 + 1024]);
  });
  afterAll(() => tmp?.cleanup());

  it('the seed reads cleanly', async () => {
    const fs = await Ext4Fs.open(new MemorySource(image, 'seed.img'));
    expect(await exercise(fs)).toBe(46);
    expect(await fs.readlink('/ln')).toBe('d/e/f.txt');
  });

  it(`mutated metadata: ${FUZZ_CASES} cases end in a result or a RescueError within 1 s`, async () => {
    const outcomes = { ok: 0, error: 0 };
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const r = rng(seed);
      const bytes = mutate(image, r, regions);
      outcomes[
        await fuzzCase('ext4', seed, async () => {
          const src = new MemorySource(bytes, `fuzz-${seed}.img`);
          await exercise(await Ext4Fs.open(src));
        })
      ]++;
    }
    expect(outcomes.ok + outcomes.error).toBe(FUZZ_CASES);
    expect(outcomes.error).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  }, 120_000);
});

describe('partition table fuzz (constructed MBR + EBR chain)', () => {
  function disk(): Uint8Array {
    const b = new Uint8Array(64 * 512);
    const dv = new DataView(b.buffer);
    const entry = (base: number, slot: number, type: number, lba: number, sectors: number) => {
      const at = base + 0x1be + 16 * slot;
      b[at + 4] = type;
      dv.setUint32(at + 8, lba, true);
      dv.setUint32(at + 12, sectors, true);
    };
    entry(0, 0, 0x83, 2, 8);
    entry(0, 1, 0x05, 16, 48);
    // Three logicals, each EBR pointing to the next (relative to the extended start, sector 16).
    for (let k = 0; k < 3; k++) {
      const ebr = (16 + k * 16) * 512;
      entry(ebr, 0, 0x83, 1, 8);
      if (k < 2) entry(ebr, 1, 0x05, (k + 1) * 16, 16);
      b[ebr + 0x1fe] = 0x55;
      b[ebr + 0x1ff] = 0xaa;
    }
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    return b;
  }

  it('the seed has 1 primary, the extended and 3 logicals', async () => {
    const { partitions } = await inspectDisk(new MemorySource(disk()));
    expect(partitions.map((p) => [p.index, p.offset / 512, p.length / 512])).toEqual([
      [1, 2, 8],
      [2, 16, 48],
      [5, 17, 8],
      [6, 33, 8],
      [7, 49, 8],
    ]);
  });

  it(`mutated tables: ${FUZZ_CASES} cases`, async () => {
    const base = disk();
    const regions: [number, number][] = [[0x1be, 0x200], [16 * 512 + 0x1be, 16 * 512 + 0x200], [32 * 512 + 0x1be, 32 * 512 + 0x200], [48 * 512 + 0x1be, 48 * 512 + 0x200]];
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const bytes = mutate(base, rng(seed), regions);
      await fuzzCase('mbr', seed, async () => {
        const { partitions } = await inspectDisk(new MemorySource(bytes, `fuzz-${seed}.disk`));
        for (const p of partitions) expect(p.offset + p.length).toBeLessThanOrEqual(bytes.length);
      });
    }
  });
});
