import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptError, UnsupportedError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { DiskChain } from '../../src/core/vmdk/disk-chain.js';
import { isSeSparseHeader, openSeSparseExtent } from '../../src/core/vmdk/formats/sesparse.js';
import type { ChainLinkInfo, LayerExtent } from '../../src/core/vmdk/types.js';
import { writesToRuns, type GrainRun } from '../builders/delta-common.js';
import { seSparseDataEntry, writeSeSparse, type SeSparseBuildResult } from '../builders/sesparse.js';
import { memLayer } from '../helpers/mem-layer.js';
import { makeTempDir } from '../helpers/tools.js';

const tmp = makeTempDir('sesparse-unit-');
afterAll(() => tmp.cleanup());
let n = 0;
const MiB = 1024 * 1024;
const G = 4096;
const fill = (len: number, v: number) => new Uint8Array(len).fill(v);

function build(capacity: number, runs: Iterable<GrainRun>, opts: { firstGrainIndex?: number; replayJournal?: number } = {}): { bytes: Uint8Array; res: SeSparseBuildResult } {
  const dataPath = path.join(tmp.dir, `s${n++}-sesparse.vmdk`);
  const res = writeSeSparse({ dataPath, capacity, runs, ...opts });
  return { bytes: new Uint8Array(readFileSync(dataPath)), res };
}
const open = (bytes: Uint8Array) => openSeSparseExtent(new MemorySource(bytes, 'x-sesparse.vmdk'), 'x-sesparse.vmdk');
const strip = (es: LayerExtent[]) => es.map((e) => (e.kind === 'data' ? { kind: e.kind, offset: e.offset, length: e.length, sourceOffset: e.sourceOffset } : e.kind === 'missing' ? { kind: e.kind, offset: e.offset, length: e.length } : e));

describe('seSparse reader', () => {
  it('recognises the magic', () => {
    expect(isSeSparseHeader(new Uint8Array([0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]))).toBe(true);
    expect(isSeSparseHeader(new Uint8Array([0xbe, 0xba, 0xfe, 0xca, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]))).toBe(false);
    expect(isSeSparseHeader(new TextEncoder().encode('COWD'))).toBe(false);
  });

  it('encodes grain indices with the split bits (doc examples)', () => {
    expect(seSparseDataEntry(0)).toBe(0x3000000000000000n);
    expect(seSparseDataEntry(2)).toBe(0x3002000000000000n);
    expect(seSparseDataEntry(4097)).toBe(0x3001000000000001n);
    expect(seSparseDataEntry(8000)).toBe(0x3f40000000000001n);
  });

  it('maps grains exactly: data across the index bit split, zero, unmapped, GT slots out of order', async () => {
    const cap = 40 * MiB; // 3 tables of 16 MiB
    // First-write order: table 2 (slot 0), then table 0 (slot 1). Grain indices from 4094:
    // grain 2*4096+5 → 4094; grains 1,2,3 → 4095, 4096, 4097 (contiguous in the file).
    const { bytes, res } = build(
      cap,
      [
        { firstGrain: 2 * 4096 + 5, count: 1, kind: 'data', bytes: fill(G, 0x11) },
        { firstGrain: 1, count: 3, kind: 'data', bytes: fill(3 * G, 0x22) },
        { firstGrain: 10, count: 2, kind: 'zero' },
        { firstGrain: 12, count: 1, kind: 'unmapped' },
      ],
      { firstGrainIndex: 4094 },
    );
    const grains = res.layout.grainsOffset * 512;
    expect(res.gtOffsets.get(2)).toBe(res.layout.gtOffset * 512);
    const layer = await open(bytes);
    expect(layer.capacity).toBe(cap);
    expect(layer.grainSize).toBe(G);
    expect(layer.format).toBe('seSparse');
    expect(strip(await layer.mapRange(0, cap))).toEqual([
      { kind: 'parent', offset: 0, length: G },
      { kind: 'data', offset: G, length: 3 * G, sourceOffset: grains + 4095 * G },
      { kind: 'parent', offset: 4 * G, length: 6 * G },
      { kind: 'zero', offset: 10 * G, length: 3 * G },
      { kind: 'parent', offset: 13 * G, length: (2 * 4096 + 5) * G - 13 * G },
      { kind: 'data', offset: (2 * 4096 + 5) * G, length: G, sourceOffset: grains + 4094 * G },
      { kind: 'parent', offset: (2 * 4096 + 6) * G, length: cap - (2 * 4096 + 6) * G },
    ]);
    expect(await layer.allocatedBytes()).toBe(4 * G);
    const w = (layer as unknown as { warnings: string[] }).warnings;
    expect(w.some((s) => /1 SCSI-unmapped/.test(s))).toBe(true);
  });

  it('zero and unmapped grains do not fall through to the parent', async () => {
    const cap = 16 * MiB;
    const { bytes } = build(cap, writesToRuns(cap, G, [{ offset: 0, length: 512, pattern: 5 }], [{ offset: G, length: G }], [{ offset: 2 * G, length: G }]));
    const layer = await open(bytes);
    const base = memLayer(cap, [{ offset: 0, bytes: fill(cap, 0xaa) }]);
    const chain = new DiskChain([layer, base], [] as ChainLinkInfo[]);
    const b = await chain.read(0, 4 * G);
    expect(b.subarray(0, 512).every((x) => x === 5)).toBe(true);
    expect(b.subarray(512, 3 * G).every((x) => x === 0)).toBe(true); // rest of grain 0 (written as zeros), zero, unmapped
    expect(b.subarray(3 * G).every((x) => x === 0xaa)).toBe(true);
  });

  it('reports truncation and corrupt entries as missing', async () => {
    const cap = 32 * MiB;
    const { bytes, res } = build(cap, [
      { firstGrain: 0, count: 2, kind: 'data', bytes: fill(2 * G, 1) },
      { firstGrain: 4096, count: 1, kind: 'data', bytes: fill(G, 2) },
    ]);
    const grains = res.layout.grainsOffset * 512;
    // Truncated inside grain index 1.
    let layer = await open(bytes.slice(0, grains + G + 100));
    expect(strip(await layer.mapRange(0, 3 * G))).toEqual([
      { kind: 'data', offset: 0, length: G, sourceOffset: grains },
      { kind: 'missing', offset: G, length: G },
      { kind: 'parent', offset: 2 * G, length: G },
    ]);
    expect(strip(await layer.mapRange(16 * MiB, G))).toEqual([{ kind: 'missing', offset: 16 * MiB, length: G }]);
    // Corrupt GD entry (top 32 bits not 0x10000000) and a GT entry of unknown type.
    const b = bytes.slice();
    const dv = new DataView(b.buffer);
    dv.setBigUint64(res.layout.gdOffset * 512 + 8, 0x2000000000000001n, true);
    dv.setBigUint64(res.gtOffsets.get(0)! + 8, 0x5000000000000000n, true);
    dv.setBigUint64(res.gtOffsets.get(0)! + 16, 0x0000000000000001n, true); // type 0 with bits set
    layer = await open(b);
    expect(strip(await layer.mapRange(0, 4 * G))).toEqual([
      { kind: 'data', offset: 0, length: G, sourceOffset: grains },
      { kind: 'missing', offset: G, length: G }, // unknown type
      { kind: 'missing', offset: 2 * G, length: G }, // type 0 with bits set (another reason)
      { kind: 'parent', offset: 3 * G, length: G },
    ]);
    expect(strip(await layer.mapRange(16 * MiB, 16 * MiB))).toEqual([{ kind: 'missing', offset: 16 * MiB, length: 16 * MiB }]);
    // GT slot beyond the table area.
    dv.setBigUint64(res.layout.gdOffset * 512 + 8, 0x1000000000100000n, true);
    layer = await open(b);
    const m = (await layer.mapRange(16 * MiB, G))[0]!;
    expect(m.kind === 'missing' && m.reason).toMatch(/slot/);
  });

  it('reads a dirty file anyway, with a warning', async () => {
    const { bytes } = build(16 * MiB, [{ firstGrain: 0, count: 1, kind: 'data', bytes: fill(G, 1) }], { replayJournal: 1 });
    const layer = await open(bytes);
    expect((layer as unknown as { warnings: string[] }).warnings.join()).toMatch(/journal not replayed/);
    expect((await layer.mapRange(0, G))[0]!.kind).toBe('data');
  });

  it('refuses absurd or unknown headers', async () => {
    const { bytes } = build(16 * MiB, [{ firstGrain: 0, count: 1, kind: 'data', bytes: fill(G, 1) }]);
    const bad = (off: number, v: bigint) => {
      const b = bytes.slice();
      new DataView(b.buffer).setBigUint64(off, v, true);
      return open(b);
    };
    await expect(bad(0x00, 0xcafebabfn)).rejects.toBeInstanceOf(CorruptError);
    await expect(bad(0x08, 0x0000000200000002n)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(bad(0x18, 16n)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(bad(0x20, 128n)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(bad(0x28, 1n)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(bad(0x10, 0n)).rejects.toBeInstanceOf(CorruptError); // capacity 0
    await expect(bad(0x10, 1n << 40n)).rejects.toBeInstanceOf(CorruptError); // 512 TiB
    await expect(bad(0x10, 0xffffffffffffffffn)).rejects.toBeInstanceOf(CorruptError);
    await expect(bad(0x80, 1n << 50n)).rejects.toBeInstanceOf(CorruptError); // GD offset
    await expect(bad(0xc0, 0n)).rejects.toBeInstanceOf(CorruptError); // grains offset
    await expect(open(bytes.slice(0, 100))).rejects.toBeInstanceOf(CorruptError);
    // A GD claiming 2^40 entries: opens (the capacity bounds what is read), reads fine.
    const huge = await bad(0x88, 1n << 40n);
    expect((await huge.mapRange(0, G))[0]!.kind).toBe('data');
    // Capacity of 60 TiB over a tiny file: far ranges are missing, not a crash or a huge allocation.
    const wide = await bad(0x10, (60n << 40n) / 512n);
    const far = await wide.mapRange(wide.capacity - G, G);
    expect(far[0]!.kind).toBe('missing');
  });
});
