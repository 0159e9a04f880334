import { createHash, randomBytes } from 'node:crypto';
import { closeSync, lstatSync, readFileSync, mkdirSync, openSync, readdirSync, readlinkSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByteSource } from '../../src/core/io/byte-source.js';
import { detectFs, inspectDisk, openGuestFs, readPartitions, type GuestFs } from '../../src/core/guest/index.js';
import { createGuestApi } from '../../src/workers/guest-methods.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';

/**
 * ext4 images are built by Debian's mke2fs -d from a temp directory (the independent truth),
 * htree-indexed by e2fsck -D, and wrapped in MBR and GPT disks whose tables these tests write
 * byte by byte (checked by util-linux partx and blkid). Our listing and file hashes must equal
 * the source directory's.
 */
const HAVE = oracleAvailable('mkfs.ext4', 'mkfs.ext3', 'e2fsck', 'debugfs', 'blkid', 'partx', 'mkswap');
const MiB = 1024 * 1024;

let tmp: ReturnType<typeof makeTempDir>;
let srcDir: string;
const opened: NodeFileSource[] = [];

async function source(file: string): Promise<NodeFileSource> {
  const s = await NodeFileSource.open(file);
  opened.push(s);
  return s;
}

function buildSourceTree(dir: string): void {
  mkdirSync(path.join(dir, 'a/b/c'), { recursive: true });
  writeFileSync(path.join(dir, 'a/b/c/deep.txt'), 'deep inside\n');
  writeFileSync(path.join(dir, 'a/hello.txt'), 'hello ext4\n');
  writeFileSync(path.join(dir, 'big.bin'), randomBytes(1.5 * MiB + 123));
  // 1500 separate 4 KiB islands: more extents than the inode and four leaves hold (depth 2 with 4 KiB blocks).
  const fd = openSync(path.join(dir, 'sparse.bin'), 'w');
  for (let i = 0; i < 1500; i++) writeSync(fd, randomBytes(4096), 0, 4096, i * 8192);
  writeSync(fd, Buffer.from('end'), 0, 3, 1500 * 8192 + 5 * MiB);
  closeSync(fd);
  symlinkSync('a/b/c/deep.txt', path.join(dir, 'link'));
  symlinkSync('x'.repeat(100) + '/long/target/that/does/not/fit/in/the/inode', path.join(dir, 'longlink'));
  mkdirSync(path.join(dir, 'many'));
  for (let i = 0; i < 700; i++) writeFileSync(path.join(dir, 'many', `file-with-a-longish-name-${i.toString().padStart(4, '0')}.txt`), `n${i}\n`);
  writeFileSync(path.join(dir, 'empty'), '');
}

function makeExt(img: string, mkfs: string, opts: string[], size = '64M'): void {
  run('truncate', ['-s', size, img]);
  run(mkfs, ['-q', '-F', '-d', srcDir, ...opts, img]);
  // e2fsck -D rebuilds large directories as htrees; exit 1 means "fixed something".
  try {
    run('e2fsck', ['-fyD', img]);
  } catch (e) {
    if (!/failed \(1\)/.test((e as Error).message)) throw e;
  }
}

async function hashSource(s: ByteSource): Promise<string> {
  const h = createHash('sha256');
  for (let pos = 0; pos < s.size; pos += MiB) h.update(await s.read(pos, Math.min(MiB, s.size - pos)));
  return h.digest('hex');
}

/** Walks the source directory and our filesystem side by side. */
async function compareTree(fs: GuestFs, rel: string): Promise<number> {
  const abs = path.join(srcDir, rel);
  const want = readdirSync(abs).sort();
  const got = (await fs.readdir('/' + rel)).filter((e) => !(rel === '' && e.name === 'lost+found'));
  expect(got.map((e) => e.name).sort()).toEqual(want);
  let files = 0;
  for (const e of got) {
    const p = path.join(abs, e.name);
    const st = lstatSync(p);
    const sub = rel ? `${rel}/${e.name}` : e.name;
    if (st.isDirectory()) {
      expect(e.type).toBe('dir');
      files += await compareTree(fs, sub);
    } else if (st.isSymbolicLink()) {
      expect(e.type).toBe('symlink');
      expect(await fs.readlink!('/' + sub)).toBe(readlinkSync(p));
    } else {
      expect(e.type).toBe('file');
      expect(e.size).toBe(st.size);
      expect(Math.floor(e.mtime! / 1000)).toBe(Math.floor(st.mtimeMs / 1000));
      const content = await fs.open('/' + sub);
      // Big files by sha256sum, small ones byte for byte (700 sha256sum runs would dominate the test).
      if (st.size > 4096) expect(await hashSource(content), sub).toBe(sha256File(p));
      else expect(Buffer.from(await content.read(0, content.size)).equals(readFileSync(p)), sub).toBe(true);
      files++;
    }
  }
  return files;
}

/** Writes a disk: MBR with one primary at 1 MiB and an extended partition holding one logical. */
function writeMbrDisk(disk: string, primary: string, logical: string, primaryBytes: number, logicalBytes: number): void {
  const mbr = Buffer.alloc(512);
  const entry = (b: Buffer, slot: number, type: number, lba: number, sectors: number, boot = 0) => {
    const at = 0x1be + 16 * slot;
    b[at] = boot;
    b[at + 4] = type;
    b.writeUInt32LE(lba, at + 8);
    b.writeUInt32LE(sectors, at + 12);
  };
  const pStart = 2048;
  const pSectors = primaryBytes / 512;
  const extStart = pStart + pSectors;
  const lOffset = 2048; // the logical starts 1 MiB after its EBR
  const lSectors = logicalBytes / 512;
  entry(mbr, 0, 0x83, pStart, pSectors, 0x80);
  entry(mbr, 1, 0x05, extStart, lOffset + lSectors);
  mbr.writeUInt16LE(0xaa55, 0x1fe);
  const ebr = Buffer.alloc(512);
  entry(ebr, 0, 0x82, lOffset, lSectors);
  ebr.writeUInt16LE(0xaa55, 0x1fe);
  run('truncate', ['-s', String((extStart + lOffset + lSectors) * 512), disk]);
  const fd = openSync(disk, 'r+');
  writeSync(fd, mbr, 0, 512, 0);
  writeSync(fd, ebr, 0, 512, extStart * 512);
  closeSync(fd);
  run('dd', [`if=${primary}`, `of=${disk}`, 'bs=1M', `seek=${pStart * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  run('dd', [`if=${logical}`, `of=${disk}`, 'bs=1M', `seek=${(extStart + lOffset) * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
}

const LINUX_FS = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
function guidBytes(text: string): Buffer {
  const h = Buffer.from(text.replace(/-/g, ''), 'hex');
  return Buffer.from([h[3]!, h[2]!, h[1]!, h[0]!, h[5]!, h[4]!, h[7]!, h[6]!, ...h.subarray(8)]);
}

/** Writes a GPT disk (protective MBR, primary and backup headers) with the image as entry 1. */
function writeGptDisk(disk: string, image: string, imageBytes: number): void {
  const first = 2048;
  const last = first + imageBytes / 512 - 1;
  const totalSectors = last + 1 + 33 + 34;
  run('truncate', ['-s', String(totalSectors * 512), disk]);
  const entries = Buffer.alloc(128 * 128);
  guidBytes(LINUX_FS).copy(entries, 0);
  guidBytes('11111111-2222-3333-4444-555555555555').copy(entries, 16);
  entries.writeBigUInt64LE(BigInt(first), 0x20);
  entries.writeBigUInt64LE(BigInt(last), 0x28);
  Buffer.from('rootfs', 'utf16le').copy(entries, 0x38);
  const header = (self: number, other: number, entriesLba: number) => {
    const h = Buffer.alloc(512);
    h.write('EFI PART', 0, 'ascii');
    h.writeUInt32LE(0x10000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(self), 0x18);
    h.writeBigUInt64LE(BigInt(other), 0x20);
    h.writeBigUInt64LE(34n, 0x28);
    h.writeBigUInt64LE(BigInt(totalSectors - 34), 0x30);
    guidBytes('AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE').copy(h, 0x38);
    h.writeBigUInt64LE(BigInt(entriesLba), 0x48);
    h.writeUInt32LE(128, 0x50);
    h.writeUInt32LE(128, 0x54);
    h.writeUInt32LE(crc32(entries), 0x58);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 0x10);
    return h;
  };
  const mbr = Buffer.alloc(512);
  mbr[0x1be + 4] = 0xee;
  mbr.writeUInt32LE(1, 0x1be + 8);
  mbr.writeUInt32LE(Math.min(totalSectors - 1, 0xffffffff), 0x1be + 12);
  mbr.writeUInt16LE(0xaa55, 0x1fe);
  const fd = openSync(disk, 'r+');
  writeSync(fd, mbr, 0, 512, 0);
  writeSync(fd, header(1, totalSectors - 1, 2), 0, 512, 512);
  writeSync(fd, entries, 0, entries.length, 1024);
  writeSync(fd, entries, 0, entries.length, (totalSectors - 33) * 512);
  writeSync(fd, header(totalSectors - 1, 1, totalSectors - 33), 0, 512, (totalSectors - 1) * 512);
  closeSync(fd);
  run('dd', [`if=${image}`, `of=${disk}`, 'bs=1M', `seek=${first * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
}

function partxRows(disk: string): { nr: number; start: number; sectors: number }[] {
  return run('partx', ['--show', '-g', '-o', 'NR,START,SECTORS', disk])
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .map(([nr, start, sectors]) => ({ nr: nr!, start: start!, sectors: sectors! }));
}

function blkidType(file: string, offset = 0): Record<string, string> {
  const out = run('blkid', ['-p', '-o', 'export', '-O', String(offset), file]);
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
}

const BLKID_NAME: Record<string, string> = { vfat: 'fat', LVM2_member: 'lvm2-pv' };

describe.skipIf(!HAVE)('guest ext4 reader against mke2fs -d', () => {
  beforeAll(() => {
    tmp = makeTempDir('guest-ext4-');
    srcDir = path.join(tmp.dir, 'src');
    mkdirSync(srcDir);
    buildSourceTree(srcDir);
  });
  afterAll(async () => {
    for (const s of opened) await s.close();
    tmp?.cleanup();
  });

  const variants: [string, string, string[], string?][] = [
    ['ext4 64bit 4K', 'mkfs.ext4', ['-O', '64bit', '-b', '4096']],
    ['ext4 ^64bit 1K', 'mkfs.ext4', ['-O', '^64bit', '-b', '1024']],
    ['ext3 (block maps)', 'mkfs.ext3', ['-b', '4096']],
    // 64 groups of 32-byte descriptors with 1 KiB blocks: two meta groups; 16 inodes per group spread the files past group 32.
    ['ext4 meta_bg', 'mkfs.ext4', ['-O', 'meta_bg,^resize_inode,^64bit', '-b', '1024', '-N', '1024'], '512M'],
  ];
  for (const [label, mkfs, opts, size] of variants) {
    it(`${label}: listing, symlinks and file hashes equal the source directory`, async () => {
      const img = path.join(tmp.dir, `${label.replace(/\W+/g, '_')}.img`);
      makeExt(img, mkfs, opts, size);
      const features = run('debugfs', ['-R', 'features', img], { stdio: ['ignore', 'pipe', 'ignore'] });
      if (opts.some((o) => o.includes('^64bit'))) expect(features).not.toMatch(/\b64bit\b/);
      else if (mkfs === 'mkfs.ext4') expect(features).toMatch(/\b64bit\b/);
      if (mkfs === 'mkfs.ext3') expect(features).not.toMatch(/\bextents?\b/);
      if (label.includes('meta_bg')) {
        expect(features).toMatch(/\bmeta_bg\b/);
        // Some file's inode lives in a group whose descriptor is in the second meta group (groups 32+).
        const ids = (await (await openGuestFs(await source(img), { index: 1, offset: 0, length: 512 * MiB }))!.readdir('/many')).map((e) => e.id!);
        expect(Math.max(...ids)).toBeGreaterThan(32 * 16);
      }
      const src = await source(img);
      const det = await detectFs(src);
      expect(det.type).toBe(blkidType(img).TYPE);
      const fs = await openGuestFs(src, { index: 1, offset: 0, length: src.size });
      expect(fs).not.toBeNull();
      expect(await compareTree(fs!, '')).toBe(705);
      // The directory really is an htree, and the big sparse file really has a deep extent tree.
      expect(run('debugfs', ['-R', 'htree many', img], { stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/Root node dump/);
      if (mkfs === 'mkfs.ext4') expect(run('debugfs', ['-R', 'ex sparse.bin', img], { stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/^\s*2\/\s*2\s/m);
      // debugfs lists the same root.
      const dbg = run('debugfs', ['-R', 'ls -l /', img], { stdio: ['ignore', 'pipe', 'ignore'] });
      const dbgNames = dbg.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter((n) => n !== '.' && n !== '..');
      expect((await fs!.readdir('/')).map((e) => e.name).sort()).toEqual(dbgNames.sort());
      await expect(fs!.open('/nope')).rejects.toThrow(/no such file/);
    }, 120_000);
  }

  it('MBR disk with a primary ext4 and a logical swap partition, checked by partx and blkid', async () => {
    const img = path.join(tmp.dir, 'mbr-part.img');
    makeExt(img, 'mkfs.ext4', ['-O', '64bit']);
    const swap = path.join(tmp.dir, 'swap.img');
    run('truncate', ['-s', '8M', swap]);
    run('mkswap', ['-q', swap]);
    const disk = path.join(tmp.dir, 'mbr.disk');
    writeMbrDisk(disk, img, swap, 64 * MiB, 8 * MiB);
    const src = await source(disk);
    const { table, partitions } = await inspectDisk(src);
    expect(table.scheme).toBe('mbr');
    expect(table.warnings).toEqual([]);
    const rows = partxRows(disk);
    expect(partitions.map((p) => ({ nr: p.index, start: p.offset / 512, sectors: p.length / 512 }))).toEqual(
      rows.map((r) => (r.nr === 2 ? { ...r, sectors: partitions[1]!.length / 512 } : r)),
    );
    expect(partitions.map((p) => [p.type, p.typeName, p.logical ?? false])).toEqual([
      ['83', 'Linux', false],
      ['05', 'Extended', false],
      ['82', 'Linux swap / Solaris', true],
    ]);
    expect(partitions[0]!.fs.type).toBe(blkidType(disk, partitions[0]!.offset).TYPE);
    expect(partitions[2]!.fs.type).toBe(blkidType(disk, partitions[2]!.offset).TYPE);
    const fs = await openGuestFs(src, partitions[0]!);
    expect(await compareTree(fs!, '')).toBe(705);
  }, 120_000);

  it('GPT disk with an ext4 partition, checked by partx', async () => {
    const img = path.join(tmp.dir, 'gpt-part.img');
    makeExt(img, 'mkfs.ext4', ['-O', '^64bit']);
    const disk = path.join(tmp.dir, 'gpt.disk');
    writeGptDisk(disk, img, 64 * MiB);
    const src = await source(disk);
    const { table, partitions } = await inspectDisk(src);
    expect(table.scheme).toBe('gpt');
    expect(partitions.map((p) => ({ nr: p.index, start: p.offset / 512, sectors: p.length / 512 }))).toEqual(partxRows(disk));
    expect(partitions[0]).toMatchObject({ typeName: 'Linux filesystem', name: 'rootfs', fs: { type: 'ext4' } });
    const fs = await openGuestFs(src, partitions[0]!);
    expect(await compareTree(fs!, '')).toBe(705);

    // The worker-side API the inspector view talks to: same listing, file content in chunks.
    const api = createGuestApi(() => src);
    expect((await api.guestInspect()).partitions.map((p) => p.fs.type)).toEqual(['ext4']);
    expect((await api.guestReaddir(1, '/a/b/c')).map((e) => e.name)).toEqual(['deep.txt']);
    expect(await api.guestReadlink(1, '/link')).toBe('a/b/c/deep.txt');
    const h = createHash('sha256');
    for (let off = 0; ; ) {
      const chunk = await api.guestRead(1, '/sparse.bin', off);
      if (chunk.length === 0) break;
      h.update(chunk);
      off += chunk.length;
    }
    expect(h.digest('hex')).toBe(sha256File(path.join(srcDir, 'sparse.bin')));
    await expect(api.guestReaddir(2, '/')).rejects.toThrow(/no partition 2/);
  }, 120_000);
});

describe.skipIf(!oracleAvailable('mkfs.vfat', 'mkntfs', 'mkswap', 'blkid'))('filesystem detection against blkid', () => {
  let t: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    t = makeTempDir('guest-detect-');
  });
  afterAll(() => t?.cleanup());

  async function detectFile(file: string) {
    const s = await NodeFileSource.open(file);
    try {
      return { det: await detectFs(s), table: await readPartitions(s) };
    } finally {
      await s.close();
    }
  }

  for (const bits of [12, 16, 32]) {
    it(`FAT${bits} made by mkfs.vfat`, async () => {
      const f = path.join(t.dir, `fat${bits}.img`);
      run('mkfs.vfat', ['-C', '-F', String(bits), '-n', `VOL${bits}`, f, bits === 32 ? '40000' : bits === 16 ? '20000' : '4000']);
      const { det, table } = await detectFile(f);
      const b = blkidType(f);
      expect(BLKID_NAME[b.TYPE!]).toBe('fat');
      expect(det.type).toBe(b.VERSION!.toLowerCase());
      expect(det.label).toBe(b.LABEL);
      // A boot sector ends in 55 AA too: it must not be taken for an MBR.
      expect(table.scheme).toBe('none');
    });
  }

  it('NTFS made by mkntfs', async () => {
    const f = path.join(t.dir, 'ntfs.img');
    run('truncate', ['-s', '16M', f]);
    run('mkntfs', ['-q', '-F', '-f', f]);
    const { det, table } = await detectFile(f);
    expect(det.type).toBe(blkidType(f).TYPE);
    expect(table.scheme).toBe('none');
  });

  it('swap made by mkswap', async () => {
    const f = path.join(t.dir, 'swap.img');
    run('truncate', ['-s', '1M', f]);
    run('mkswap', ['-q', '-L', 'myswap', f]);
    const { det } = await detectFile(f);
    expect(det).toEqual({ type: blkidType(f).TYPE, label: 'myswap' });
  });

  it('LVM2 label and XFS magic (constructed)', async () => {
    const lvm = new Uint8Array(4096);
    lvm.set(Buffer.from('LABELONE'), 512);
    lvm.set(Buffer.from('LVM2 001'), 512 + 0x18);
    const { MemorySource } = await import('../../src/core/io/byte-source.js');
    expect((await detectFs(new MemorySource(lvm))).type).toBe('lvm2-pv');
    const xfs = new Uint8Array(4096);
    xfs.set(Buffer.from('XFSB'), 0);
    xfs.set(Buffer.from('data'), 0x6c);
    expect(await detectFs(new MemorySource(xfs))).toEqual({ type: 'xfs', label: 'data' });
    expect((await detectFs(new MemorySource(new Uint8Array(4096)))).type).toBe('unknown');
  });
});
