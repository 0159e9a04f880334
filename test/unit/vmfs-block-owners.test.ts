import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockIndex, HEADER_OWNER, NO_LIVE_OWNER } from '../../src/core/vmfs/block-owners.js';
import { formatFdAddress, openDatastore, type Datastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildVmfs, standardBuild, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * Block → owner index. Expected owners come from the synthetic builder's manifest (the blocks it
 * placed each file's data in), not from the reader; the clipping rules on a hand-made map.
 */

describe('BlockIndex over a hand-made map', () => {
  const map = {
    totalBlocks: 100,
    blockSize: 1024,
    runs: [
      { start: 0, count: 60, state: 'used' as const },
      { start: 60, count: 40, state: 'free' as const },
    ],
    // Overlapping system runs: the one starting first keeps the shared blocks.
    systemRuns: [
      { start: 10, count: 5, file: '.fdc.sf' },
      { start: 12, count: 6, file: '.pbc.sf' },
      { start: 95, count: 2, file: '.fbb.sf' }, // a system block the bitmap calls free stays system
    ],
  };
  const ix = BlockIndex.fromParts(map, 4, [
    { path: '/a', fd: '<0x1>', runs: [[20, 5], [30, 2]] },
    { path: '/b', fd: '<0x2>', runs: [[22, 4]] }, // cross-linked with /a: /a keeps 22..24
  ]);

  it('splits a range into system, file, unknown and free spans', () => {
    const q = ix.ownersOf(0, 100, 50);
    expect(q.more).toBe(false);
    expect(q.spans.map((s) => [s.start, s.count, s.state, s.owner])).toEqual([
      [0, 4, 'used', HEADER_OWNER],
      [4, 6, 'used', NO_LIVE_OWNER],
      [10, 5, 'system', '.fdc.sf'],
      [15, 3, 'pointer', '.pbc.sf'],
      [18, 2, 'used', NO_LIVE_OWNER],
      [20, 5, 'used', '/a'],
      [25, 1, 'used', '/b'],
      [26, 4, 'used', NO_LIVE_OWNER],
      [30, 2, 'used', '/a'],
      [32, 28, 'used', NO_LIVE_OWNER],
      [60, 35, 'free', 'free'],
      [95, 2, 'system', '.fbb.sf'],
      [97, 3, 'free', 'free'],
    ]);
    expect(q.spans.reduce((n, s) => n + s.count, 0)).toBe(100);
    expect(q.spans.find((s) => s.owner === '/a')!.fd).toBe('<0x1>');
  });

  it('stops at maxSpans and says so; clamps the range to the volume', () => {
    const q = ix.ownersOf(0, 100, 3);
    expect(q.spans).toHaveLength(3);
    expect(q.more).toBe(true);
    expect(ix.ownersOf(98, 1_000_000, 5)).toEqual({ spans: [{ start: 98, count: 2, state: 'free', owner: 'free' }], more: false });
    expect(ix.ownersOf(-5, 6, 5).spans).toEqual([{ start: 0, count: 1, state: 'used', owner: HEADER_OWNER }]);
    expect(ix.ownersOf(100, 10).spans).toEqual([]);
  });

  it('counts each block once per window cell', () => {
    const w = ix.window(8, 4, 4); // blocks 8..23
    expect([...w.system]).toEqual([2, 3, 0, 0]); // 10,11 | 12,13,14
    expect([...w.pointer]).toEqual([0, 1, 2, 0]); // 15 | 16,17
    expect([...w.used]).toEqual([2, 0, 2, 4]);
    expect([...w.free]).toEqual([0, 0, 0, 0]);
    const all = ix.window(0, 7, 15); // past the end: the last cell is partial
    const sum = (a: Uint32Array) => a.reduce((x, y) => x + y, 0);
    expect(sum(all.used) + sum(all.free) + sum(all.system) + sum(all.pointer)).toBe(100);
    expect(sum(all.free)).toBe(38);
  });
});

describe('BlockIndex over a synthetic VMFS5 dump', () => {
  let m: Manifest;
  let ds: Datastore;
  let srcs: NodeFileSource[] = [];
  let cleanup: () => void = () => {};

  beforeAll(async () => {
    const t = makeTempDir('vmfs-rescue-owners-');
    cleanup = t.cleanup;
    m = await buildVmfs(standardBuild('vmfs5', t.dir));
    srcs = await Promise.all(m.luns.map((l) => NodeFileSource.open(l.path, path.basename(l.path))));
    ds = await openDatastore(srcs);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(srcs.map((s) => s.close()));
    cleanup();
  });

  it('names the file the builder put in each data block', async () => {
    const ix = await BlockIndex.build(ds);
    expect(ix.complete).toBe(true);
    let checked = 0;
    for (const e of m.entries) {
      for (const b of e.dataBlocks ?? []) {
        const q = ix.ownersOf(b, 1);
        expect(q.spans, `block ${b}`).toEqual([{ start: b, count: 1, state: 'used', owner: e.path, fd: formatFdAddress(e.fdAddress) }]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
    // Free blocks agree with the allocation map's bitmap count (system blocks are never free here).
    const w = ix.window(0, m.totalBlocks, 1);
    const map = await ds.allocationMap();
    expect(w.used[0]! + w.free[0]! + w.system[0]! + w.pointer[0]!).toBe(m.totalBlocks);
    expect(w.free[0]).toBeLessThanOrEqual(map.freeBlocks);
    expect(w.system[0]).toBeGreaterThan(0);
  });

  it('answers zoom windows from the block states alone, owners after the walk', async () => {
    const ix = await BlockIndex.states(ds);
    const b = m.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!.dataBlocks![0]!;
    expect(ix.window(b, 1, 1).used[0]).toBe(1);
    expect(ix.complete).toBe(false);
    expect(ix.ownersOf(b, 1).spans[0]!.owner).toBe(NO_LIVE_OWNER);
    await ix.walkOwners(ds);
    expect(ix.complete).toBe(true);
    expect(ix.ownersOf(b, 1).spans[0]!.owner).toBe('/vm1/vm1-flat.vmdk');
  });

  it('keeps within its bounds: a walk cut short says it is incomplete', async () => {
    const ix = await BlockIndex.build(ds, { maxEntries: 2 });
    expect(ix.complete).toBe(false);
    const cut = await BlockIndex.build(ds, { maxRuns: 1 });
    expect(cut.complete).toBe(false);
  });
});
