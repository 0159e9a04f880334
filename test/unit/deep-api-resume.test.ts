import { describe, expect, it } from 'vitest';
import { createDeepApi } from '../../src/workers/deep-methods.js';
import { fd5 } from '../helpers/deep-landmarks.js';

/**
 * The app's Deep scan resume (worker side): a scan cancelled part-way is remembered for the same
 * files, and a scan asked to resume goes on from it to the volumes an uninterrupted scan finds.
 */
describe('deep scan resume in the app worker', () => {
  it('cancel, then resume: the same volumes as one whole scan; other files are not resumed', async () => {
    const img = new Uint8Array(48 << 20);
    // A volume at origin 1 MiB: system-looking FDs of FDC cluster 0 near its start, more FDs late in the dump.
    for (let r = 0; r < 6; r++) img.set(fd5(0x1410000 + r * 2048 + 32 * 1024, ((r << 22) | 4) >>> 0, r === 0 ? 2 : 5, 1 << 20), 0x100000 + 0x1410000 + 32 * 1024 + r * 2048);
    for (let k = 0; k < 8; k++) img.set(fd5(0x2000000 + k * 2048, (((k + 1) << 6) | 4) >>> 0, 3, 1 << 20), 0x100000 + 0x2000000 + k * 2048);
    const file = new File([img], 'lun.img');
    let ac = new AbortController();
    const api = createDeepApi(() => {}, () => (ac = new AbortController()).signal, () => ac.abort());
    let early: unknown[] | null = null;
    const whole = await api.deepScan([file], undefined, false, (v) => (early = v));
    expect(whole.length).toBeGreaterThan(0);
    // The metadata zone's volumes come first (here the zone is the whole dump: the same ones).
    expect(early).toEqual(whole);
    expect(api.deepScanStopped([file])).toBeNull();

    let calls = 0;
    await expect(api.deepScan([file], () => { if (++calls === 1) api.cancelDeepScan(); })).rejects.toMatchObject({ name: 'CancelledError' });
    const stopped = api.deepScanStopped([file]);
    expect(stopped).not.toBeNull();
    expect(stopped!.done).toBeGreaterThan(0);
    expect(stopped!.done).toBeLessThan(img.length);
    expect(api.deepScanStopped([new File([img], 'other.img')])).toBeNull();

    const seen: number[] = [];
    const resumed = await api.deepScan([file], (p) => seen.push(p.done), true);
    expect(resumed).toEqual(whole);
    // It went on from where it stopped: its first progress is past what was done before.
    expect(seen[0]).toBeGreaterThan(stopped!.done);
    expect(api.deepScanStopped([file])).toBeNull();
  });
});
