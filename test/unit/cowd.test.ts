import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { DiskChain } from '../../src/core/vmdk/disk-chain.js';
import { isCowdHeader, openCowdExtent } from '../../src/core/vmdk/formats/cowd.js';
import type { ChainLinkInfo, DiskLayer, LayerExtent } from '../../src/core/vmdk/types.js';
import { writeCowd } from '../builders/cowd.js';
import { writesToRuns, type GrainRun } from '../builders/delta-common.js';
import { memLayer } from '../helpers/mem-layer.js';
import { makeTempDir } from '../helpers/tools.js';

const tmp = makeTempDir('cowd-unit-');
afterAll(() => tmp.cleanup());
let n = 0;

/** Builds a COWD file with the test builder and returns its bytes (tiny fixtures only). */
function build(capacity: number, runs: Iterable<GrainRun>, opts: { grainSectors?: number; zeroedTables?: number[]; numGDEntries?: number } = {}): { bytes: Uint8Array; gtSectors: Map<number, number> } {
  const dataPath = path.join(tmp.dir, `c${n++}-delta.vmdk`);
  const r = writeCowd({ dataPath, capacity, runs, ...opts });
  return { bytes: new Uint8Array(readFileSync(dataPath)), gtSectors: r.gtSectors };
}
const open = (bytes: Uint8Array) => openCowdExtent(new MemorySource(bytes, 'x-delta.vmdk'), 'x-delta.vmdk');
const strip = (es: LayerExtent[]) => es.map((e) => (e.kind === 'data' ? { kind: e.kind, offset: e.offset, length: e.length, sourceOffset: e.sourceOffset } : e.kind === 'missing' ? { kind: e.kind, offset: e.offset, length: e.length } : e));
const MiB = 1024 * 1024;
const fill = (len: number, v: number) => new Uint8Array(len).fill(v);

function chainOf(top: DiskLayer, parentByte: number): DiskChain {
  const base = memLayer(top.capacity, [{ offset: 0, bytes: fill(top.capacity, parentByte) }]);
  return new DiskChain([top, base], [] as ChainLinkInfo[]);
}

describe('COWD reader', () => {
  it('recognises the magic', () => {
    expect(isCowdHeader(new TextEncoder().encode('COWD'))).toBe(true);
    expect(isCowdHeader(new TextEncoder().encode('KDMV'))).toBe(false);
    expect(isCowdHeader(new Uint8Array(2))).toBe(false);
  });

  it('maps grains exactly (grain 1 sector): data, zero, parent, GT boundary, last sector', async () => {
    const cap = 8 * MiB;
    // Layout by construction: header 4 sectors, GD at 4 (4 tables → 1 sector), data from sector 5.
    // Write order = file order: GT0 at 5 (32 sectors), grains 1,2 at 37,38; GT1 at 39, grain 4096 at 71;
    // back in GT0: grain 4095 at 72; GT3 at 73, last grain at 105.
    const { bytes } = build(cap, [
      { firstGrain: 1, count: 2, kind: 'data', bytes: fill(1024, 0x22) },
      { firstGrain: 4096, count: 1, kind: 'data', bytes: fill(512, 0x33) },
      { firstGrain: 4095, count: 1, kind: 'data', bytes: fill(512, 0x44) },
      { firstGrain: 8, count: 2, kind: 'zero' },
      { firstGrain: cap / 512 - 1, count: 1, kind: 'data', bytes: fill(512, 0x55) },
    ]);
    const layer = await open(bytes);
    expect(layer.capacity).toBe(cap);
    expect(layer.grainSize).toBe(512);
    expect(layer.format).toBe('vmfsSparse');
    expect(strip(await layer.mapRange(0, cap))).toEqual([
      { kind: 'parent', offset: 0, length: 512 },
      { kind: 'data', offset: 512, length: 1024, sourceOffset: 37 * 512 },
      { kind: 'parent', offset: 1536, length: 8 * 512 - 1536 },
      { kind: 'zero', offset: 8 * 512, length: 1024 },
      { kind: 'parent', offset: 10 * 512, length: 4095 * 512 - 10 * 512 },
      { kind: 'data', offset: 4095 * 512, length: 512, sourceOffset: 72 * 512 },
      { kind: 'data', offset: 4096 * 512, length: 512, sourceOffset: 71 * 512 },
      { kind: 'parent', offset: 4097 * 512, length: cap - 512 - 4097 * 512 },
      { kind: 'data', offset: cap - 512, length: 512, sourceOffset: 105 * 512 },
    ]);
    // A sub-range inside a grain keeps the in-grain offset.
    expect(strip(await layer.mapRange(600, 100))).toEqual([{ kind: 'data', offset: 600, length: 100, sourceOffset: 37 * 512 + 88 }]);
    expect(await layer.allocatedBytes()).toBe(5 * 512);
    await expect(layer.mapRange(cap - 512, 1024)).rejects.toThrow();
  });

  it('zeroed grains and zeroed tables read as zeros and do not fall through to the parent', async () => {
    const cap = 6 * MiB;
    const { bytes } = build(cap, writesToRuns(cap, 512, [{ offset: 0, length: 512, pattern: 7 }], [{ offset: 512, length: 1024 }]), { zeroedTables: [2] });
    const layer = await open(bytes);
    expect(strip(await layer.mapRange(4 * MiB - 512, 2 * MiB + 512))).toEqual([
      { kind: 'parent', offset: 4 * MiB - 512, length: 512 },
      { kind: 'zero', offset: 4 * MiB, length: 2 * MiB },
    ]);
    const chain = chainOf(layer, 0xaa);
    const head = await chain.read(0, 2048);
    expect([...head.subarray(0, 512)].every((b) => b === 7)).toBe(true);
    expect([...head.subarray(512, 1536)].every((b) => b === 0)).toBe(true);
    expect([...head.subarray(1536)].every((b) => b === 0xaa)).toBe(true);
    expect((await chain.read(5 * MiB, 4096)).every((b) => b === 0)).toBe(true);
  });

  it('merges grains that are contiguous in the file into one extent (grain 16 sectors)', async () => {
    const cap = 40 * MiB + 5 * 512; // partial last grain
    const g = 16 * 512;
    const { bytes } = build(cap, [{ firstGrain: 10, count: 300, kind: 'data', fill: (b) => b.fill(9) }], { grainSectors: 16 });
    const layer = await open(bytes);
    expect(layer.grainSize).toBe(g);
    // GD: ceil(cap / 32 MiB) = 2 entries (1 sector) → GT0 at 5..36, grains from 37.
    expect(strip(await layer.mapRange(0, cap))).toEqual([
      { kind: 'parent', offset: 0, length: 10 * g },
      { kind: 'data', offset: 10 * g, length: 300 * g, sourceOffset: 37 * 512 },
      { kind: 'parent', offset: 310 * g, length: cap - 310 * g },
    ]);
    expect(strip(await layer.mapRange(10 * g + 100, 5000))).toEqual([{ kind: 'data', offset: 10 * g + 100, length: 5000, sourceOffset: 37 * 512 + 100 }]);
  });

  it('reads many tables correctly through the bounded GT cache', async () => {
    const cap = 300 * 2 * MiB; // 300 GTs of 2 MiB, more than the cache holds
    const runs: GrainRun[] = [];
    for (let t = 299; t >= 0; t -= 3) runs.push({ firstGrain: t * 4096 + (t % 7), count: 1, kind: 'data', bytes: fill(512, t & 0xff) });
    const { bytes } = build(cap, runs);
    const layer = await open(bytes);
    for (let pass = 0; pass < 2; pass++) {
      for (let t = 299; t >= 0; t -= 3) {
        const es = await layer.mapRange(t * 2 * MiB, 2 * MiB);
        const d = es.filter((e) => e.kind === 'data');
        expect(d).toHaveLength(1);
        expect(d[0]!.offset).toBe(t * 2 * MiB + (t % 7) * 512);
        const e = d[0]!;
        if (e.kind === 'data') expect((await e.source.read(e.sourceOffset, 512))[0]).toBe(t & 0xff);
      }
    }
    expect(await layer.allocatedBytes()).toBe(100 * 512);
  });

  it('reports a truncated file as missing extents, never a crash', async () => {
    const cap = 8 * MiB;
    const { bytes, gtSectors } = build(cap, [
      { firstGrain: 0, count: 4, kind: 'data', bytes: fill(2048, 1) }, // GT0 at 5, grains 37..40
      { firstGrain: 3 * 4096, count: 2, kind: 'data', bytes: fill(1024, 2) }, // GT3 at 41, grains 73,74
    ]);
    expect(gtSectors.get(3)).toBe(41);
    // Cut inside the last GT's grains: grain 74 is gone.
    let layer = await open(bytes.slice(0, 74 * 512));
    let es = strip(await layer.mapRange(6 * MiB, 2048));
    expect(es).toEqual([
      { kind: 'data', offset: 6 * MiB, length: 512, sourceOffset: 73 * 512 },
      { kind: 'missing', offset: 6 * MiB + 512, length: 512 },
      { kind: 'parent', offset: 6 * MiB + 1024, length: 1024 },
    ]);
    const miss = (await layer.mapRange(6 * MiB + 512, 512))[0]!;
    expect(miss.kind === 'missing' && miss.reason).toMatch(/past end/);
    // Cut inside GT3 itself: its whole 2 MiB range is missing; GT0 still reads.
    layer = await open(bytes.slice(0, 50 * 512));
    es = strip(await layer.mapRange(6 * MiB, 2 * MiB));
    expect(es).toEqual([{ kind: 'missing', offset: 6 * MiB, length: 2 * MiB }]);
    expect(strip(await layer.mapRange(0, 4096))).toEqual([
      { kind: 'data', offset: 0, length: 2048, sourceOffset: 37 * 512 },
      { kind: 'parent', offset: 2048, length: 2048 },
    ]);
    // A directory shorter than the capacity needs: later tables are missing.
    const short = build(cap, [{ firstGrain: 0, count: 1, kind: 'data', bytes: fill(512, 1) }], { numGDEntries: 2 }).bytes;
    layer = await open(short);
    expect(strip(await layer.mapRange(2 * MiB, 4 * MiB))).toEqual([
      { kind: 'parent', offset: 2 * MiB, length: 2 * MiB },
      { kind: 'missing', offset: 4 * MiB, length: 2 * MiB },
    ]);
  });

  it('treats grain pointers into the header as missing', async () => {
    const cap = 2 * MiB;
    const { bytes } = build(cap, [{ firstGrain: 0, count: 2, kind: 'data', bytes: fill(1024, 1) }]);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(5 * 512 + 4, 2, true); // GTE 1 → sector 2 (inside the header)
    const layer = await open(bytes);
    expect(strip(await layer.mapRange(0, 1024))).toEqual([
      { kind: 'data', offset: 0, length: 512, sourceOffset: 37 * 512 },
      { kind: 'missing', offset: 512, length: 512 },
    ]);
  });

  it('refuses absurd headers with CorruptError', async () => {
    const { bytes } = build(2 * MiB, [{ firstGrain: 0, count: 1, kind: 'data', bytes: fill(512, 1) }]);
    const bad = (edit: (dv: DataView) => void, len = bytes.length) => {
      const b = bytes.slice(0, len);
      edit(new DataView(b.buffer));
      return open(b);
    };
    await expect(bad((dv) => dv.setUint32(0x10, 0, true))).rejects.toBeInstanceOf(CorruptError); // grainSize 0
    await expect(bad((dv) => dv.setUint32(0x10, 3, true))).rejects.toBeInstanceOf(CorruptError); // not a power of two
    await expect(bad((dv) => dv.setUint32(0x10, 0x80000000, true))).rejects.toBeInstanceOf(CorruptError);
    await expect(bad((dv) => dv.setUint32(0x0c, 0, true))).rejects.toBeInstanceOf(CorruptError); // numSectors 0
    await expect(bad((dv) => dv.setUint32(0x14, 1, true))).rejects.toBeInstanceOf(CorruptError); // GD inside header
    await expect(bad((dv) => dv.setUint32(0, 0x12345678, true))).rejects.toBeInstanceOf(CorruptError);
    await expect(bad(() => {}, 1000)).rejects.toBeInstanceOf(CorruptError); // shorter than the header
    // A huge numSectors with a GD past the end: opens, and the far ranges are missing, not a crash.
    const big = await bad((dv) => {
      dv.setUint32(0x0c, 0xffffffff, true);
      dv.setUint32(0x18, 0xffffffff, true);
    });
    const far = await big.mapRange(big.capacity - 4096, 4096);
    expect(far.every((e) => e.kind === 'missing')).toBe(true);
  });
});
