import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDisk, type ExportFormat } from '../../src/core/export/export-disk.js';
import { openChain } from '../../src/core/vmdk/chain.js';
import { NodeExportTarget } from '../../src/platform/node/export-target.js';
import { NodeFsResolver } from '../../src/platform/node/fs-resolver.js';
import { nativeSha256 } from '../../src/platform/node/native-hash.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';

/**
 * Our exports of qemu-made chains, judged by qemu-img and libvmdk: the raw export equals
 * `qemu-img convert -O raw` of the chain; sparse and stream pass `qemu-img check` and convert back
 * to the same bytes; qemu reads the flat export identically; vmdkinfo accepts the sparse export.
 */
const ok = oracleAvailable('qemu-img', 'qemu-io', 'vmdkinfo');
const CAP = 65 * 1024 * 1024 + 1536; // not a grain multiple: a partial last grain

describe.skipIf(!ok)('export vs qemu-img', () => {
  let tmp: { dir: string; cleanup: () => void };
  let top: string;
  let refSha: string;
  const io = (file: string, ...cmds: string[]) => run('qemu-io', ['-f', 'vmdk', ...cmds.flatMap((c) => ['-c', c]), file]);

  beforeAll(() => {
    tmp = makeTempDir('export-qemu-');
    const p = (n: string) => path.join(tmp.dir, n);
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicSparse', p('base.vmdk'), String(CAP)]);
    io(p('base.vmdk'), 'write -P 0x11 0 1M', 'write -P 0x22 40M 3M', 'write -P 0x23 33554432 65536', `write -P 0x24 ${CAP - 4096} 4096`);
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', p('mid.vmdk')]);
    io(p('mid.vmdk'), 'write -P 0x33 512K 1M', 'write -z 41M 64K', 'write -P 0x34 10485760 700K', 'write -z 20M 2M');
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'mid.vmdk', '-F', 'vmdk', p('top.vmdk')]);
    // the last sector, an unaligned partial-grain write and a zero write over parent data
    io(p('top.vmdk'), `write -P 0x44 ${CAP - 512} 512`, 'write -P 0x45 1049088 1536', 'write -z 10747904 64K', 'write -P 0x46 60M 64K');
    top = p('top.vmdk');
    run('qemu-img', ['convert', '-O', 'raw', top, p('ref.raw')]);
    refSha = sha256File(p('ref.raw'));
  });
  afterAll(() => tmp?.cleanup());

  async function ours(format: ExportFormat, name: string) {
    const resolver = new NodeFsResolver();
    try {
      const chain = await openChain(resolver, top);
      return await exportDisk(chain, new NodeExportTarget(tmp.dir), { format, fileName: name, hasher: nativeSha256 });
    } finally {
      await resolver.closeAll();
    }
  }

  it('raw equals qemu-img convert -O raw byte for byte', async () => {
    const r = await ours('raw', 'ours.img');
    expect(r.verified).toBe(true);
    expect(r.sha256).toBe(refSha);
    expect(statSync(path.join(tmp.dir, 'ours.img')).size).toBe(CAP);
    expect(readFileSync(path.join(tmp.dir, 'ours.img')).equals(readFileSync(path.join(tmp.dir, 'ref.raw')))).toBe(true);
  });

  it('flat (monolithicFlat) is read by qemu-img to the same bytes', async () => {
    const r = await ours('flat', 'flat.vmdk');
    expect(r.files).toEqual(['flat.vmdk', 'flat-flat.vmdk']);
    expect(r.sha256).toBe(refSha);
    const info = JSON.parse(run('qemu-img', ['info', '--output=json', path.join(tmp.dir, 'flat.vmdk')])) as { format: string; 'virtual-size': number };
    expect(info).toMatchObject({ format: 'vmdk', 'virtual-size': CAP });
    run('qemu-img', ['convert', '-O', 'raw', path.join(tmp.dir, 'flat.vmdk'), path.join(tmp.dir, 'flat.raw')]);
    expect(sha256File(path.join(tmp.dir, 'flat.raw'))).toBe(refSha);
  });

  for (const [format, name] of [
    ['sparse', 'sparse.vmdk'],
    ['stream', 'stream.vmdk'],
  ] as const) {
    it(`${format} passes qemu-img check and converts back to the same bytes`, async () => {
      const r = await ours(format, name);
      expect(r.sha256).toBe(refSha);
      const file = path.join(tmp.dir, name);
      expect(run('qemu-img', ['check', file])).toContain('No errors');
      const info = JSON.parse(run('qemu-img', ['info', '--output=json', file])) as { 'virtual-size': number; 'format-specific': { data: { 'create-type': string } } };
      expect(info['virtual-size']).toBe(CAP);
      expect(info['format-specific'].data['create-type']).toBe(format === 'sparse' ? 'monolithicSparse' : 'streamOptimized');
      run('qemu-img', ['convert', '-O', 'raw', file, path.join(tmp.dir, `${format}.raw`)]);
      expect(sha256File(path.join(tmp.dir, `${format}.raw`))).toBe(refSha);
      // sparse output stores only what is non-zero
      expect(statSync(file).size).toBeLessThan(16 * 1024 * 1024);
    });
  }

  it('libvmdk (vmdkinfo) accepts the sparse and stream exports', async () => {
    for (const name of ['sparse.vmdk', 'stream.vmdk']) {
      const file = path.join(tmp.dir, name);
      try {
        statSync(file);
      } catch {
        await ours(name === 'sparse.vmdk' ? 'sparse' : 'stream', name);
      }
      const out = run('vmdkinfo', [file]);
      expect(out).toContain(`Media size:`);
      expect(out).toContain(`(${CAP} bytes)`);
    }
  });
});

describe.skipIf(!ok)('export of an ESXi-style COWD chain vs qemu-img', () => {
  it('raw and sparse exports of COWD over a flat base match qemu-img convert', async () => {
    const { buildCowdDelta } = await import('../builders/cowd.js');
    const { buildFlatBase, randomRuns } = await import('../builders/delta-common.js');
    const tmp = makeTempDir('export-cowd-');
    try {
      const cap = 24 * 1024 * 1024;
      const base = buildFlatBase(tmp.dir, 'vm', cap, randomRuns({ capacity: cap, grainBytes: 65536, fraction: 0.3, seed: 5 }), 65536);
      const delta = buildCowdDelta({
        dir: tmp.dir,
        name: 'vm-000001',
        capacity: cap,
        runs: randomRuns({ capacity: cap, grainBytes: 512, fraction: 0.2, seed: 6, meanRunBytes: 24 * 1024 }),
        parentFileNameHint: 'vm.vmdk',
        parentCid: base.cid,
      });
      run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, path.join(tmp.dir, 'ref.raw')]);
      const refSha = sha256File(path.join(tmp.dir, 'ref.raw'));
      for (const [format, name] of [
        ['raw', 'out.img'],
        ['sparse', 'out.vmdk'],
      ] as const) {
        const resolver = new NodeFsResolver();
        const chain = await openChain(resolver, delta.descriptorPath);
        const r = await exportDisk(chain, new NodeExportTarget(tmp.dir), { format, fileName: name, hasher: nativeSha256 });
        await resolver.closeAll();
        expect(r.sha256).toBe(refSha);
        if (format === 'sparse') {
          run('qemu-img', ['convert', '-O', 'raw', path.join(tmp.dir, name), path.join(tmp.dir, 'back.raw')]);
          expect(sha256File(path.join(tmp.dir, 'back.raw'))).toBe(refSha);
        } else expect(sha256File(path.join(tmp.dir, name))).toBe(refSha);
      }
    } finally {
      tmp.cleanup();
    }
  });
});
