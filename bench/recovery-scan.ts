import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeCowd } from '../test/builders/cowd.js';
import { sectorPattern } from '../test/builders/delta-common.js';
import { checkRootFd, fdcLocator, openVolume } from '../test/builders/recovery/volume-io.js';
import { buildVmfs, DATA_OFFSET, MiB, type BlockSpec, type FileSpec, type Manifest } from '../test/builders/vmfs/index.js';
import { geometry } from '../src/core/synth/vmfs/geometry.js';
import { fdRecord, freeFdAddress } from '../src/core/synth/vmfs/freed-fd.js';
import { CLI_BIN, ensureCliBundle } from '../scripts/cli-bundle.js';
import { measure, warm } from './measure.js';
import type { Bench, BenchResult } from './types.js';

/**
 * The deleted-delta scan (`scan --image DUMP --json`, freed FDs + freed PBs + header
 * carving over every free block) on a VMFS5 dump of 8.25 GiB with more than half of it free,
 * against `cat DUMP > /dev/null` in the same run, both on a warm page cache, ours as a child
 * process (the compiled CLI) for its own peak RSS; the goal (>= 2x cat's throughput) is with the
 * CLI's start-up, measured by `--version` in the same rounds, subtracted.
 *
 * The dump is SPARSE: allocated file blocks hold 64 KiB of data at their start and 60 % of the
 * free blocks hold 256 KiB of random garbage at their start (where the carver reads), plus three
 * deleted COWD deltas: two contiguous ones whose FD is gone (found by carving only) and a
 * fragmented one whose freed FD survives (found from metadata, before carving ends); the rest are holes, which cat reads much faster than real data. The
 * scan reads only the head of each free block, so on this dump both contenders mostly skip
 * holes; on a fully written dump cat would take ~8 GiB of real reads while the scan would not.
 */
const GiB = 1024 * MiB;
const SEGMENTS = 33; // 8.25 GiB volume

/** The bench dump (see above), built in `dir`: shared by the Node and the Chromium scan benches. */
export interface ScanBenchDump {
  path: string;
  size: number;
  totalBlocks: number;
  freeBlocks: number;
  /** MiB of the dump actually stored (the rest are holes). */
  realMiB: number;
  /** First blocks of the deleted COWD deltas (the scan's candidates are `delta-<block>`). */
  deltaBlocks: number[];
  /** The one of deltaBlocks whose freed FD survives: a candidate from metadata alone. */
  freedFdBlock: number;
}

/** `segments` of 256 MiB (33: the bench's 8.25 GiB; fewer for a quicker test dump). */
export async function buildScanBenchDump(dir: string, log: (l: string) => void = () => {}, segments = SEGMENTS): Promise<ScanBenchDump> {
  const totalGuess = (segments * 256 * MiB) / MiB;
  // ~40 % of the volume in use: one big flat disk allocated in runs, written at each block head.
  const used: BlockSpec[] = [];
  const usedCount = Math.floor(totalGuess * 0.4);
  for (let i = 0; i < usedCount; i++) used.push({ index: i, content: i % 4 === 0 ? 'data' : 'zero', at: 64 + Math.floor(i * 2.3), dataLength: 64 * 1024 });
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: 600 },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: 8 * GiB, blocks: used, addressing: 'pointer' },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
  ];
  const t0 = performance.now();
  const m = await buildVmfs({ version: 5, dir, name: 'ds', label: 'bench-recovery', seed: 5, hashLimit: 0, luns: [{ scheme: 'gpt', segments }], files });
  const lun = m.luns[0]!;
  const volBase = lun.partitionOffset + DATA_OFFSET;
  const usedSet = new Set(used.map((b) => b.at!));
  const fh = openSync(lun.path, 'r+');
  let freeBlocks = 0;
  const deltaBlocks = [m.totalBlocks - 40, m.totalBlocks - 20];
  try {
    // Garbage at the head of 60 % of the free blocks above the metadata area.
    const g = randomBytes(4 * MiB);
    let k = 0;
    for (let b = 64; b < m.totalBlocks; b++) {
      if (usedSet.has(b)) continue;
      freeBlocks++;
      if (k++ % 5 < 3) writeSync(fh, g, (b * 4099) % (3 * MiB), 256 * 1024, volBase + b * MiB);
    }
    // Two deleted COWD deltas (contiguous, FD zeroed) for the scan to find.
    for (const [n, at] of [[1, deltaBlocks[0]!], [2, deltaBlocks[1]!]] as const) {
      const p = path.join(dir, `d${n}.bin`);
      writeCowd({ dataPath: p, capacity: 8 * GiB, runs: [{ firstGrain: 1000 * n, count: 20000, kind: 'data', fill: sectorPattern(n) }] });
      const bytes = readFileSync(p);
      let done = 0;
      while (done < bytes.length) done += writeSync(fh, bytes, done, bytes.length - done, volBase + at * MiB + done);
      rmSync(p);
    }
  } finally {
    closeSync(fh);
  }
  const freedFdBlock = writeFreedFdDelta(m, dir, usedSet);
  deltaBlocks.push(freedFdBlock);
  const realMiB = Math.round((statSync(lun.path).blocks * 512) / MiB);
  log(`built ${(lun.size / GiB).toFixed(2)} GiB dump (${realMiB} MiB real, ${freeBlocks} of ${m.totalBlocks} blocks free) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { path: lun.path, size: lun.size, totalBlocks: m.totalBlocks, freeBlocks, realMiB, deltaBlocks, freedFdBlock };
}

/**
 * A third deleted delta of vm1, as a plain delete leaves it: its blocks fragmented (every other free
 * block from the middle of the volume up) and its FD freed but intact in a free .fdc.sf slot, so
 * the metadata pass finds it without carving. Returns its first block.
 */
function writeFreedFdDelta(m: Manifest, dir: string, usedSet: ReadonlySet<number>): number {
  const p = path.join(dir, 'd3.bin');
  writeCowd({ dataPath: p, capacity: 8 * GiB, runs: [{ firstGrain: 3000, count: 20000, kind: 'data', fill: sectorPattern(3) }] });
  const bytes = readFileSync(p);
  rmSync(p);
  const placement: number[] = [];
  for (let b = Math.floor(m.totalBlocks / 2), skip = false; placement.length < Math.ceil(bytes.length / MiB); b++) {
    if (usedSet.has(b)) continue;
    if (!skip) placement.push(b);
    skip = !skip;
  }
  const io = openVolume(m);
  try {
    const { fdVol } = fdcLocator(geometry(5), 32, 2048, 4);
    checkRootFd(io, fdVol, 4, 'scan bench');
    placement.forEach((b, i) => io.put(b * MiB, bytes.subarray(i * MiB, (i + 1) * MiB)));
    const slot = freeFdAddress(m, 3);
    io.put(fdVol(slot), fdRecord(slot, fdVol(slot), io.entry('/vm1').fdAddress, { length: bytes.length, blocks: placement }));
  } finally {
    io.close();
  }
  return placement[0]!;
}

export async function benchRecoveryScan(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'recovery-scan-bench-'));
  try {
    const dump = await buildScanBenchDump(dir, log);
    const lun = { path: dump.path, size: dump.size };
    const m = { totalBlocks: dump.totalBlocks };
    const { freeBlocks, realMiB } = dump;
    const dumpGiB = lun.size / GiB;
    ensureCliBundle(log);
    const cat = () => measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', lun.path]);
    // The shipped (compiled) CLI; its start-up, measured by --version in the same rounds, is
    // subtracted for the throughput goal (>= 2x cat's).
    const version = () => measure(process.execPath, [CLI_BIN, '--version']);
    const scan = () => {
      const r = measure(process.execPath, [CLI_BIN, 'scan', '--image', lun.path, '--json']);
      const j = JSON.parse(r.stdout) as { candidates: { id: string }[] };
      const missing = dump.deltaBlocks.filter((b) => !j.candidates.some((c) => c.id === `delta-${b}`));
      if (missing.length) throw new Error(`scan found ${j.candidates.map((c) => c.id).join(', ') || 'no candidate'}; missing ${missing.map((b) => `delta-${b}`).join(', ')}`);
      return r;
    };
    const rounds = Number(process.env.BENCH_RUNS ?? 3);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const one = (kind: 'sparse' | 'dense', note: string): BenchResult => {
      warm([lun.path]);
      // Alternated rounds, medians (the machine is shared).
      const c: number[] = [];
      const s: number[] = [];
      const v: number[] = [];
      let peakRssMiB = 0;
      for (let i = 0; i < rounds; i++) {
        c.push(cat().seconds);
        v.push(version().seconds);
        const r = scan();
        s.push(r.seconds);
        peakRssMiB = Math.max(peakRssMiB, Math.round(r.peakRssMiB));
      }
      const referenceSeconds = median(c);
      const seconds = median(s);
      const startup = median(v);
      const catRate = lun.size / GiB / referenceSeconds;
      const scanRate = lun.size / GiB / Math.max(0.001, seconds - startup);
      return {
        name: `recovery scan of ${dumpGiB.toFixed(2)} GiB ${kind} VMFS5 dump (${Math.round((100 * freeBlocks) / m.totalBlocks)} % free)`,
        seconds,
        reference: 'cat DUMP > /dev/null',
        referenceSeconds,
        ratio: seconds / referenceSeconds,
        peakRssMiB,
        notes: `throughput without start-up (--version ${startup.toFixed(2)} s subtracted) ${scanRate.toFixed(2)} GiB/s vs cat ${catRate.toFixed(2)} GiB/s (${(scanRate / catRate).toFixed(2)}x; target >= 2x, RSS <= 256 MiB); with start-up ${(referenceSeconds / seconds).toFixed(2)}x; ${note}; medians of ${rounds} alternated rounds; ${loadAverage()}`,
      };
    };
    const results = [one('sparse', `sparse dump: only ${realMiB} MiB are real data, holes read very fast for both`)];
    lun.path = densify(lun.path, log);
    results.push(one('dense', 'the same dump with every hole written out as zeros, as a real LUN dump is: cat reads all of it'));
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A copy of `p` with its holes written out (`cp --sparse=never`), beside it; the sparse original is
 * removed to keep the disk use at one dump. Real LUN dumps have no holes: this is the fair reference.
 */
export function densify(p: string, log: (l: string) => void = () => {}): string {
  const dense = p + '.dense';
  const t0 = performance.now();
  const r = spawnSync('cp', ['--sparse=never', p, dense], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp --sparse=never failed: ${r.stderr}`);
  rmSync(p);
  log(`wrote the dense copy (${Math.round((statSync(dense).blocks * 512) / MiB)} MiB real) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return dense;
}

function loadAverage(): string {
  return `load ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ')}`;
}

export const recoveryScanBench: Bench = {
  name: 'recovery-scan',
  description: 'deleted-delta scan of an 8.25 GiB VMFS5 dump (>half free, garbage in free space), sparse then dense, vs cat',
  run: (log) => benchRecoveryScan(log),
};
