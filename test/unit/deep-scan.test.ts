import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { Ranges } from '../../src/core/vmfs/deep/footprint.js';
import { CHUNK, deepScan } from '../../src/core/vmfs/deep/scan.js';
import { rebuildGeometry, toolVolumeId } from '../../src/core/vmfs/deep/volumes.js';
import { fd5 } from '../helpers/deep-landmarks.js';

describe('deep scan', () => {
  it('finds an FD whose metadata lies across a read-chunk boundary, and the origin it implies', async () => {
    const img = new Uint8Array(CHUNK + 0x100000);
    // The FD's lock is the last sector of the first chunk; its metadata is in the next one.
    const at = CHUNK - 512;
    const origin = 0x20000 + (at % 2048); // FDs sit at 2 KiB-aligned volume offsets (origin below at)
    img.set(fd5(at - origin, 0x00c00044, 3, 1 << 20), at);
    img.set(fd5(at - origin - 2048, 0x00800044, 3, 1 << 20), at - 2048);
    const r = await deepScan([new MemorySource(img, 'img')]);
    const o = r.origins.find((x) => x.origin === origin);
    expect(o?.fdCount).toBe(2);
    expect(o?.fds.map((f) => f.address).sort((a, b) => a - b)).toEqual([0x00800044, 0x00c00044]);
  });

  it('finds the same landmarks whatever the read size and wherever the metadata zone ends (every sector once, none across a seam lost)', async () => {
    // FDs whose lock lies in each of the 12 sectors before a 64 KiB boundary (each with its own origin),
    // so some straddle every read size below, and one in the dump's last sector (metadata past the end: none).
    const img = new Uint8Array(16 << 20);
    const placed: number[] = [];
    for (let b = 1; b < 256; b++) {
      const at = b * 0x10000 - 512 * (1 + (b % 12));
      img.set(fd5(b * 2048, (((b & 0x3ff) << 6) | 4) >>> 0, 3, 1 << 20), at);
      placed.push(at);
    }
    img.set(fd5(2048, 0x00400004, 3, 1 << 20).subarray(0, 512), img.length - 512);
    const key = (r: Awaited<ReturnType<typeof deepScan>>) => JSON.stringify(r.origins.map((o) => [o.origin, o.fdCount, o.fds.map((f) => f.at)]));
    const whole = await deepScan([new MemorySource(img, 'img')]);
    expect(whole.origins.flatMap((o) => o.fds.map((f) => f.at)).sort((a, b) => a - b)).toEqual(placed);
    for (const chunkBytes of [24576, 65536, 1 << 20]) {
      for (const metadataZone of [3 * (1 << 20) + 512, 5 << 20]) {
        const r = await deepScan([new MemorySource(img, 'img')], { chunkBytes, metadataZone });
        expect(key(r), `chunk ${chunkBytes}, zone ${metadataZone}`).toBe(key(whole));
        expect(r.bytesScanned).toBe(img.length);
      }
    }
  });

  it('stops with a CancelledError when its signal fires', async () => {
    const ac = new AbortController();
    const p = deepScan([new MemorySource(new Uint8Array(64 << 20), 'zeros')], { signal: ac.signal, onProgress: () => ac.abort() });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
  });

  it('rebuilds the FDC layout from system FDs of cluster 0 (docs §6: fdcBase + 0x10000 + C × 1024 + r × 2048)', () => {
    const C = 32;
    const fdcBase = 0x400000;
    const at = (r: number) => fdcBase + 0x10000 + C * 1024 + r * 2048;
    const fds = [0, 1, 2, 3, 4].map((r) => ({
      kind: 'fd' as const, at: at(r), origin: 0, volOffset: at(r), fdSize: 2048, address: ((r << 22) | 4) >>> 0, generation: r + 1, linkCount: 1,
      typeCode: r === 0 ? 2 : 5, length: 0, blockSize: 1 << 20, zla: 1, signed: true,
    }));
    const g = rebuildGeometry({ source: 0, origin: 0, fdCount: fds.length, fds, clusterHeaders: {}, descriptors: [], map: [] });
    expect(g).toMatchObject({ version: 5, blockSize: 1 << 20, fdcClustersPerGroup: C, fdSize: 2048, subBlockSize: 8192 });
    expect(toolVolumeId(0, 0x1200000, 5)).toBe('00000000-00000005-0000-000000009000');
  });

  it('Ranges merges what it is given and reports the covered parts of a range', () => {
    const r = new Ranges();
    r.add(100, 50);
    r.add(140, 20);
    r.add(300, 10);
    r.seal();
    expect(r.toJSON()).toEqual([{ start: 100, length: 60 }, { start: 300, length: 10 }]);
    expect(r.covered(0, 1000)).toEqual([[100, 160], [300, 310]]);
    expect(r.covered(150, 305)).toEqual([[150, 160], [300, 305]]);
    expect(r.covered(160, 300)).toEqual([]);
  });
});
