import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../src/core/util/map-bounded.js';

describe('mapBounded', () => {
  it('gives results in input order with at most `limit` calls at once', async () => {
    let running = 0;
    let peak = 0;
    const r = await mapBounded([5, 1, 4, 2, 3, 0], 3, async (x, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((res) => setTimeout(res, x));
      running--;
      return `${i}:${x * 10}`;
    });
    expect(r).toEqual(['0:50', '1:10', '2:40', '3:20', '4:30', '5:0']);
    expect(peak).toBe(3);
    expect(await mapBounded([], 4, async () => 1)).toEqual([]);
  });

  it('rejects on the first failure and starts no call after it', async () => {
    const started: number[] = [];
    await expect(
      mapBounded([0, 1, 2, 3, 4], 2, async (x) => {
        started.push(x);
        if (x === 1) throw new Error('bad 1');
        await new Promise((res) => setTimeout(res, 5));
        return x;
      }),
    ).rejects.toThrow('bad 1');
    await new Promise((res) => setTimeout(res, 20));
    expect(started).toEqual([0, 1]);
  });
});
