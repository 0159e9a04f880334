import { describe, expect, it } from 'vitest';
import { BlockIndex } from '../../src/core/vmfs/block-owners.js';
import { FUZZ_CASES, fuzzCase, rng } from '../helpers/fuzz.js';

/**
 * BlockIndex over random, inconsistent maps (overlapping and out-of-range runs, cross-linked
 * files, runs past the volume's end): every answer covers the asked range exactly once, in order,
 * and the zoom windows count every block once.
 */

function randomIndex(r: () => number): BlockIndex {
  const total = Math.floor(r() * 5000);
  const pick = () => Math.floor(r() * (total + 200)) - 100;
  const runs: { start: number; count: number; state: 'used' | 'free' }[] = [];
  for (let pos = 0; pos < total && runs.length < 200; ) {
    const count = 1 + Math.floor(r() * 300);
    runs.push({ start: r() < 0.1 ? pick() : pos, count, state: r() < 0.5 ? 'used' : 'free' });
    pos += count;
  }
  const names = ['.fbb.sf', '.fdc.sf', '.pbc.sf', '.sbc.sf', '.pb2.sf'];
  const systemRuns = Array.from({ length: Math.floor(r() * 20) }, () => ({ start: pick(), count: Math.floor(r() * 50), file: names[Math.floor(r() * names.length)]! }));
  const files = Array.from({ length: Math.floor(r() * 30) }, (_, k) => ({
    path: `/f${k}`,
    fd: `<0x${k.toString(16)}>`,
    runs: Array.from({ length: Math.floor(r() * 10) }, (): [number, number] => [pick(), Math.floor(r() * 80)]),
  }));
  return BlockIndex.fromParts({ totalBlocks: total, blockSize: 4096, runs, systemRuns }, Math.floor(r() * 10), files);
}

describe('BlockIndex on random maps', () => {
  it('covers each asked range exactly once and counts each block once', async () => {
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      await fuzzCase('block-owners', seed, async () => {
        const r = rng(seed);
        const ix = randomIndex(r);
        const total = ix.totalBlocks;
        for (let q = 0; q < 20; q++) {
          const first = Math.floor(r() * (total + 20)) - 10;
          const count = Math.floor(r() * 600);
          const a = ix.ownersOf(first, count, 1000);
          const from = Math.max(0, first);
          const to = Math.min(total, first + count);
          let at = from;
          for (const s of a.spans) {
            expect(s.start).toBe(at);
            expect(s.count).toBeGreaterThan(0);
            at += s.count;
          }
          expect(at).toBe(Math.max(from, to));
          expect(a.more).toBe(false);
          const per = 1 + Math.floor(r() * 20);
          const cells = Math.floor(r() * 100);
          const w = ix.window(from, per, cells);
          let sum = 0;
          for (let c = 0; c < cells; c++) {
            const n = w.used[c]! + w.free[c]! + w.system[c]! + w.pointer[c]!;
            expect(n).toBeLessThanOrEqual(per);
            sum += n;
          }
          expect(sum).toBe(Math.max(0, Math.min(total, from + per * cells) - from));
        }
      });
    }
  });
});
