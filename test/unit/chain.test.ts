import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CidMismatchError, CorruptError, MissingFileError, UnsupportedError } from '../../src/core/errors.js';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import { openChain } from '../../src/core/vmdk/chain.js';
import { DiskChain } from '../../src/core/vmdk/disk-chain.js';
import type { FileResolver } from '../../src/core/vmdk/types.js';
import { buildKdmv, patternGrain } from '../helpers/kdmv-builder.js';

/** Files in memory, POSIX paths; candidates like NodeFsResolver (basename next to the child). */
class MemResolver implements FileResolver {
  constructor(readonly files: Map<string, Uint8Array>) {}
  async open(p: string): Promise<ByteSource | null> {
    const b = this.files.get(p);
    return b ? new MemorySource(b, p) : null;
  }
  resolve(from: string, rel: string): string {
    return path.posix.isAbsolute(rel) ? rel : path.posix.join(path.posix.dirname(from), rel);
  }
  candidates(from: string, hint: string): string[] {
    return [path.posix.join(path.posix.dirname(from), path.posix.basename(hint))];
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const MiB = 1024 * 1024;

function flatDesc(cid: string, sectors: number, flat: string): string {
  return `# Disk DescriptorFile\nversion=1\nCID=${cid}\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW ${sectors} FLAT "${flat}" 0\n`;
}
function deltaDesc(cid: string, parentCid: string, hint: string, sectors: number, file: string): string {
  return `# Disk DescriptorFile\nversion=1\nCID=${cid}\nparentCID=${parentCid}\ncreateType="twoGbMaxExtentSparse"\nparentFileNameHint="${hint}"\n\nRW ${sectors} SPARSE "${file}"\n`;
}

function baseFiles(): Map<string, Uint8Array> {
  const flat = new Uint8Array(MiB).fill(0xaa);
  return new Map([
    ['/vm/base.vmdk', enc(flatDesc('0000abcd', 2048, 'base-flat.vmdk'))],
    ['/vm/base-flat.vmdk', flat],
  ]);
}

describe('openChain', () => {
  it('opens a 2-level chain, checks the CID and merges data over the base', async () => {
    const files = baseFiles();
    const grain = patternGrain(9);
    files.set('/vm/d1.vmdk', enc(deltaDesc('11111111', '0000ABCD', 'base.vmdk', 2048, 'd1-s001.vmdk')));
    files.set('/vm/d1-s001.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map([[1, grain]]) }));
    const chain = await openChain(new MemResolver(files), '/vm/d1.vmdk');
    expect(chain.links.map((l) => [l.path, l.cid, l.parentCid, l.cidOk, l.format])).toEqual([
      ['/vm/d1.vmdk', '11111111', '0000abcd', true, 'hostedSparse'],
      ['/vm/base.vmdk', '0000abcd', null, null, 'flat'],
    ]);
    expect(chain.links[0]!.allocatedBytes).toBe(65536);
    expect(chain.links[1]!.extents).toEqual([{ type: 'FLAT', fileName: 'base-flat.vmdk', sectors: 2048, offset: 0, format: 'flat' }]);
    const r = await chain.read(65536 - 2, 4);
    expect([...r]).toEqual([0xaa, 0xaa, grain[0], grain[1]]);
  });

  it('descriptorDdb: hardware entries from the top-most descriptor that has them, no identity entries', async () => {
    const files = baseFiles();
    const base =
      flatDesc('0000abcd', 2048, 'base-flat.vmdk') +
      '\n#DDB\nddb.adapterType = "buslogic"\nddb.geometry.cylinders = "130"\nddb.geometry.heads = "16"\nddb.geometry.sectors = "63"\n' +
      'ddb.virtualHWVersion = "7"\nddb.uuid = "60 00 C2 9a"\nddb.longContentID = "0123456789abcdef0123456789abcdef"\nddb.toolsVersion = "10304"\n';
    files.set('/vm/base.vmdk', enc(base));
    const delta =
      deltaDesc('11111111', '0000abcd', 'base.vmdk', 2048, 'd1-s001.vmdk') +
      // A lone cylinders entry is not a geometry: the base's triple stays whole.
      '\n#DDB\nddb.virtualHWVersion = "14"\nddb.geometry.cylinders = "99"\nddb.deletable = "true"\nddb.ADAPTERTYPE = "bad value!"\n';
    files.set('/vm/d1.vmdk', enc(delta));
    files.set('/vm/d1-s001.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map() }));
    const chain = await openChain(new MemResolver(files), '/vm/d1.vmdk');
    expect(chain.descriptorDdb()).toEqual({
      adapterType: 'buslogic',
      virtualHWVersion: '14',
      toolsVersion: '10304',
      'geometry.cylinders': '130',
      'geometry.heads': '16',
      'geometry.sectors': '63',
    });
    // A chain without descriptors (bare delta, raw read-back) inherits nothing.
    expect(new DiskChain(chain.layers, chain.links).descriptorDdb()).toEqual({});
  });

  it('CID mismatch names both CIDs and both files; --ignore-cid merges with cidOk=false and a warning', async () => {
    const files = baseFiles();
    files.set('/vm/d1.vmdk', enc(deltaDesc('11111111', '12345678', 'base.vmdk', 2048, 'd1-s001.vmdk')));
    files.set('/vm/d1-s001.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map() }));
    const r = new MemResolver(files);
    const err = await openChain(r, '/vm/d1.vmdk').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CidMismatchError);
    const msg = (err as Error).message;
    for (const s of ['12345678', '0000abcd', '/vm/d1.vmdk', '/vm/base.vmdk']) expect(msg).toContain(s);
    const chain = await openChain(r, '/vm/d1.vmdk', { ignoreCid: true });
    expect(chain.links[0]!.cidOk).toBe(false);
    expect(chain.links[0]!.warnings.join('\n')).toMatch(/CID mismatch ignored.*12345678.*0000abcd/);
    expect([...(await chain.read(0, 2))]).toEqual([0xaa, 0xaa]);
  });

  it('a missing parent names the hint, the resolved path and the child', async () => {
    const files = baseFiles();
    files.delete('/vm/base.vmdk');
    files.set('/vm/d1.vmdk', enc(deltaDesc('11111111', '0000abcd', 'base.vmdk', 2048, 'd1-s001.vmdk')));
    files.set('/vm/d1-s001.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map() }));
    const err = await openChain(new MemResolver(files), '/vm/d1.vmdk').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingFileError);
    expect((err as MissingFileError).path).toBe('/vm/base.vmdk');
    expect((err as Error).message).toMatch(/missing parent disk \/vm\/base\.vmdk \("base\.vmdk" referenced by \/vm\/d1\.vmdk\)/);
  });

  it('a missing extent file names the extent and its descriptor', async () => {
    const files = baseFiles();
    files.delete('/vm/base-flat.vmdk');
    const err = await openChain(new MemResolver(files), '/vm/base.vmdk').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingFileError);
    expect((err as Error).message).toContain('missing extent file /vm/base-flat.vmdk ("base-flat.vmdk" referenced by /vm/base.vmdk)');
  });

  it('resolves an absolute ESXi hint through resolver.candidates', async () => {
    const files = baseFiles();
    files.set('/vm/d1.vmdk', enc(deltaDesc('11111111', '0000abcd', '/vmfs/volumes/5f3c-aaaa/vm/base.vmdk', 2048, 'd1-s001.vmdk')));
    files.set('/vm/d1-s001.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map() }));
    const chain = await openChain(new MemResolver(files), '/vm/d1.vmdk');
    expect(chain.links.map((l) => l.path)).toEqual(['/vm/d1.vmdk', '/vm/base.vmdk']);
    expect(chain.links[0]!.parentHint).toBe('/vmfs/volumes/5f3c-aaaa/vm/base.vmdk');
  });

  it('refuses a cycle (a disk reached twice) and a chain deeper than 64', async () => {
    const files = new Map<string, Uint8Array>([
      ['/vm/a.vmdk', enc(deltaDesc('aaaaaaaa', 'bbbbbbbb', 'b.vmdk', 8, 'z'))],
      ['/vm/b.vmdk', enc(deltaDesc('bbbbbbbb', 'aaaaaaaa', 'a.vmdk', 8, 'z'))],
      ['/vm/z', buildKdmv({ capacitySectors: 8, grains: new Map() })],
    ]);
    await expect(openChain(new MemResolver(files), '/vm/a.vmdk')).rejects.toThrow(/parent chain loops: \/vm\/a\.vmdk appears twice/);
    const deep = new Map<string, Uint8Array>();
    for (let i = 0; i < 70; i++) {
      deep.set(`/d/${i}.vmdk`, enc(`CID=${(i + 1).toString(16)}\nparentCID=${(i + 2).toString(16)}\nparentFileNameHint="${i + 1}.vmdk"\nRW 8 ZERO\n`));
    }
    await expect(openChain(new MemResolver(deep), '/d/0.vmdk')).rejects.toThrow(CorruptError);
    await expect(openChain(new MemResolver(deep), '/d/0.vmdk')).rejects.toThrow(/deeper than 64/);
  });

  it('a parent smaller than the child reads zeros past its end, with a warning; a larger one is noted', async () => {
    const files = baseFiles(); // 1 MiB base
    files.set('/vm/big.vmdk', enc(deltaDesc('22222222', '0000abcd', 'base.vmdk', 4096, 'big-s001.vmdk')));
    files.set('/vm/big-s001.vmdk', buildKdmv({ capacitySectors: 4096, grains: new Map() }));
    const chain = await openChain(new MemResolver(files), '/vm/big.vmdk');
    expect(chain.size).toBe(2 * MiB);
    expect(chain.links[0]!.warnings.join('\n')).toMatch(/parent \/vm\/base\.vmdk is smaller \(1048576 bytes\) than this disk \(2097152 bytes\)/);
    expect([...(await chain.read(MiB - 1, 2))]).toEqual([0xaa, 0]);
    files.set('/vm/small.vmdk', enc(deltaDesc('33333333', '0000abcd', 'base.vmdk', 1024, 'small-s001.vmdk')));
    files.set('/vm/small-s001.vmdk', buildKdmv({ capacitySectors: 1024, grains: new Map() }));
    const c2 = await openChain(new MemResolver(files), '/vm/small.vmdk');
    expect(c2.size).toBe(MiB / 2);
    expect(c2.links[0]!.warnings.join('\n')).toMatch(/is larger/);
  });

  it('parentCID=ffffffff ends the chain even with a hint; fffffffe is reported as uncheckable', async () => {
    const files = baseFiles();
    files.set('/vm/d1.vmdk', enc(deltaDesc('11111111', 'ffffffff', 'base.vmdk', 2048, 'd1-s001.vmdk')));
    files.set('/vm/d1-s001.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map() }));
    const chain = await openChain(new MemResolver(files), '/vm/d1.vmdk');
    expect(chain.layers).toHaveLength(1);
    expect(chain.links[0]!.warnings.join('\n')).toMatch(/parentFileNameHint "base\.vmdk" is ignored/);
    files.set('/vm/d1.vmdk', enc(deltaDesc('11111111', 'fffffffe', 'base.vmdk', 2048, 'd1-s001.vmdk')));
    const c2 = await openChain(new MemResolver(files), '/vm/d1.vmdk');
    expect(c2.layers).toHaveLength(2);
    expect(c2.links[0]!.cidOk).toBeNull();
    expect(c2.links[0]!.warnings.join('\n')).toMatch(/cannot be checked/);
  });

  it('opens a monolithicSparse file with its embedded descriptor as a chain link', async () => {
    const files = baseFiles();
    const desc = deltaDesc('44444444', '0000abcd', 'base.vmdk', 2048, 'mono.vmdk').replace('twoGbMaxExtentSparse', 'monolithicSparse');
    files.set('/vm/mono.vmdk', buildKdmv({ capacitySectors: 2048, grains: new Map([[0, 'zero']]), flags: 0x5, version: 2, descriptor: desc }));
    const chain = await openChain(new MemResolver(files), '/vm/mono.vmdk');
    expect(chain.links[0]!.createType).toBe('monolithicSparse');
    expect(chain.links[0]!.cidOk).toBe(true);
    expect([...(await chain.read(65535, 2))]).toEqual([0, 0xaa]);
  });

  it('RDM disks are listed (format rdm) but reading them is UnsupportedError', async () => {
    const files = new Map([['/vm/r.vmdk', enc('CID=1\nparentCID=ffffffff\ncreateType="vmfsPassthroughRawDeviceMap"\nRW 2048 VMFSRDM "r-rdmp.vmdk"\n')]]);
    const chain = await openChain(new MemResolver(files), '/vm/r.vmdk');
    expect(chain.links[0]!.format).toBe('rdm');
    await expect(chain.read(0, 512)).rejects.toThrow(UnsupportedError);
  });

  it('a multi-extent descriptor concatenates FLAT, ZERO and SPARSE extents at their offsets', async () => {
    const g = patternGrain(3);
    const files = new Map<string, Uint8Array>([
      ['/m/m.vmdk', enc('CID=1\nparentCID=ffffffff\ncreateType="custom"\nRW 4 FLAT "f.bin" 2\nRW 4 ZERO\nRW 128 SPARSE "s.vmdk"\n')],
      ['/m/f.bin', new Uint8Array(3072).map((_, i) => (i < 1024 ? 1 : 2))],
      ['/m/s.vmdk', buildKdmv({ capacitySectors: 128, grains: new Map([[0, g]]) })],
    ]);
    const chain = await openChain(new MemResolver(files), '/m/m.vmdk');
    expect(chain.size).toBe(136 * 512);
    expect(chain.links[0]!.format).toBe('multi');
    const all = await chain.read(0, chain.size);
    expect(all.subarray(0, 2048).every((b) => b === 2)).toBe(true);
    expect(all.subarray(2048, 4096).every((b) => b === 0)).toBe(true);
    expect(all.subarray(4096)).toEqual(g);
  });
});
