import { describe, expect, it } from 'vitest';
import type { DeepCheckpoint } from '../../src/workers/datastore.api.js';
import { createDeepApi } from '../../src/workers/deep-methods.js';
import { fd5 } from '../helpers/deep-landmarks.js';

/**
 * The app's Deep scan resume (worker side): a scan cancelled part-way hands over its state for the
 * same files, and a scan given that state (by a new worker, as after a reload) goes on from it to
 * the volumes an uninterrupted scan finds; a state core's reader refuses is reported, not thrown.
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
    const whole = await api.deepScan([file], undefined, null, (v) => (early = v));
    expect(whole.length).toBeGreaterThan(0);
    // The metadata zone's volumes come first (here the zone is the whole dump: the same ones).
    expect(early).toEqual(whole);
    expect(api.deepScanStopped([file])).toBeNull();

    let calls = 0;
    const saved: DeepCheckpoint[] = [];
    await expect(api.deepScan([file], () => { if (++calls === 1) api.cancelDeepScan(); }, null, undefined, (c) => saved.push(c))).rejects.toMatchObject({ name: 'CancelledError' });
    const stopped = api.deepScanStopped([file]);
    expect(stopped).not.toBeNull();
    expect(stopped!.done).toBeGreaterThan(0);
    expect(stopped!.done).toBeLessThan(img.length);
    expect(stopped!.total).toBe(img.length);
    // The page was handed the same state to save (core checkpoints on cancel).
    expect(saved.at(-1)).toEqual(stopped);
    expect(api.deepScanStopped([new File([img], 'other.img')])).toBeNull();
    expect(api.checkDeepResume([file], stopped!.text)).toEqual({ ok: true, done: stopped!.done, total: img.length });

    // A fresh worker (the page reloaded) given the saved text goes on from it.
    const api2 = createDeepApi(() => {}, () => (ac = new AbortController()).signal, () => ac.abort());
    const seen: number[] = [];
    const resumed = await api2.deepScan([file], (p) => seen.push(p.done), stopped!.text);
    expect(resumed).toEqual(whole);
    // It went on from where it stopped: its first progress is past what was done before.
    expect(seen[0]).toBeGreaterThan(stopped!.done);
    expect(api2.deepScanStopped([file])).toBeNull();
  });

  it('a saved state that does not fit is refused with core\'s reason, never thrown', async () => {
    const file = new File([new Uint8Array(4 << 20)], 'lun.img');
    let ac = new AbortController();
    const api = createDeepApi(() => {}, () => (ac = new AbortController()).signal, () => ac.abort());
    await expect(api.deepScan([file], () => api.cancelDeepScan())).rejects.toMatchObject({ name: 'CancelledError' });
    const text = api.deepScanStopped([file])!.text;
    const state = JSON.parse(text) as { next: { pos: number } };
    state.next.pos = 7;
    const bad = api.checkDeepResume([file], JSON.stringify(state));
    expect(bad).toMatchObject({ ok: false, message: expect.stringContaining('next.pos is not a sector boundary') });
    expect(api.checkDeepResume([file], '{not json')).toMatchObject({ ok: false, message: expect.stringContaining('not JSON') });
    // Saved for a dump of another size: refused as another dump's.
    expect(api.checkDeepResume([new File([new Uint8Array(8 << 20)], 'lun.img')], text)).toMatchObject({ ok: false, message: expect.stringContaining('not for these dumps') });
  });
});
