import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { randomCid, serializeDescriptor } from '../../src/core/vmdk/descriptor.js';
import { openChain } from '../../src/core/vmdk/chain.js';
import type { DiskChain } from '../../src/core/vmdk/disk-chain.js';
import { NodeFsResolver } from '../../src/platform/node/fs-resolver.js';
import { buildStream, patternGrain } from '../helpers/kdmv-builder.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';

/**
 * Every hosted subformat qemu-img writes, alone and as the base of 3-level chains, read through
 * openChain and compared with `qemu-img convert -O raw` of the same top (the oracle), whole-disk
 * sha256 plus the last sector on its own.
 */
const ok = oracleAvailable('qemu-img', 'qemu-io');
const MiB = 1024 * 1024;

describe.skipIf(!ok)('qemu-made VMDK chains read like qemu reads them', () => {
  let dir = '';
  let cleanup = () => {};
  const resolver = new NodeFsResolver();
  beforeAll(() => {
    ({ dir, cleanup } = makeTempDir('a1-qemu-chains-'));
  });
  afterAll(async () => {
    await resolver.closeAll();
    cleanup();
  });

  const p = (name: string) => path.join(dir, name);
  const qemuIo = (file: string, ...cmds: string[]) => run('qemu-io', ['-f', 'vmdk', ...cmds.flatMap((c) => ['-c', c]), file]);
  const create = (name: string, size: string, opts: string[] = []) => run('qemu-img', ['create', '-q', '-f', 'vmdk', ...opts, p(name), size]);
  const child = (name: string, parent: string, opts: string[] = []) =>
    run('qemu-img', ['create', '-q', '-f', 'vmdk', ...opts, '-b', p(parent), '-F', 'vmdk', p(name)]);

  async function hashChain(chain: DiskChain): Promise<string> {
    const h = createHash('sha256');
    for (let o = 0; o < chain.size; o += 4 * MiB) h.update(await chain.read(o, Math.min(4 * MiB, chain.size - o)));
    return h.digest('hex');
  }

  function lastSector(file: string): Buffer {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    const b = Buffer.alloc(512);
    readSync(fd, b, 0, 512, size - 512);
    closeSync(fd);
    return b;
  }

  async function expectSameAsQemu(top: string, extra: (chain: DiskChain) => void = () => {}): Promise<void> {
    const raw = p(`${top}.raw`);
    run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', p(top), raw]);
    const chain = await openChain(resolver, p(top));
    expect(chain.size).toBe(statSync(raw).size);
    expect(Buffer.from(await chain.read(chain.size - 512, 512)).equals(lastSector(raw))).toBe(true);
    expect(await hashChain(chain)).toBe(sha256File(raw));
    extra(chain);
    run('rm', ['-f', raw]);
  }

  /** A small disk with recognisable data at the start, across grain edges and in the last sector. */
  function fill(name: string, size: number): void {
    qemuIo(p(name), 'write -P 0x11 0 1M', `write -P 0x22 ${size / 2 - 3000} 70000`, `write -P 0x33 ${size - 512} 512`);
  }

  for (const sub of ['monolithicSparse', 'twoGbMaxExtentSparse', 'monolithicFlat', 'twoGbMaxExtentFlat']) {
    it(`${sub}: a single disk`, async () => {
      create(`${sub}.vmdk`, '5M', ['-o', `subformat=${sub}`]);
      fill(`${sub}.vmdk`, 5 * MiB);
      await expectSameAsQemu(`${sub}.vmdk`, (c) => {
        expect(c.links).toHaveLength(1);
        expect(c.links[0]!.cidOk).toBeNull();
        expect(c.links[0]!.createType).toBe(sub);
      });
    });

    it(`${sub}: 3-level chain base <- mid <- top with zeros written over data`, async () => {
      create(`${sub}-b.vmdk`, '6M', ['-o', `subformat=${sub}`]);
      fill(`${sub}-b.vmdk`, 6 * MiB);
      child(`${sub}-m.vmdk`, `${sub}-b.vmdk`);
      qemuIo(p(`${sub}-m.vmdk`), 'write -P 0x44 512k 64k', 'write -P 0x45 100000 3000', `write -z ${3 * MiB - 4096} 8192`);
      child(`${sub}-t.vmdk`, `${sub}-m.vmdk`);
      qemuIo(p(`${sub}-t.vmdk`), 'write -z 0 4096', 'write -P 0x66 5M 512', `write -P 0x67 ${6 * MiB - 512} 512`);
      await expectSameAsQemu(`${sub}-t.vmdk`, (c) => {
        expect(c.links.map((l) => l.cidOk)).toEqual([true, true, null]);
        expect(c.links[2]!.createType).toBe(sub);
        expect(c.links[0]!.allocatedBytes).toBeGreaterThan(0);
      });
    });
  }

  it('monolithicSparse past one grain table (40 MiB > 512 grains x 64 KiB)', async () => {
    create('gt.vmdk', '40M');
    qemuIo(p('gt.vmdk'), 'write -P 0x71 0 64k', `write -P 0x72 ${32 * MiB - 5000} 10000`, `write -P 0x73 ${40 * MiB - 512} 512`);
    child('gt-top.vmdk', 'gt.vmdk');
    qemuIo(p('gt-top.vmdk'), `write -P 0x74 ${32 * MiB - 512} 1024`, `write -z ${33 * MiB} 64k`);
    await expectSameAsQemu('gt-top.vmdk');
    // An unallocated whole-GT range of the top answers with few extents (no per-grain walk result).
    const chain = await openChain(resolver, p('gt-top.vmdk'));
    const map = await chain.layers[0]!.mapRange(0, 32 * MiB - 65536);
    expect(map).toEqual([{ kind: 'parent', offset: 0, length: 32 * MiB - 65536 }]);
  });

  it('zeroed_grain=on: GTE 1 reads zeros and hides the parent', async () => {
    create('zg.vmdk', '4M', ['-o', 'zeroed_grain=on']);
    qemuIo(p('zg.vmdk'), 'write -P 0x55 0 1M');
    child('zg-top.vmdk', 'zg.vmdk', ['-o', 'zeroed_grain=on']);
    qemuIo(p('zg-top.vmdk'), 'write -z 0 256k', 'write -P 0x56 700k 1k');
    await expectSameAsQemu('zg-top.vmdk', (c) => {
      expect(c.links[0]!.allocatedBytes).toBe(65536);
    });
    const chain = await openChain(resolver, p('zg-top.vmdk'));
    expect(await chain.layers[0]!.mapRange(0, 256 * 1024)).toEqual([{ kind: 'zero', offset: 0, length: 256 * 1024 }]);
  });

  it('streamOptimized (qemu-img convert) alone and as the base of a 3-level chain', async () => {
    create('so-src.vmdk', '7M');
    fill('so-src.vmdk', 7 * MiB);
    qemuIo(p('so-src.vmdk'), 'write -P 0x91 3M 300k');
    run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'vmdk', '-o', 'subformat=streamOptimized', p('so-src.vmdk'), p('so.vmdk')]);
    await expectSameAsQemu('so.vmdk', (c) => expect(c.links[0]!.format).toBe('streamOptimized'));
    child('so-m.vmdk', 'so.vmdk');
    qemuIo(p('so-m.vmdk'), 'write -P 0x92 3100k 10k');
    child('so-t.vmdk', 'so-m.vmdk');
    qemuIo(p('so-t.vmdk'), 'write -z 3M 4k');
    await expectSameAsQemu('so-t.vmdk');
  });

  it('VMware-layout streamOptimized (GD at the end, footer, markers, EOS) reads like qemu reads it', async () => {
    const sectors = (40 * MiB) / 512;
    const { bytes } = buildStream({
      capacitySectors: sectors,
      grains: new Map([[0, patternGrain(21)], [2, patternGrain(22)], [600, patternGrain(23)], [639, patternGrain(24)]]),
      descriptor: `# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType="streamOptimized"\n\nRW ${sectors} SPARSE "vmw-stream.vmdk"\n\n#DDB\nddb.adapterType = "lsilogic"\n`,
    });
    writeFileSync(p('vmw-stream.vmdk'), bytes);
    await expectSameAsQemu('vmw-stream.vmdk', (c) => expect(c.links[0]!.cid).toBe('1234abcd'));
  });

  it('descriptors written by serializeDescriptor (vmfs and monolithicFlat) are read by qemu like the raw file', async () => {
    run('qemu-img', ['create', '-q', '-f', 'raw', p('ser-flat.vmdk'), '3M']);
    run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x3c 1M 5000', '-c', `write -P 0x3d ${3 * MiB - 512} 512`, p('ser-flat.vmdk')]);
    for (const [createType, type] of [['vmfs', 'VMFS'], ['monolithicFlat', 'FLAT']] as const) {
      const text = serializeDescriptor({
        version: 1,
        encoding: 'UTF-8',
        cid: randomCid(),
        parentCid: 'ffffffff',
        createType,
        parentFileNameHint: null,
        extents: [{ access: 'RW', sectors: 6144, type, fileName: 'ser-flat.vmdk', offset: 0 }],
        ddb: { adapterType: 'lsilogic', 'geometry.cylinders': '0', 'geometry.heads': '255', 'geometry.sectors': '63', virtualHWVersion: '14' },
        header: {},
      });
      writeFileSync(p(`ser-${createType}.vmdk`), text);
      run('qemu-img', ['compare', '-f', 'vmdk', '-F', 'raw', p(`ser-${createType}.vmdk`), p('ser-flat.vmdk')]);
      await expectSameAsQemu(`ser-${createType}.vmdk`);
    }
  });

  it('twoGbMaxExtentSparse with two pieces (2 GiB + 52 MiB), data at the piece boundary', async () => {
    create('two.vmdk', '2100M', ['-o', 'subformat=twoGbMaxExtentSparse']);
    qemuIo(p('two.vmdk'), `write -P 0x81 ${2048 * MiB - 70000} 140000`, `write -P 0x82 ${2100 * MiB - 512} 512`);
    child('two-top.vmdk', 'two.vmdk');
    qemuIo(p('two-top.vmdk'), `write -P 0x83 ${2048 * MiB - 512} 1024`);
    await expectSameAsQemu('two-top.vmdk', (c) => {
      expect(c.links[1]!.extents).toHaveLength(2);
    });
  });
});
