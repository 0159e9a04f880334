/**
 * Makes the demo's guest file systems once, with the real tools, and packs them into
 * src/core/synth/demo-guest-pack.ts (run: npx tsx scripts/make-demo-guest.ts; needs e2fsprogs and
 * ntfs-3g). Four images: an ext4 and an NTFS partition as the snapshot froze them (v1), and the same
 * two after the guest changed one file in each (v2). The demo's base disk holds v1; its deleted
 * delta holds the sectors where v2 differs. test/oracle/demo-guest.test.ts checks all four with
 * e2fsck and ntfs-3g's tools.
 *
 * Pack (then deflated whole, base64): "VRDG", u32 version 1, u32 image count; per image: u32 name
 * length, name, u32 size, u32 base image index (0xffffffff: none; else only the 4 KiB pages that
 * differ from it are stored), u32 page count, then per page: u32 page index, u8 coding (0 raw,
 * 1 u16 deltas: NTFS's $UpCase table counts up and deflates poorly as it is), 4096 bytes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { DEMO_GUEST } from '../src/core/synth/demo-guest-layout.js';

const PAGE = 4096;
const run = (cmd: string, args: string[], env: Record<string, string> = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });

const dir = mkdtempSync(path.join(tmpdir(), 'demo-guest-'));
try {
  const g = DEMO_GUEST;
  // ext4: populated from a folder by mke2fs -d; v2 replaces one file with debugfs (no mount needed).
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'notes'), { recursive: true });
  writeFileSync(path.join(root, 'README.txt'), g.ext4.readme);
  writeFileSync(path.join(root, g.ext4.changedPath.slice(1)), g.ext4.before);
  const ext1 = path.join(dir, 'ext4-v1.img');
  const fake = { E2FSPROGS_FAKE_TIME: String(g.snapshotTime) };
  run('truncate', ['-s', String(g.ext4.sectors * 512), ext1]);
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-N', '64', '-O', '^has_journal', '-L', g.ext4.label, '-U', g.ext4.uuid, '-E', `root_owner=0:0,hash_seed=${g.ext4.uuid}`, '-d', root, ext1], fake);
  const ext2 = path.join(dir, 'ext4-v2.img');
  copyFileSync(ext1, ext2);
  const after = path.join(dir, 'after.txt');
  writeFileSync(after, g.ext4.after);
  run('debugfs', ['-w', '-R', `rm ${g.ext4.changedPath}`, ext2], { E2FSPROGS_FAKE_TIME: String(g.changeTime) });
  run('debugfs', ['-w', '-R', `write ${after} ${g.ext4.changedPath}`, ext2], { E2FSPROGS_FAKE_TIME: String(g.changeTime) });
  // NTFS: mkntfs, files copied in by ntfscp; v2 overwrites one of them by ntfscp again.
  const nt1 = path.join(dir, 'ntfs-v1.img');
  run('truncate', ['-s', String(g.ntfs.sectors * 512), nt1]);
  run('mkntfs', ['-q', '-F', '-f', '-L', g.ntfs.label, '-p', String(g.ntfs.startSector), '-H', '255', '-S', '63', '-c', '4096', nt1]);
  const readme = path.join(dir, 'readme-ntfs.txt');
  writeFileSync(readme, g.ntfs.readme);
  const before = path.join(dir, 'before-ntfs.txt');
  writeFileSync(before, g.ntfs.before);
  run('ntfscp', ['-q', nt1, readme, 'README.txt']);
  run('ntfscp', ['-q', nt1, before, g.ntfs.changedPath.slice(1)]);
  const nt2 = path.join(dir, 'ntfs-v2.img');
  copyFileSync(nt1, nt2);
  const afterNt = path.join(dir, 'after-ntfs.txt');
  writeFileSync(afterNt, g.ntfs.after);
  run('ntfscp', ['-q', nt2, afterNt, g.ntfs.changedPath.slice(1)]);

  const images: { name: string; file: string; base: number }[] = [
    { name: 'ext4-v1', file: ext1, base: -1 },
    { name: 'ext4-v2', file: ext2, base: 0 },
    { name: 'ntfs-v1', file: nt1, base: -1 },
    { name: 'ntfs-v2', file: nt2, base: 2 },
  ];
  const bytes = images.map((i) => readFileSync(i.file));
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n >>> 0);
    return b;
  };
  parts.push(Buffer.from('VRDG'), u32(1), u32(images.length));
  images.forEach((img, k) => {
    const b = bytes[k]!;
    const base = img.base >= 0 ? bytes[img.base]! : null;
    const pages: Buffer[] = [];
    let n = 0;
    for (let p = 0; p * PAGE < b.length; p++) {
      const page = b.subarray(p * PAGE, (p + 1) * PAGE);
      if (base ? page.equals(base.subarray(p * PAGE, (p + 1) * PAGE)) : page.every((x) => x === 0)) continue;
      const raw = Buffer.from(page);
      const delta = Buffer.alloc(PAGE);
      for (let i = 0; i < PAGE; i += 2) delta.writeUInt16LE((page.readUInt16LE(i) - (i ? page.readUInt16LE(i - 2) : 0)) & 0xffff, i);
      const useDelta = deflateSync(delta).length < deflateSync(raw).length;
      pages.push(u32(p), Buffer.from([useDelta ? 1 : 0]), useDelta ? delta : raw);
      n++;
    }
    const name = Buffer.from(img.name);
    parts.push(u32(name.length), name, u32(b.length), u32(img.base), u32(n), ...pages);
  });
  const packed = deflateSync(Buffer.concat(parts), { level: 9 });
  const out = path.join(import.meta.dirname, '../src/core/synth/demo-guest-pack.ts');
  writeFileSync(
    out,
    `// Generated by scripts/make-demo-guest.ts (mke2fs, debugfs, mkntfs, ntfscp): do not edit.\n` +
      `// The demo's ext4 and NTFS partitions before and after the guest changed a file, packed and deflated.\n` +
      `export const DEMO_GUEST_PACK = '${packed.toString('base64')}';\n`,
  );
  console.log(`${out}: ${packed.length} bytes deflated`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
