import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { expect } from 'vitest';
import { RescueError } from '../../src/core/errors.js';

/** Deterministic PRNG (mulberry32) so a failing fuzz case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Number of cases per target: bounded in the normal test run, large for `npm run fuzz`. */
export const FUZZ_CASES = Number(process.env.FUZZ_CASES ?? 150);

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfe];
const INTERESTING32 = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 0xffff];

/**
 * Mutates a copy of `base`. Mutations are focused on `regions` (offset ranges holding headers,
 * GDs, GTs), where they matter: byte flips, interesting bytes and 32-bit words, truncation.
 */
export function mutate(base: Uint8Array, r: () => number, regions: readonly [number, number][] = [[0, base.length]]): Uint8Array {
  let b = base.slice();
  const n = 1 + Math.floor(r() * 8);
  for (let k = 0; k < n; k++) {
    const [lo, hi] = regions[Math.floor(r() * regions.length)]!;
    const at = lo + Math.floor(r() * Math.max(1, Math.min(hi, b.length) - lo));
    if (at >= b.length) continue;
    const op = r();
    if (op < 0.35) b[at]! ^= 1 << Math.floor(r() * 8);
    else if (op < 0.6) b[at] = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
    else if (op < 0.9 && at + 4 <= b.length) new DataView(b.buffer).setUint32(at & ~3, INTERESTING32[Math.floor(r() * INTERESTING32.length)]!, true);
    else if (op < 0.95) b = b.slice(0, at);
    else b[at] = Math.floor(r() * 256);
  }
  return b;
}

/**
 * Runs one fuzz case: it must end within `ms` in a result or a typed RescueError. Anything else
 * (TypeError, RangeError from an unchecked allocation, a hang) fails the test with the seed.
 *
 * "Within `ms`" is measured as CPU time of the thread that runs the parser (this process's main
 * thread): the work a case does is what is bounded, and CPU time does not grow when other test
 * files or CI jobs compete for the cores, which wall time does. Whole-process CPU is not used on
 * Linux: it also counts libuv's I/O threads, whose system time for a page-cache miss on a loaded
 * CI machine once pushed a 100 ms case past 1 s. A case that waits instead of working (a hang on
 * a promise) is caught by a wall-clock guard at WALL_FACTOR × `ms`, stretched by how many runnable
 * threads share each core (the load average per core, when above 1): at load 8 on 2 cores a
 * thread gets a quarter of a core, so its wall time is four times its CPU time. A timer alone
 * would not do: it cannot fire while a CPU-bound loop awaits only resolved promises.
 */
const WALL_FACTOR = 5;

/** The hang guard of a case with a CPU budget of `ms`: wall milliseconds, scaled by the load per core. */
export function wallGuardMs(ms: number): number {
  return Math.round(ms * WALL_FACTOR * Math.max(1, loadavg()[0]! / availableParallelism()));
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;
const MAIN_THREAD_STAT = `/proc/self/task/${process.pid}/stat`;
const hasThreadStat = existsSync(MAIN_THREAD_STAT);

/** CPU milliseconds used so far by the main thread (Linux), else by the whole process. */
export function parserCpuMs(): number {
  if (hasThreadStat) {
    // Fields after "(comm) ": state is 0, utime is 11, stime is 12 (proc(5) fields 14 and 15).
    const f = readFileSync(MAIN_THREAD_STAT, 'utf8').split(') ').pop()!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ;
  }
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export async function fuzzCase<T>(label: string, seed: number, fn: () => Promise<T>, ms = 1000): Promise<'ok' | 'error'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, rej) => {
    const wall = wallGuardMs(ms);
    timer = setTimeout(() => rej(new Error(`${label} seed ${seed}: no answer within ${wall} ms (wall clock)`)), wall);
  });
  const cpu0 = parserCpuMs();
  let outcome: 'ok' | 'error';
  try {
    await Promise.race([fn(), timeout]);
    outcome = 'ok';
  } catch (e) {
    if (!(e instanceof RescueError)) expect.fail(`${label} seed ${seed}: untyped failure: ${(e as Error)?.stack ?? String(e)}`);
    outcome = 'error';
  } finally {
    clearTimeout(timer);
  }
  const cpuMs = parserCpuMs() - cpu0;
  if (cpuMs > ms) expect.fail(`${label} seed ${seed}: used ${cpuMs.toFixed(0)} ms of CPU (limit ${ms} ms)`);
  return outcome;
}
