import { describe, expect, it } from 'vitest';
import { CancelledError, CorruptError, UserError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { parseDeepScanState } from '../../src/core/vmfs/deep/resume.js';
import { deepScan, type DeepScanState } from '../../src/core/vmfs/deep/scan.js';
import { fd5, Tripwire } from '../helpers/deep-landmarks.js';

/** Two dumps with FDs of several origins spread through both passes. */
function dumps(): Uint8Array[] {
  return [6 << 20, 5 << 20].map((size, d) => {
    const img = new Uint8Array(size);
    for (let k = 1; k * 0x30000 + 4096 < size; k++) {
      const at = k * 0x30000 - 512 * (k % 7);
      img.set(fd5(at - (at % 2048) - (k % 3) * 0x2000, (((k & 0x3ff) << 6) | 4) >>> 0, k % 2 ? 3 : 2, 1 << 20), at);
    }
    return img;
  });
}

const SCAN = { chunkBytes: 65536, metadataZone: 2 << 20 };
const strip = (r: object) => JSON.parse(JSON.stringify(r)) as Record<string, unknown>;

describe('deep scan resume', () => {
  it('a scan cancelled at several points and resumed from its saved state each time finds what one uninterrupted scan finds', async () => {
    const imgs = dumps();
    const names = ['a.img', 'b.img'];
    const whole = await deepScan(imgs.map((b, i) => new MemorySource(b, names[i]!)), SCAN);
    expect(whole.origins.reduce((s, o) => s + o.fdCount, 0)).toBeGreaterThan(40);
    // Stops: in the first dump's zone, in the second dump's zone, in the first dump's rest, in the second's rest.
    const stops: [number, number][] = [[0, 1 << 20], [1, (1 << 20) + 0x3000], [0, (4 << 20) + 512], [1, 3 << 20]];
    let saved: DeepScanState | undefined;
    let text = '';
    for (const [dump, at] of stops) {
      const ac = new AbortController();
      const srcs = imgs.map((b, i) => new Tripwire(new MemorySource(b, names[i]!), i === dump ? ac : null, at));
      let last: DeepScanState | undefined;
      await expect(deepScan(srcs, { ...SCAN, signal: ac.signal, resume: saved, onCheckpoint: (s) => (last = s) })).rejects.toBeInstanceOf(CancelledError);
      expect(last, `checkpoint at stop ${dump}:${at}`).toBeDefined();
      expect(last!.next.pass).toBeLessThan(2);
      if (saved) expect(last!.bytesScanned).toBeGreaterThan(saved.bytesScanned);
      text = JSON.stringify(last);
      saved = parseDeepScanState(text, srcs);
    }
    let final: DeepScanState | undefined;
    const resumed = await deepScan(imgs.map((b, i) => new MemorySource(b, names[i]!)), { ...SCAN, resume: saved, onCheckpoint: (s) => (final = s) });
    expect(strip(resumed)).toEqual(strip(whole));
    expect(final?.next.pass).toBe(2);
    // A finished state resumes to the same result without reading anything.
    const again = await deepScan(imgs.map((b, i) => new Tripwire(new MemorySource(b, names[i]!), null, 0)), { resume: parseDeepScanState(JSON.stringify(final), imgs.map((b, i) => ({ name: names[i]!, size: b.length }))) });
    expect(strip(again)).toEqual(strip(whole));
  });

  it('refuses a state saved for other dumps, and a damaged state, with typed errors', async () => {
    const imgs = dumps();
    const srcs = imgs.map((b, i) => new MemorySource(b, `d${i}.img`));
    let final: DeepScanState | undefined;
    await deepScan(srcs, { ...SCAN, onCheckpoint: (s) => (final = s) });
    const text = JSON.stringify(final);
    expect(() => parseDeepScanState(text, [srcs[1]!, srcs[0]!])).toThrow(UserError);
    expect(() => parseDeepScanState(text, [srcs[0]!])).toThrow(UserError);
    expect(() => parseDeepScanState('{"format":1}', srcs)).toThrow(CorruptError);
    expect(() => parseDeepScanState('not json', srcs)).toThrow(CorruptError);
    const bad = (f: (s: Record<string, any>) => void) => {
      const s = JSON.parse(text);
      f(s);
      return () => parseDeepScanState(JSON.stringify(s), srcs);
    };
    expect(bad((s) => (s.next.pos = 513))).toThrow(CorruptError);
    expect(bad((s) => (s.next.source = 5))).toThrow(CorruptError);
    expect(bad((s) => (s.origins[0].fds[0].at = -1))).toThrow(CorruptError);
    expect(bad((s) => (s.origins[0].fds[0].volOffset += 2048))).toThrow(CorruptError);
    expect(bad((s) => (s.origins[0].source = 2))).toThrow(CorruptError);
    expect(bad((s) => (s.bytesScanned = 1e15))).toThrow(CorruptError);
    expect(bad((s) => (s.origins[0].clusterHeaders = { x: 1 }))).toThrow(CorruptError);
    expect(parseDeepScanState(text, srcs).origins.length).toBe(final!.origins.length);
  });
});
