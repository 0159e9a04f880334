import { describe, expect, it } from 'vitest';
import { CorruptError } from '../../src/core/errors.js';
import { fuzzCase, parserCpuMs, wallGuardMs } from '../helpers/fuzz.js';

/** The fuzz harness's own guard must be able to fail, or every fuzz test passes vacuously. */
describe('fuzzCase guard', () => {
  it('fails a case that burns more CPU than its budget', async () => {
    // Burns 400 ms of this thread's CPU, not of wall time: on a loaded machine a wall-clock loop
    // gets only a share of a core and may stay under the budget.
    const burn = async () => {
      const end = parserCpuMs() + 400;
      let x = 0;
      while (parserCpuMs() < end) for (let i = 0; i < 100_000; i++) x += Math.sqrt(x + 1);
      return x;
    };
    await expect(fuzzCase('burn', 1, burn, 200)).rejects.toThrow(/burn seed 1: used \d+ ms of CPU \(limit 200 ms\)/);
  });

  it('fails a case that never answers, after a wall-clock guard stretched by the load, not shortened', async () => {
    expect(wallGuardMs(20)).toBeGreaterThanOrEqual(100);
    await expect(fuzzCase('hang', 5, () => new Promise<never>(() => {}), 20)).rejects.toThrow(/hang seed 5: no answer within \d+ ms \(wall clock\)/);
  });

  it('does not count time spent waiting, and tells a typed error from an untyped one', async () => {
    const wait = () => new Promise<void>((res) => setTimeout(res, 300));
    expect(await fuzzCase('wait', 2, wait, 200)).toBe('ok');
    expect(await fuzzCase('typed', 3, async () => { throw new CorruptError('bad'); })).toBe('error');
    await expect(fuzzCase('untyped', 4, async () => { throw new TypeError('x'); })).rejects.toThrow(/untyped seed 4: untyped failure/);
  });
});
