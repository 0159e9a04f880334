import { describe, expect, it } from 'vitest';
import { CachedSource, ExtentSource, MemorySource, SliceSource, ZeroSource } from '../../src/core/io/byte-source.js';
import { OutOfRangeError } from '../../src/core/errors.js';
import { findRun } from '../../src/core/util/runs.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('ByteSource layers', () => {
  it('memory source reads exact ranges and rejects reads past the end', async () => {
    const m = new MemorySource(bytes(100));
    expect(Array.from(await m.read(10, 3))).toEqual(Array.from(bytes(100).subarray(10, 13)));
    await expect(m.read(99, 2)).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(m.read(-1, 1)).rejects.toBeInstanceOf(OutOfRangeError);
    await expect(m.read(0.5, 1)).rejects.toBeInstanceOf(OutOfRangeError);
  });

  it('slice offsets into its parent and refuses to reach outside it', async () => {
    const m = new MemorySource(bytes(100));
    const s = new SliceSource(m, 40, 20);
    expect(Array.from(await s.read(0, 4))).toEqual(Array.from(bytes(100).subarray(40, 44)));
    await expect(s.read(18, 4)).rejects.toBeInstanceOf(OutOfRangeError);
    expect(() => new SliceSource(m, 90, 20)).toThrow(OutOfRangeError);
  });

  it('extent source stitches runs and zero holes, and checks coverage', async () => {
    const a = new MemorySource(bytes(50, 3));
    const b = new MemorySource(bytes(50, 7));
    const x = new ExtentSource(
      [
        { offset: 0, length: 10, source: a, sourceOffset: 5 },
        { offset: 10, length: 5, source: null, sourceOffset: 0 },
        { offset: 15, length: 20, source: b, sourceOffset: 0 },
      ],
      35,
    );
    const got = await x.read(8, 10);
    const want = new Uint8Array(10);
    want.set(bytes(50, 3).subarray(13, 15), 0);
    want.set(bytes(50, 7).subarray(0, 3), 7);
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(() => new ExtentSource([{ offset: 1, length: 5, source: null, sourceOffset: 0 }], 6)).toThrow(OutOfRangeError);
  });

  it('cache returns the same bytes as its source, across block borders', async () => {
    const data = bytes(300_000);
    const c = new CachedSource(new MemorySource(data), 4096, 4);
    for (const [o, l] of [[0, 10], [4090, 20], [100_000, 9000], [299_990, 10]] as const) {
      expect(Array.from(await c.read(o, l))).toEqual(Array.from(data.subarray(o, o + l)));
    }
    await expect(c.read(299_995, 10)).rejects.toBeInstanceOf(OutOfRangeError);
  });

  it('cache keeps copies, not views pinning the inner source\'s larger buffers', async () => {
    const big = bytes(1 << 20);
    const c = new CachedSource(new MemorySource(big), 4096, 2);
    const got = await c.read(8192, 16);
    expect(Array.from(got)).toEqual(Array.from(big.subarray(8192, 8208)));
    expect(got.buffer.byteLength).toBe(4096);
  });

  it('cache reads a sequential pass in growing spans, random reads one block each, same bytes', async () => {
    const data = bytes(200 * 4096 + 100);
    const reads: number[] = [];
    const inner = new MemorySource(data);
    const counted = { size: inner.size, name: 'm', read: (o: number, l: number) => (reads.push(l), inner.read(o, l)) };
    const c = new CachedSource(counted, 4096, 64);
    for (let o = 0; o < data.length; o += 1000) {
      const l = Math.min(1000, data.length - o);
      expect(Array.from(await c.read(o, l)), `offset ${o}`).toEqual(Array.from(data.subarray(o, o + l)));
    }
    // 201 blocks: spans of 1, 2, 4, 8 and then 16 blocks (capped by a quarter of the cache).
    expect(reads.length).toBeLessThan(20);
    expect(Math.max(...reads)).toBe(16 * 4096);
    reads.length = 0;
    const r = new CachedSource(counted, 4096, 64);
    for (const b of [50, 10, 90, 30, 70]) expect(Array.from(await r.read(b * 4096 + 7, 9))).toEqual(Array.from(data.subarray(b * 4096 + 7, b * 4096 + 16)));
    expect(reads).toEqual([4096, 4096, 4096, 4096, 4096]);
  });

  it('zero source is zeros', async () => {
    expect((await new ZeroSource(10).read(2, 5)).every((v) => v === 0)).toBe(true);
  });

  it('findRun: last start at or before the offset, against a linear scan', () => {
    expect(findRun([], 5)).toBe(0);
    expect(findRun([0], 0)).toBe(0);
    const starts = [0, 3, 4, 10, 100, 101];
    for (let o = 0; o < 120; o++) {
      let want = 0;
      for (let i = 0; i < starts.length; i++) if (starts[i]! <= o) want = i;
      expect(findRun(starts, o), `offset ${o}`).toBe(want);
    }
  });
});
