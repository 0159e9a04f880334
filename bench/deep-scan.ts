import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildVmfs } from '../src/core/synth/vmfs/vmfs-builder.js';
import { deepScan } from '../src/core/vmfs/deep/scan.js';
import { isVolume } from '../src/core/vmfs/deep/volumes.js';
import { NodeFileSource } from '../src/platform/node/file-source.js';
import { deepFiles, OverwriteFile } from '../test/helpers/deep-dumps.js';
import { nodeSha256 } from '../test/builders/vmfs/sparse-file.js';
import { measure, warm } from './measure.js';
import type { Bench } from './types.js';

/**
 * Deep volume search (every sector of the LUN looked at for VMFS landmarks) against
 * `cat DUMP > /dev/null` in the same run, both on a warm page cache, medians of alternated rounds.
 * The dump is 2 GiB of random bytes (no holes: cat must read them all) with a VMFS5 datastore
 * written over its start. Goal: the search's throughput >= 0.9x cat's (ratio <= 1.11). Also printed:
 * CPU seconds (user + system, all threads) of both, steadier than wall time on a loaded machine, and
 * the time to the first volume: the end of the metadata zone (here ZONE, the first 256 MiB, as
 * the first 8 GiB of a large LUN) once it holds a volume.
 */
const MiB = 1 << 20;
const SIZE = 2048 * MiB;
const ROUNDS = 7;
const ZONE = 256 * MiB;

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const deepScanBench: Bench = {
  name: 'deep-scan',
  description: 'deep volume search over a 2 GiB LUN of random data with a VMFS5 volume vs cat',
  async run(log) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-deep-'));
    const lun = path.join(dir, 'lun.img');
    try {
      const fd = openSync(lun, 'w');
      const buf = new Uint8Array(16 * MiB);
      for (let off = 0; off < SIZE; off += buf.length) writeSync(fd, randomFillSync(buf), 0, buf.length, off);
      closeSync(fd);
      await buildVmfs({
        version: 5, name: 'bench', label: 'bench-deep', seed: 7, files: deepFiles(5), luns: [{ scheme: 'gpt', segments: 6 }], hasher: nodeSha256,
        createLun: (_f, size) => new OverwriteFile(lun, Math.max(size, SIZE)),
      });
      warm([lun]);
      const ours: number[] = [];
      const cat: number[] = [];
      const oursCpu: number[] = [];
      const catCpu: number[] = [];
      const first: number[] = [];
      let rss = 0;
      let volumes = 0;
      for (let k = 0; k < ROUNDS; k++) {
        const src = await NodeFileSource.open(lun);
        const t0 = performance.now();
        const u0 = process.cpuUsage();
        let tFirst = NaN;
        const r = await deepScan([src], { metadataZone: ZONE, onZoneDone: (z) => { if (z.origins.some(isVolume)) tFirst = (performance.now() - t0) / 1000; } });
        ours.push((performance.now() - t0) / 1000);
        const u = process.cpuUsage(u0);
        oursCpu.push((u.user + u.system) / 1e6);
        first.push(tFirst);
        rss = Math.max(rss, process.memoryUsage().rss / MiB);
        volumes = r.origins.filter((o) => o.fdCount >= 2).length;
        await src.close();
        const m = measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', lun]);
        cat.push(m.seconds);
        catCpu.push(m.cpuSeconds);
      }
      const s = median(ours);
      const c = median(cat);
      const sc = median(oursCpu);
      const cc = median(catCpu);
      const f = median(first);
      const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0];
      log(`deep scan ${(SIZE / MiB / s).toFixed(0)} MiB/s, cat ${(SIZE / MiB / c).toFixed(0)} MiB/s (load ${load}); rounds ours ${ours.map((x) => x.toFixed(2)).join(' ')}, cat ${cat.map((x) => x.toFixed(2)).join(' ')}`);
      log(`CPU ours ${sc.toFixed(2)} s, cat ${cc.toFixed(2)} s (${(cc / sc).toFixed(2)}x); first volume after ${f.toFixed(2)} s (metadata zone ${ZONE / MiB} MiB of ${SIZE / MiB})`);
      return [{
        name: 'deep-scan', seconds: s, reference: 'cat DUMP > /dev/null', referenceSeconds: c, ratio: s / c, peakRssMiB: Math.round(rss),
        notes: `throughput ${(c / s).toFixed(2)}x cat's (goal >= 0.9x), CPU ${(cc / sc).toFixed(2)}x; first volume after ${f.toFixed(2)} s; ${volumes} volume origin(s) found; in-process scan (no CLI start-up); load ${load}`,
      }];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
