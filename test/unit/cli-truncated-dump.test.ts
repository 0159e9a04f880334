import { truncateSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVmfs, DATA_OFFSET, MiB, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir, runCli, sha256File } from '../helpers/tools.js';

/**
 * A dump cut short vs a spanned volume missing a LUN, through the CLI. A single dump cut after the
 * FS metadata still opens and scans (exit 0, a warning); a command that needs bytes past the cut
 * exits 2 and says how much is missing and where the dump ends. A LUN that was not given is a
 * user error (exit 1: give its dump with another --image). Expected numbers come from the
 * builder's geometry: volume byte v of a LUN sits at partitionOffset + DATA_OFFSET + v - its first byte.
 */

const BS = MiB;
const SEGMENT = 256 * MiB;

describe('truncated dump vs missing LUN (CLI)', () => {
  const tmp = makeTempDir('cli-trunc-');
  let one: Manifest;
  let span: Manifest;
  /** File offset where the single dump is cut: inside FS block 100 (the metadata sits below block 30). */
  let cut: number;
  beforeAll(async () => {
    one = await buildVmfs({
      version: 5, dir: tmp.dir, name: 'one', label: 'cut', seed: 3, luns: [{ scheme: 'gpt', segments: 1 }],
      files: [
        { path: '/vm/before.bin', kind: 'blocks', size: 2 * BS, blocks: [{ index: 0, content: 'data', at: 40 }, { index: 1, content: 'data', at: 41 }] },
        { path: '/vm/after.bin', kind: 'blocks', size: 2 * BS, blocks: [{ index: 0, content: 'data', at: 200 }, { index: 1, content: 'data', at: 201 }] },
      ],
    });
    const lun = one.luns[0]!;
    cut = lun.partitionOffset + DATA_OFFSET + 100 * BS + 3 * 512;
    truncateSync(lun.path, cut);
    span = await buildVmfs({
      version: 5, dir: tmp.dir, name: 'span', label: 'span', seed: 4, luns: [{ scheme: 'gpt', segments: 1 }, { scheme: 'gpt', segments: 1 }],
      files: [
        { path: '/vm/first.bin', kind: 'blocks', size: BS, blocks: [{ index: 0, content: 'data', at: 50 }] },
        { path: '/vm/second.bin', kind: 'blocks', size: 2 * BS, blocks: [{ index: 0, content: 'data', at: 60 }, { index: 1, content: 'data', at: 300 }] },
      ],
    });
  }, 120_000);
  afterAll(() => tmp.cleanup());

  const sha = (m: Manifest, p: string) => m.entries.find((e) => e.path === p)!.sha256;

  it('a single dump cut after the metadata: ls, cat of a file before the cut and scan work', () => {
    const dump = one.luns[0]!.path;
    const ls = runCli(['ls', '--image', dump, '-l', '/vm']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('after.bin');
    const out = path.join(tmp.dir, 'before.out');
    const cat = runCli(['cat', '--image', dump, '/vm/before.bin', '--out', out]);
    expect(cat.code, cat.stderr).toBe(0);
    expect(sha256File(out)).toBe(sha(one, '/vm/before.bin'));
    const scan = runCli(['scan', '--image', dump, '--json']);
    expect(scan.code, scan.stderr).toBe(0);
    const j = JSON.parse(scan.stdout) as { warnings: string[]; rejectedCount: number };
    expect(j.warnings.join('\n')).toMatch(/beyond end of dump/);
    expect(scan.stderr).toMatch(/truncated/);
  }, 60_000);

  it('a single dump cut short: cat of a file past the cut exits 2 with how much is missing and where it was cut', () => {
    const dump = one.luns[0]!.path;
    const lun = one.luns[0]!;
    const missing = lun.partitionOffset + DATA_OFFSET + one.volumeSize - cut;
    const cat = runCli(['cat', '--image', dump, '/vm/after.bin', '--out', path.join(tmp.dir, 'after.out')]);
    expect(cat.code).toBe(2);
    expect(cat.stderr).toContain(`${dump} ends ${missing} bytes before the volume does (cut at offset 0x${cut.toString(16)})`);
    expect(cat.stderr).toMatch(/can still be read/);
    expect(cat.stderr).not.toMatch(/another --image/);
    // Its own next step: copy the dump again, not "give the other LUN dumps" (that is for a spanned volume).
    expect(cat.stderr).toMatch(/what to do next: the dump file is shorter than the volume .*copy the LUN again in full/);
    expect(cat.stderr).not.toMatch(/every LUN|other LUN/);
  }, 60_000);

  it('a spanned volume with one LUN not given: a read in its extent exits 1 and asks for its dump', () => {
    const first = runCli(['cat', '--image', span.luns[0]!.path, '/vm/first.bin', '--out', path.join(tmp.dir, 'first.out')]);
    expect(first.code, first.stderr).toBe(0);
    expect(sha256File(path.join(tmp.dir, 'first.out'))).toBe(sha(span, '/vm/first.bin'));
    const second = runCli(['cat', '--image', span.luns[0]!.path, '/vm/second.bin', '--out', path.join(tmp.dir, 'second.out')]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/add its dump with another --image/);
    expect(second.stderr).not.toMatch(/before the volume does/);
  }, 60_000);

  it('a spanned volume whose second LUN dump is cut short: exit 2 naming that dump', () => {
    const lun1 = span.luns[1]!;
    // FS block 300 is 44 MiB into the second extent: cut that LUN's dump 10 MiB into its extent.
    const cut1 = lun1.partitionOffset + DATA_OFFSET + 10 * BS;
    truncateSync(lun1.path, cut1);
    const missing = lun1.partitionOffset + DATA_OFFSET + SEGMENT - cut1;
    const r = runCli(['cat', '--image', span.luns[0]!.path, '--image', lun1.path, '/vm/second.bin', '--out', path.join(tmp.dir, 'second2.out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${lun1.path} ends ${missing} bytes before the volume does (cut at offset 0x${cut1.toString(16)})`);
  }, 60_000);
});
