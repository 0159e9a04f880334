import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGuestFs, readPartitions } from '../../src/core/guest/index.js';
import type { GuestFs } from '../../src/core/guest/types.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { DEMO_GUEST } from '../../src/core/synth/demo-guest-layout.js';
import { buildDemo, type Demo } from '../../src/core/synth/demo.js';
import { demoDiskThroughQemu } from '../helpers/demo-chain.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * The demo VM's guest file systems, checked by the tools that made them: the base disk (as the
 * snapshot froze it) and the recovered disk (the pre-revert chain read by qemu-img, lost runs
 * from the base: the demo's own prediction) hold an ext4 partition that e2fsck finds clean and an
 * NTFS partition that ntfs-3g's tools read, with the changed files' two versions; our guest
 * readers list the same.
 */
const have = oracleAvailable('qemu-img', 'e2fsck', 'debugfs', 'ntfsls', 'ntfscat', 'ntfsinfo');

let demo: Demo;
let tmp: { dir: string; cleanup: () => void };
let base: Uint8Array;
let recovered: Uint8Array;

function slice(disk: Uint8Array, startSector: number, sectors: number, name: string): string {
  const f = path.join(tmp.dir, name);
  writeFileSync(f, disk.subarray(startSector * 512, (startSector + sectors) * 512));
  return f;
}

function ntfscat(img: string, p: string): string {
  const r = spawnSync('ntfscat', [img, p], { maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`ntfscat ${p} failed: ${String(r.stderr)}`);
  return r.stdout.toString('latin1');
}

async function readText(fs: GuestFs, p: string): Promise<string> {
  const s = await fs.open(p);
  return new TextDecoder().decode(await s.read(0, s.size));
}

describe.skipIf(!have)('demo guest file systems (e2fsck, ntfs-3g)', () => {
  beforeAll(async () => {
    demo = await buildDemo();
    tmp = makeTempDir('demo-guest-');
    ({ base, disk: recovered } = demoDiskThroughQemu(demo, tmp.dir));
    expect(createHash('sha256').update(recovered).digest('hex')).toBe(demo.expected.sha256);
  });
  afterAll(() => tmp?.cleanup());

  it('ext4: e2fsck finds both versions clean; debugfs reads the file as it was and as it was changed', () => {
    const g = DEMO_GUEST.ext4;
    for (const [disk, name, want] of [[base, 'base', g.before], [recovered, 'recovered', g.after]] as const) {
      const img = slice(disk, g.startSector, g.sectors, `ext4-${name}.img`);
      const fsck = spawnSync('e2fsck', ['-f', '-n', img], { encoding: 'utf8' });
      expect(fsck.status, `${name}: ${fsck.stdout}${fsck.stderr}`).toBe(0);
      expect(run('debugfs', ['-R', `cat ${g.changedPath}`, img])).toBe(want);
      expect(run('debugfs', ['-R', 'cat /README.txt', img])).toBe(g.readme);
    }
  });

  it('NTFS: ntfsinfo reads the volume; ntfscat gives each version of the changed file', () => {
    const g = DEMO_GUEST.ntfs;
    for (const [disk, name, want] of [[base, 'base', g.before], [recovered, 'recovered', g.after]] as const) {
      const img = slice(disk, g.startSector, g.sectors, `ntfs-${name}.img`);
      expect(run('ntfsinfo', ['-m', img])).toContain(`Volume Name: ${g.label}`);
      expect(run('ntfsls', [img]).split('\n')).toEqual(expect.arrayContaining(['README.txt', g.changedPath.slice(1)]));
      expect(ntfscat(img, g.changedPath)).toBe(want);
    }
  });

  it('our partition table and guest readers see the same on both disks', async () => {
    for (const [disk, version] of [[base, 'before'], [recovered, 'after']] as const) {
      const src = new MemorySource(disk, 'demo disk');
      const table = await readPartitions(src);
      expect(table.partitions.map((p) => [p.offset / 512, p.length / 512])).toEqual([
        [DEMO_GUEST.ext4.startSector, DEMO_GUEST.ext4.sectors],
        [DEMO_GUEST.ntfs.startSector, DEMO_GUEST.ntfs.sectors],
        [DEMO_GUEST.data.startSector, DEMO_GUEST.data.sectors],
      ]);
      for (const f of demo.expected.changedFiles) {
        const fs = await openGuestFs(src, table.partitions[f.partition - 1]!);
        expect(fs?.kind).toBe(f.fs);
        expect(await readText(fs!, f.path)).toBe(f[version]);
      }
    }
  });
});
