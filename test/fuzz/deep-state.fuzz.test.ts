import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { findDeepVolumes } from '../../src/core/vmfs/deep/open.js';
import { parseDeepScanState } from '../../src/core/vmfs/deep/resume.js';
import { deepScan, type DeepScanState } from '../../src/core/vmfs/deep/scan.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildDeepDumps } from '../helpers/deep-dumps.js';
import { Tripwire } from '../helpers/deep-landmarks.js';
import { FUZZ_CASES, fuzzCase, rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * A saved deep-scan state is input: the app reads it back from IndexedDB (where anything may have
 * written it) and the CLI from --resume FILE. Seeded by a real state (the search of a generated
 * VMFS5 dump stopped part-way: LVM header, FS descriptor, cluster headers, FDs, directories),
 * mutated field by field; core's reader must refuse it with a RescueError or accept it, and a
 * search resumed from an accepted one must end in a result or a RescueError within its budget.
 */
/** The dump's first 40 MiB (all its volume's metadata); stopped at 36 MiB, past a 16 MiB zone. */
const WINDOW = 40 << 20;
const STOP = 36 << 20;
const ZONE = 16 << 20;

const NUMBERS = [-1, 0, 1, 7, 511, 512, 2048, 0x10000, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e300, 0.5, STOP, WINDOW, WINDOW + 512];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container in `v` with each of its keys (the places a mutation can hit). */
function slots(v: Json, out: [Json[] | Record<string, Json>, string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) out.push([v, k]), slots(v[k]!, out);
  return out;
}

function mutateState(s: Json, r: () => number): void {
  for (let n = 1 + Math.floor(r() * 4); n > 0; n--) {
    const all = slots(s);
    const [box, key] = all[Math.floor(r() * all.length)]!;
    const b = box as Record<string | number, Json>;
    const cur = b[key]!;
    const op = r();
    if (op < 0.45) b[key] = typeof cur === 'number' && r() < 0.5 ? cur + (r() < 0.5 ? -1 : 1) * [1, 512, 2048, 0x10000][Math.floor(r() * 4)]! : NUMBERS[Math.floor(r() * NUMBERS.length)]!;
    else if (op < 0.55) b[key] = ['', 'x', '.fdc.sf', 'fd', 'fs-descriptor', 'x'.repeat(300)][Math.floor(r() * 6)]!;
    else if (op < 0.65) b[key] = [null, true, [], {}][Math.floor(r() * 4)]!;
    else if (op < 0.75 && Array.isArray(box)) box.splice(key as number, 1);
    else if (op < 0.8 && !Array.isArray(box)) delete b[key];
    else if (op < 0.9 && Array.isArray(cur) && cur.length > 0) cur.push(...Array.from({ length: 1 + Math.floor(r() * 40) }, () => structuredClone(cur[Math.floor(r() * cur.length)]!)));
    else if (typeof cur === 'number') b[key] = -cur;
  }
}

describe('saved deep-scan state fuzz (generated VMFS5 seed)', () => {
  let window: Uint8Array;
  let text = '';
  const tmp = makeTempDir('deep-state-fuzz-');
  afterAll(() => tmp.cleanup());
  beforeAll(async () => {
    const d = await buildDeepDumps(tmp.dir, 5);
    const src = await NodeFileSource.open(d.original);
    try {
      window = (await src.read(0, WINDOW)).slice();
    } finally {
      await src.close();
    }
    const ac = new AbortController();
    let last: DeepScanState | undefined;
    await expect(deepScan([new Tripwire(new MemorySource(window, 'lun.img'), ac, STOP)], { metadataZone: ZONE, signal: ac.signal, onCheckpoint: (s) => (last = s) })).rejects.toBeInstanceOf(CancelledError);
    text = JSON.stringify(last);
  }, 120_000);

  it('the seed is a part-way state with every kind of landmark', () => {
    const s = parseDeepScanState(text, [{ name: 'lun.img', size: WINDOW }]);
    expect(s.next.pass).toBe(1);
    expect(s.lvm.length).toBeGreaterThan(0);
    expect(s.directories.length).toBeGreaterThan(0);
    expect(s.origins.some((o) => o.descriptors.length > 0 && o.fds.length > 0 && Object.keys(o.clusterHeaders).length > 0)).toBe(true);
  });

  it(`${FUZZ_CASES} mutated states: refused with a RescueError, or resumed to a result or a RescueError`, async () => {
    let resumed = 0;
    let refused = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const s = JSON.parse(text) as Json;
      mutateState(s, rng(seed));
      const out = await fuzzCase('deep state', seed, async () => {
        const src = new MemorySource(window, 'lun.img');
        const state = parseDeepScanState(JSON.stringify(s), [src]);
        await findDeepVolumes([src], { metadataZone: ZONE, resume: state });
      }, 5000);
      if (out === 'ok') resumed++;
      else refused++;
    }
    // Both ways are exercised.
    expect(resumed).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 600_000);
});
