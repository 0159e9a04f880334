import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptError, UnsupportedError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { openHostedSparseExtent } from '../../src/core/vmdk/formats/hosted-sparse.js';
import { inflateZlib, openStreamOptimizedExtent } from '../../src/core/vmdk/formats/stream-optimized.js';
import type { DiskLayer } from '../../src/core/vmdk/types.js';
import { buildKdmv, buildStream, patternGrain } from '../helpers/kdmv-builder.js';

const G = 65536;
const MiB = 1024 * 1024;

/** Reads a layer alone (parent = zeros) through its extents. */
async function readLayer(layer: DiskLayer, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (const e of await layer.mapRange(offset, length)) {
    if (e.kind === 'data') out.set(await e.source.read(e.sourceOffset, e.length), e.offset - offset);
  }
  return out;
}

describe('hosted sparse (KDMV) extent', () => {
  const g0 = patternGrain(1);
  const g5 = patternGrain(2);
  const g600 = patternGrain(3);
  const spec = { capacitySectors: (40 * MiB) / 512, grains: new Map<number, Uint8Array | 'zero'>([[0, g0], [5, g5], [600, g600], [6, 'zero']]) };

  it('maps allocated, unallocated and zero grains; reads data', async () => {
    const bytes = buildKdmv({ ...spec, flags: 0x5, version: 2 });
    const layer = await openHostedSparseExtent(new MemorySource(bytes, 't.vmdk'), 't.vmdk');
    expect(layer.capacity).toBe(40 * MiB);
    expect(layer.grainSize).toBe(G);
    expect(layer.format).toBe('hostedSparse');
    const map = await layer.mapRange(0, 8 * G);
    expect(map.map((e) => [e.kind, e.offset, e.length])).toEqual([
      ['data', 0, G],
      ['parent', G, 4 * G],
      ['data', 5 * G, G],
      ['zero', 6 * G, G],
      ['parent', 7 * G, G],
    ]);
    expect(await readLayer(layer, 5 * G + 100, 1000)).toEqual(g5.subarray(100, 1100));
    expect(await readLayer(layer, 600 * G - 10, 20)).toEqual(new Uint8Array([...new Uint8Array(10), ...g600.subarray(0, 10)]));
    expect(await layer.allocatedBytes()).toBe(3 * G);
  });

  it('merges contiguous grains into one data extent and a whole unallocated GT into one parent extent', async () => {
    const grains = new Map<number, Uint8Array | 'zero'>([[2, patternGrain(7)], [3, patternGrain(8)], [4, patternGrain(9)]]);
    const layer = await openHostedSparseExtent(new MemorySource(buildKdmv({ capacitySectors: (100 * MiB) / 512, grains, sparseGts: true }), 'm'), 'm');
    const map = await layer.mapRange(0, 100 * MiB);
    expect(map.map((e) => [e.kind, e.offset, e.length])).toEqual([
      ['parent', 0, 2 * G],
      ['data', 2 * G, 3 * G],
      ['parent', 5 * G, 100 * MiB - 5 * G],
    ]);
  });

  it('GTE 1 without the zero-grain flag reads file sector 1, as qemu does', async () => {
    const bytes = buildKdmv({ ...spec, flags: 0x1, descriptor: 'X'.repeat(600) });
    const layer = await openHostedSparseExtent(new MemorySource(bytes, 'n'), 'n');
    const map = await layer.mapRange(6 * G, G);
    expect(map).toMatchObject([{ kind: 'data', sourceOffset: 512 }]);
  });

  it('falls back to the redundant grain directory when a primary GD entry is zeroed', async () => {
    const bytes = buildKdmv({ ...spec, redundant: true });
    const dv = new DataView(bytes.buffer);
    const gd = Number(dv.getBigUint64(56, true));
    dv.setUint32(gd * 512, 0, true); // primary GD entry 0 lost
    const layer = await openHostedSparseExtent(new MemorySource(bytes, 'r'), 'r');
    expect(await readLayer(layer, 0, G)).toEqual(g0);
    // Both copies lost: the GT range is unallocated.
    const rgd = Number(dv.getBigUint64(48, true));
    dv.setUint32(rgd * 512, 0, true);
    const layer2 = await openHostedSparseExtent(new MemorySource(bytes, 'r2'), 'r2');
    expect((await layer2.mapRange(0, G))[0]!.kind).toBe('parent');
  });

  it('reports grains and grain tables past the end of a truncated file as missing', async () => {
    const bytes = buildKdmv(spec);
    const cut = bytes.subarray(0, bytes.length - 2 * G); // drops grains 5 and 600
    const layer = await openHostedSparseExtent(new MemorySource(cut, 'cut'), 'cut');
    const map = await layer.mapRange(0, 8 * G);
    expect(map.filter((e) => e.kind === 'missing').map((e) => e.offset)).toEqual([5 * G]);
    expect(await readLayer(layer, 0, G)).toEqual(g0);
    const headOnly = bytes.subarray(0, 512 * 22); // GD and GTs gone
    const l2 = await openHostedSparseExtent(new MemorySource(headOnly, 'h'), 'h');
    expect((await l2.mapRange(0, 40 * MiB)).every((e) => e.kind === 'missing')).toBe(true);
  });

  it('refuses unknown versions, unknown incompatible flags and bad grain sizes with typed errors', async () => {
    const bytes = buildKdmv(spec);
    const v = bytes.slice();
    new DataView(v.buffer).setUint32(4, 4, true);
    await expect(openHostedSparseExtent(new MemorySource(v, 'v'), 'v')).rejects.toThrow(UnsupportedError);
    const f = bytes.slice();
    new DataView(f.buffer).setUint32(8, 0x40001, true);
    await expect(openHostedSparseExtent(new MemorySource(f, 'f'), 'f')).rejects.toThrow(/incompatible flags 0x00040000/);
    const g = bytes.slice();
    new DataView(g.buffer).setBigUint64(20, 100n, true);
    await expect(openHostedSparseExtent(new MemorySource(g, 'g'), 'g')).rejects.toThrow(CorruptError);
    const m = bytes.slice();
    m[0] = 0;
    await expect(openHostedSparseExtent(new MemorySource(m, 'm'), 'm')).rejects.toThrow(/not a hosted sparse extent/);
  });

  it('handles a capacity that is not a grain multiple', async () => {
    const last = patternGrain(4);
    const layer = await openHostedSparseExtent(new MemorySource(buildKdmv({ capacitySectors: 1000, grains: new Map([[7, last]]) }), 'odd'), 'odd');
    expect(layer.capacity).toBe(512000);
    expect(await readLayer(layer, 7 * G, 512000 - 7 * G)).toEqual(last.subarray(0, 512000 - 7 * G));
    await expect(layer.mapRange(0, 512001)).rejects.toThrow(/outside the disk/);
  });
});

describe('streamOptimized extent (VMware layout: GD at the end, footer, markers)', () => {
  const grains = new Map<number, Uint8Array>([
    [0, patternGrain(11)],
    [1, new Uint8Array(G)],
    [513, patternGrain(12)],
  ]);

  it('reads the footer and inflates grains', async () => {
    const { bytes } = buildStream({ capacitySectors: (40 * MiB) / 512, grains });
    const layer = await openStreamOptimizedExtent(new MemorySource(bytes, 's.vmdk'), 's.vmdk');
    expect(layer.format).toBe('streamOptimized');
    expect(layer.header.fromFooter).toBe(true);
    expect(await readLayer(layer, 0, G)).toEqual(grains.get(0));
    expect(await readLayer(layer, 513 * G + 1000, 3000)).toEqual(grains.get(513)!.subarray(1000, 4000));
    const map = await layer.mapRange(0, 40 * MiB);
    expect(map.map((e) => e.kind)).toEqual(['data', 'data', 'parent', 'data', 'parent']);
    expect(await layer.allocatedBytes()).toBe(3 * G);
  });

  it('a last grain shorter than the grain size inflates to the capacity', async () => {
    const cap = 1000;
    const g = patternGrain(13).subarray(0, 512000 - 7 * G);
    const { bytes } = buildStream({ capacitySectors: cap, grains: new Map([[7, g]]) });
    const layer = await openStreamOptimizedExtent(new MemorySource(bytes, 'o'), 'o');
    expect(await readLayer(layer, 7 * G, g.length)).toEqual(g);
  });

  it('rejects a grain record whose LBA is wrong, and a footer-less truncated stream', async () => {
    const { bytes } = buildStream({ capacitySectors: 8192, grains, lbaOverride: new Map([[1, 999]]) });
    const layer = await openStreamOptimizedExtent(new MemorySource(bytes, 'lba'), 'lba');
    await expect(readLayer(layer, G, 10)).rejects.toThrow(/record says LBA 999, expected 128/);
    const { bytes: ok } = buildStream({ capacitySectors: 8192, grains });
    await expect(openStreamOptimizedExtent(new MemorySource(ok.subarray(0, ok.length - 1024), 't'), 't')).rejects.toThrow(CorruptError);
  });

  it('inflation is bounded to one grain and garbage is a CorruptError', async () => {
    const big = deflateSync(new Uint8Array(2 * G));
    await expect(inflateZlib(big, G, 'x')).rejects.toThrow(/more than 65536 bytes/);
    await expect(inflateZlib(new Uint8Array([1, 2, 3, 4, 5]), G, 'y')).rejects.toThrow(CorruptError);
    expect(await inflateZlib(deflateSync(patternGrain(5)), G, 'z')).toEqual(patternGrain(5));
  });
});
