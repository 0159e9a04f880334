import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import { MemoSource } from '../../src/core/io/memo-source.js';
import { buildCandidates, carveFreeRange, mergeCarved, mergeCarvedTexts, type ScanResult } from '../../src/core/recovery/index.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * The memo of exact small reads, and what it is for: the app builds the scan's candidates several
 * times over one opened datastore (provisional lists, then the final one), and a later build must
 * not read the dump again for what an earlier build read, while giving the same candidates.
 */

/** A source that counts its reads and can be told to fail them. */
function counted(inner: ByteSource): ByteSource & { reads: number; fail: boolean } {
  const s = {
    size: inner.size,
    name: inner.name,
    reads: 0,
    fail: false,
    read(o: number, l: number) {
      s.reads++;
      return s.fail ? Promise.reject(new Error('read failed')) : inner.read(o, l);
    },
  };
  return s;
}

const plain = (r: ScanResult) => ({ ...r, candidates: r.candidates.map(({ layer: _l, ...c }) => c) });

describe('MemoSource', () => {
  const bytes = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 0xff);

  it('reads each exact small read once, every other read as asked, and gives the bytes of the source', async () => {
    const inner = counted(new MemorySource(bytes, 'm'));
    const m = new MemoSource(inner, 64 * 1024, 4096);
    expect(await m.read(100, 50)).toEqual(bytes.subarray(100, 150));
    expect(await m.read(100, 50)).toEqual(bytes.subarray(100, 150));
    expect(inner.reads).toBe(1);
    // Another length at the same offset is another read.
    expect(await m.read(100, 51)).toEqual(bytes.subarray(100, 151));
    expect(inner.reads).toBe(2);
    // Two reads of one place at once share the read in flight.
    await Promise.all([m.read(9000, 10), m.read(9000, 10)]);
    expect(inner.reads).toBe(3);
    // Above maxRead: never remembered.
    await m.read(0, 8192);
    await m.read(0, 8192);
    expect(inner.reads).toBe(5);
    await expect(m.read(bytes.length - 4, 8)).rejects.toThrow(/read past end/);
  });

  it('gives each caller a buffer of its own: one changed or transferred leaves the next read intact', async () => {
    const m = new MemoSource(new MemorySource(bytes, 'm'));
    const a = await m.read(4096, 64);
    a.fill(0xee);
    structuredClone(a.buffer, { transfer: [a.buffer] }); // detaches a's buffer, as a postMessage transfer does
    expect(await m.read(4096, 64)).toEqual(bytes.subarray(4096, 4160));
    const [b, c] = await Promise.all([m.read(8192, 16), m.read(8192, 16)]);
    expect(b.buffer).not.toBe(c.buffer);
  });

  it('stays within its byte budget, dropping the least recently used first', async () => {
    const inner = counted(new MemorySource(bytes, 'm'));
    const m = new MemoSource(inner, 4 * 1024, 1024);
    for (let k = 0; k < 4; k++) await m.read(k * 1024, 1024);
    await m.read(0, 1024); // touched: now the most recent
    await m.read(8 * 1024, 1024); // over budget: drops 1024+1024, the least recent
    const before = inner.reads;
    await m.read(0, 1024);
    expect(inner.reads, 'the touched read is kept').toBe(before);
    await m.read(1024, 1024);
    expect(inner.reads, 'the least recent was dropped').toBe(before + 1);
  });

  it('does not remember a failed read', async () => {
    const inner = counted(new MemorySource(bytes, 'm'));
    const m = new MemoSource(inner);
    inner.fail = true;
    await expect(m.read(0, 16)).rejects.toThrow('read failed');
    inner.fail = false;
    expect(await m.read(0, 16)).toEqual(bytes.subarray(0, 16));
    expect(inner.reads).toBe(2);
  });
});

describe('candidate builds over one opened datastore', () => {
  const tmp = makeTempDir('memo-builds-');
  let d: DeletedDeltaDump;
  let file: NodeFileSource;
  beforeAll(async () => {
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 61, reuse: true, noise: true, oracle: false });
    file = await NodeFileSource.open(d.dump);
  }, 60_000);
  afterAll(async () => {
    await file?.close();
    tmp.cleanup();
  });

  it('a later build with the same evidence reads nothing again and gives the same candidates', async () => {
    const src = counted(file);
    const ds = await openDatastore([src]);
    const total = (await ds.allocationMap()).totalBlocks;
    const ev = [await carveFreeRange(ds, { startBlock: 0, endBlock: total })];
    const first = await buildCandidates(ds, mergeCarved(ev), {}, mergeCarvedTexts(ev));
    expect(first.candidates.map((c) => c.id)).toContain(d.candidateId);
    const reads = src.reads;
    const again = await buildCandidates(ds, mergeCarved(ev), {}, mergeCarvedTexts(ev));
    expect(src.reads - reads, 'reads of the second build').toBe(0);
    expect(plain(again)).toEqual(plain(first));
    // And the same as a build on a datastore opened afresh (nothing remembered).
    const fresh = await buildCandidates(await openDatastore([file]), mergeCarved(ev), {}, mergeCarvedTexts(ev));
    expect(plain(fresh)).toEqual(plain(first));
  });
});
