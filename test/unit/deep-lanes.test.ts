import { describe, expect, it } from 'vitest';
import { CancelledError, CorruptError } from '../../src/core/errors.js';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import { Collector } from '../../src/core/vmfs/deep/collector.js';
import { rangeBuffers, scanDumpRange, CHUNK } from '../../src/core/vmfs/deep/range-scan.js';
import { deepScan, type DeepScanLane, type DeepScanResult, type DeepScanState } from '../../src/core/vmfs/deep/scan.js';
import { deepLanesFor } from '../../src/platform/node/deep-lanes.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { makeTempDir } from '../helpers/tools.js';
import { fd5, Tripwire } from '../helpers/deep-landmarks.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The deep search split into segments that other lanes scan: whatever order the lanes finish
 * in, the result is the one-lane result (merged in dump order, same bounds), a cancel leaves a
 * checkpoint a resume completes exactly, and a lane's failure ends the scan with that error.
 */

const SEG = 1 << 20;

/** Two dumps with FDs of a few origins everywhere, some across segment and chunk seams, and cluster headers. */
function images(): Uint8Array[] {
  return [0, 1].map((d) => {
    const img = new Uint8Array((d === 0 ? 9 : 5) * SEG + 3 * 512);
    for (let k = 0; k * 0x2000 + 0x4000 < img.length - 2048; k++) {
      const at = k * 0x2000 + 0x4000 - (k % 5) * 512; // some lie across a 1 MiB segment seam
      // FDs sit at 2 KiB-aligned volume offsets; three origins per dump.
      const origin = (at % 2048) + (k % 3) * 0x800 + (d << 12);
      if (at - origin < 0) continue;
      img.set(fd5(at - origin, ((((k & 0x3ff) << 6) | 4) >>> 0), 3, 1 << 20), at);
    }
    return img;
  });
}
const dumps = () => images().map((img, d) => new MemorySource(img, `d${d}`));

/** A lane in this thread that finishes its segments after a random delay (out of order). */
function fakeLane(sources: ByteSource[], seed: number, fail?: { source: number; start: number; error?: Error }): DeepScanLane & { segments: number } {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) % 7) + 1;
  const bufs = rangeBuffers(CHUNK);
  let busy = Promise.resolve();
  const lane = {
    depth: 2,
    segments: 0,
    scan(source: number, start: number, end: number): Promise<DeepScanResult> {
      lane.segments++;
      const p = busy.then(async () => {
        await new Promise((r) => setTimeout(r, rand()));
        if (fail && fail.source === source && fail.start === start) throw fail.error ?? new CorruptError('lane read failed');
        const c = new Collector();
        await scanDumpRange(sources[source]!, source, start, end, c, { chunk: CHUNK, bufs });
        return c.result([], end - start);
      });
      busy = p.then(() => {}, () => {});
      return p;
    },
  };
  return lane;
}

describe('deep search lanes', () => {
  it('gives the one-lane result whatever order the lanes end in (FDs, maps, counts, in dump order)', async () => {
    const src = dumps();
    const alone = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512 });
    expect(alone.origins.reduce((s, o) => s + o.fdCount, 0)).toBeGreaterThan(1000);
    for (const seed of [1, 2, 3]) {
      const lanes = [fakeLane(src, seed), fakeLane(src, seed * 7)];
      const progress: number[] = [];
      const r = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512, lanes, onProgress: (p) => progress.push(p.done) });
      expect(r).toEqual(alone);
      expect(lanes[0]!.segments + lanes[1]!.segments, 'the lanes took part').toBeGreaterThan(2);
      expect(progress.at(-1)).toBe(src[0]!.size + src[1]!.size);
    }
  });

  it('a cancel with lanes leaves a checkpoint that a resume (with or without lanes) completes to the same result', async () => {
    const src = dumps();
    const alone = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512 });
    for (const at of [3 * SEG + 4096, 7 * SEG]) {
      const ac = new AbortController();
      let saved: DeepScanState | undefined;
      const wired = [new Tripwire(src[0]!, ac, at), src[1]!];
      await expect(deepScan(wired, { segmentBytes: SEG, metadataZone: 4 * SEG + 512, signal: ac.signal, lanes: [fakeLane(src, at)], onCheckpoint: (s) => (saved = s) })).rejects.toBeInstanceOf(CancelledError);
      expect(saved!.next.pass).toBeLessThan(2);
      expect(saved!.bytesScanned).toBeLessThan(src[0]!.size + src[1]!.size);
      const state = JSON.parse(JSON.stringify(saved)) as DeepScanState;
      expect(await deepScan(src, { segmentBytes: SEG, resume: state, lanes: [fakeLane(src, 5)] })).toEqual(alone);
      expect(await deepScan(src, { segmentBytes: SEG, resume: JSON.parse(JSON.stringify(saved)) as DeepScanState })).toEqual(alone);
    }
  });

  it('a lane that fails ends the scan with its error, and the checkpoint covers only what was merged', async () => {
    const src = dumps();
    let saved: DeepScanState | undefined;
    const p = deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512, lanes: [fakeLane(src, 3, { source: 0, start: 6 * SEG })], onCheckpoint: (s) => (saved = s) });
    await expect(p).rejects.toThrow(/lane read failed/);
    const alone = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512 });
    expect(await deepScan(src, { segmentBytes: SEG, resume: saved! })).toEqual(alone);
  });

  it('a lane whose thread dies (not an error of the dump) leaves its segments to this thread: same result', async () => {
    const src = dumps();
    const alone = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512 });
    const dying = fakeLane(src, 4, { source: 0, start: 2 * SEG, error: new Error('worker exited (code 1)') });
    expect(await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512, lanes: [dying, fakeLane(src, 9)] })).toEqual(alone);
    expect(dying.segments).toBeGreaterThan(0);
  });

  it('a lane still starting does not hold a pass back: the metadata zone ends without it, and it joins the full pass', async () => {
    const src = dumps();
    const alone = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512 });
    let start!: () => void;
    const late = Object.assign(fakeLane(src, 5), { ready: new Promise<void>((r) => (start = r)) });
    const r = deepScan(src, {
      segmentBytes: SEG, metadataZone: 4 * SEG + 512, lanes: [late],
      // The lane is up only once the zone is done; before the fix, the zone waited for it forever.
      onZoneDone: () => start(),
    });
    expect(await r).toEqual(alone);
    expect(late.segments, 'it took full-pass segments once up').toBeGreaterThan(0);
    const never = Object.assign(fakeLane(src, 6), { ready: new Promise<void>(() => {}) });
    expect(await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512, lanes: [never] })).toEqual(alone);
    expect(never.segments).toBe(0);
  });

  it('Node worker-thread lanes give the one-lane result on a file dump', async () => {
    const { dir, cleanup } = makeTempDir('deep-lanes-');
    try {
      const files = images().map((img, i) => {
        const p = path.join(dir, `d${i}.img`);
        writeFileSync(p, img);
        return p;
      });
      const src = await Promise.all(files.map((f) => NodeFileSource.open(f)));
      const alone = await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512 });
      const lanes = deepLanesFor(src, { count: 2 });
      try {
        expect(lanes.lanes).toHaveLength(2);
        expect(await deepScan(src, { segmentBytes: SEG, metadataZone: 4 * SEG + 512, lanes: lanes.lanes })).toEqual(alone);
      } finally {
        await lanes.close();
        await Promise.all(src.map((s) => s.close()));
      }
    } finally {
      cleanup();
    }
  }, 60_000);
});
