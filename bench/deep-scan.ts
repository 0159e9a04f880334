import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildVmfs } from '../src/core/synth/vmfs/vmfs-builder.js';
import { deepScan } from '../src/core/vmfs/deep/scan.js';
import { isVolume } from '../src/core/vmfs/deep/volumes.js';
import { NodeFileSource } from '../src/platform/node/file-source.js';
import { deepLanesFor, laneCount } from '../src/platform/node/deep-lanes.js';
import { CLI_BIN, ensureCliBundle } from '../scripts/cli-bundle.js';
import { deepFiles, OverwriteFile } from '../test/helpers/deep-dumps.js';
import { nodeSha256 } from '../test/builders/vmfs/sparse-file.js';
import { measure, warm } from './measure.js';
import type { Bench } from './types.js';

/**
 * Deep volume search (every sector of the LUN looked at for VMFS landmarks) against
 * `cat DUMP > /dev/null` in the same run, both on a warm page cache, medians of alternated rounds.
 * The dump is 8 GiB (BENCH_DEEP_GIB) of random bytes (no holes: cat must read them all; big enough
 * that throughput, not start-up, decides) with a VMFS5 datastore
 * written over its start. Goal: the search's throughput >= 0.9x cat's (ratio <= 1.11).
 * Measured three ways each round: the search in this process with the CLI's default lanes (worker
 * threads beside this one, started inside the timed part, running the compiled lane
 * dist-cli/deep-lane.mjs as the CLI does), the same with this thread alone, and the shipped CLI
 * end to end (`bin/vmfs-rescue.mjs info --deep --json`: Node start-up, the datastore open and the
 * volumes' rebuild included). Also printed: CPU seconds (user + system, all threads), steadier
 * than wall time on a loaded machine, and the time to the first volume: the end of the metadata
 * zone (here ZONE, the first 256 MiB, as the first 8 GiB of a large LUN) once it holds a volume,
 * and the full pass's own throughput (the rest of the dump, from the zone's end: the goal's figure).
 */
const MiB = 1 << 20;
const SIZE = Number(process.env.BENCH_DEEP_GIB ?? 8) * 1024 * MiB;
const ROUNDS = 7;
const ZONE = 256 * MiB;

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const deepScanBench: Bench = {
  name: 'deep-scan',
  description: 'deep volume search over an 8 GiB LUN of random data with a VMFS5 volume vs cat',
  async run(log) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-deep-'));
    const lun = path.join(dir, 'lun.img');
    try {
      const fd = openSync(lun, 'w');
      // Random bytes, 64 MiB of them written over and over (the page cache holds every copy).
      const buf = randomFillSync(new Uint8Array(64 * MiB));
      for (let off = 0; off < SIZE; off += buf.length) writeSync(fd, buf, 0, buf.length, off);
      closeSync(fd);
      await buildVmfs({
        version: 5, name: 'bench', label: 'bench-deep', seed: 7, files: deepFiles(5), luns: [{ scheme: 'gpt', segments: 6 }], hasher: nodeSha256,
        createLun: (_f, size) => new OverwriteFile(lun, Math.max(size, SIZE)),
      });
      ensureCliBundle(log);
      const script = new URL('../dist-cli/deep-lane.mjs', import.meta.url);
      const lanes = laneCount(SIZE);
      warm([lun]);
      const ours: number[] = [];
      const alone: number[] = [];
      const cli: number[] = [];
      const cat: number[] = [];
      const oursCpu: number[] = [];
      const aloneCpu: number[] = [];
      const cliCpu: number[] = [];
      const catCpu: number[] = [];
      const first: number[] = [];
      // Seconds of the full pass (after the metadata zone), lanes up: what the goal is about.
      const full: number[] = [];
      const fullAlone: number[] = [];
      let rss = 0;
      let cliRss = 0;
      let volumes = 0;
      const inProcess = async (withLanes: boolean, secs: number[], cpu: number[]) => {
        const src = await NodeFileSource.open(lun);
        const t0 = performance.now();
        const u0 = process.cpuUsage();
        const pool = withLanes ? deepLanesFor([src], { count: lanes, script }) : null;
        let tFirst = NaN;
        let tZone = NaN;
        try {
          const r = await deepScan([src], {
            metadataZone: ZONE, lanes: pool?.lanes ?? [],
            onZoneDone: (z) => {
              tZone = (performance.now() - t0) / 1000;
              if (z.origins.some(isVolume)) tFirst = tZone;
            },
          });
          volumes = r.origins.filter((o) => o.fdCount >= 2).length;
        } finally {
          await pool?.close();
          await src.close();
        }
        secs.push((performance.now() - t0) / 1000);
        (withLanes ? full : fullAlone).push(secs.at(-1)! - tZone);
        const u = process.cpuUsage(u0);
        cpu.push((u.user + u.system) / 1e6);
        if (withLanes) first.push(tFirst);
        rss = Math.max(rss, process.memoryUsage().rss / MiB);
      };
      for (let k = 0; k < ROUNDS; k++) {
        await inProcess(true, ours, oursCpu);
        const m = measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', lun]);
        cat.push(m.seconds);
        catCpu.push(m.cpuSeconds);
        await inProcess(false, alone, aloneCpu);
        const c = measure(process.execPath, [CLI_BIN, 'info', '--image', lun, '--deep', '--json']);
        cli.push(c.seconds);
        cliCpu.push(c.cpuSeconds);
        cliRss = Math.max(cliRss, c.peakRssMiB);
      }
      const [s, a, e, c] = [ours, alone, cli, cat].map(median) as [number, number, number, number];
      const [sc, ac, ec, cc] = [oursCpu, aloneCpu, cliCpu, catCpu].map(median) as [number, number, number, number];
      const f = median(first);
      // Throughputs relative to cat's over the whole dump: the full pass covers SIZE - ZONE bytes.
      const fullX = (x: number) => ((SIZE - ZONE) / x / (SIZE / c)).toFixed(2);
      const [fl, fa] = [median(full), median(fullAlone)];
      const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0];
      const rate = (x: number) => `${(SIZE / MiB / x).toFixed(0)} MiB/s`;
      const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
      log(`deep scan with ${lanes} lane(s) beside this thread ${rate(s)}, this thread alone ${rate(a)}, CLI end to end ${rate(e)}, cat ${rate(c)} (load ${load})`);
      log(`  rounds: lanes ${list(ours)}; alone ${list(alone)}; CLI ${list(cli)}; cat ${list(cat)}`);
      log(`  full pass (after the ${ZONE / MiB} MiB metadata zone): with lanes ${fullX(fl)}x cat's throughput, this thread alone ${fullX(fa)}x`);
      log(`  CPU: lanes ${sc.toFixed(2)} s, alone ${ac.toFixed(2)} s, CLI ${ec.toFixed(2)} s, cat ${cc.toFixed(2)} s; first volume after ${f.toFixed(2)} s (metadata zone ${ZONE / MiB} MiB of ${SIZE / MiB})`);
      return [
        {
          name: 'deep-scan', seconds: s, reference: 'cat DUMP > /dev/null', referenceSeconds: c, ratio: s / c, peakRssMiB: Math.round(rss),
          notes: `throughput ${(c / s).toFixed(2)}x cat's end to end, full pass ${fullX(fl)}x (goal >= 0.9x) with ${lanes} worker lane(s) beside the main thread (started in the timed part); this thread alone ${(c / a).toFixed(2)}x; CPU ${sc.toFixed(2)} s vs cat ${cc.toFixed(2)} s; first volume after ${f.toFixed(2)} s; ${volumes} volume origin(s) found; in-process (no CLI start-up); load ${load}`,
        },
        {
          name: 'deep-scan-cli', seconds: e, reference: 'cat DUMP > /dev/null', referenceSeconds: c, ratio: e / c, peakRssMiB: Math.round(cliRss),
          notes: `bin/vmfs-rescue.mjs info --deep --json, defaults: throughput ${(c / e).toFixed(2)}x cat's, Node start-up, datastore open and volume rebuild included; CPU ${ec.toFixed(2)} s; load ${load}`,
        },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
