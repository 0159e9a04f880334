import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { buildCowdDelta } from '../test/builders/cowd.js';
import { buildFlatBase, randomRuns } from '../test/builders/delta-common.js';
import { rng } from '../test/helpers/fuzz.js';
import { run, sha256File } from '../test/helpers/tools.js';
import { measure, warm, type Measured } from './measure.js';
import type { Bench, BenchResult } from './types.js';

/**
 * `vmdk export` vs `qemu-img convert` of the same chain to the same format, whole processes
 * (start-up included) on a warm page cache, runs alternated with the reference, medians reported.
 * Two chains (BENCH_EXPORT_GIB, default 2 GiB each):
 *  - qemu: what qemu-img makes itself, `qemu-img create -f vmdk -b base.vmdk -F vmdk`, a hosted
 *    sparse delta (64 KiB grains) filled ~30 % by qemu-io writes, over a flat base ~20 % written:
 *    qemu-img's fastest case (it skips the base's holes with SEEK_DATA);
 *  - cowd: an ESXi COWD delta (512-byte grains, ~12 % written) over a flat base ~20 % written:
 *    qemu-img's slow case.
 * Ours runs as the shipped binary, `node bin/vmfs-rescue.mjs` (the compiled CLI in dist-cli/; build
 * it first with `npm run build:cli`; BENCH_CLI names another copy), start-up included; npm's own
 * start-up is not counted. It also reports the in-process export time it prints on stderr.
 */
export const GiB = 1024 ** 3;
/** Virtual size of the COWD chain that the browser bench shares (BENCH_VMDK_GIB, default 4 GiB). */
export const CAPACITY = Number(process.env.BENCH_VMDK_GIB ?? 4) * GiB;
const root = path.resolve(import.meta.dirname, '..');

/** Builds the COWD-over-flat chain in `dir` (reused when its stamp is there) and returns the top descriptor's path. */
export function buildChain(dir: string, capacity = CAPACITY): string {
  const top = path.join(dir, 'disk-000001.vmdk');
  const stamp = path.join(dir, `v1-${capacity}`);
  if (existsSync(stamp)) return top;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const base = buildFlatBase(dir, 'disk', capacity, randomRuns({ capacity, grainBytes: 64 * 1024, fraction: 0.2, seed: 11 }), 64 * 1024);
  buildCowdDelta({
    dir,
    name: 'disk-000001',
    capacity,
    runs: randomRuns({ capacity, grainBytes: 512, fraction: 0.12, seed: 12, meanRunBytes: 256 * 1024 }),
    parentFileNameHint: 'disk.vmdk',
    parentCid: base.cid,
  });
  writeFileSync(stamp, '');
  return top;
}

/**
 * The chain qemu-img makes: a flat base (ours, `baseFraction` written in 64 KiB granules) under
 * `qemu-img create -f vmdk -b base.vmdk -F vmdk delta.vmdk`, then qemu-io writes of 64 KiB-aligned
 * runs (mean 256 KiB) over about `fraction` of the disk.
 */
export function buildQemuChain(dir: string, capacity: number, fraction = 0.3, baseFraction = 0.2): string {
  const top = path.join(dir, 'delta.vmdk');
  const stamp = path.join(dir, `q1-${capacity}-${fraction}-${baseFraction}`);
  if (existsSync(stamp)) return top;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  buildFlatBase(dir, 'base', capacity, randomRuns({ capacity, grainBytes: 64 * 1024, fraction: baseFraction, seed: 21 }), 64 * 1024);
  run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', top]);
  const r = rng(22);
  const G = 64 * 1024;
  const meanRun = 4; // grains
  const meanGap = Math.round((meanRun * (1 - fraction)) / fraction);
  const cmds: string[] = [];
  for (let g = Math.floor(r() * 2 * meanGap), i = 0; g < capacity / G; i++) {
    const n = Math.min(capacity / G - g, 1 + Math.floor(r() * 2 * meanRun));
    cmds.push(`write -q -P ${1 + (i % 250)} ${g * G} ${n * G}`);
    g += n + 1 + Math.floor(r() * 2 * meanGap);
  }
  // A few thousand commands per qemu-io call (argument lists stay well under the limit).
  for (let i = 0; i < cmds.length; i += 2000) run('qemu-io', ['-f', 'vmdk', ...cmds.slice(i, i + 2000).flatMap((c) => ['-c', c]), top]);
  writeFileSync(stamp, '');
  return top;
}

export function allocatedMiB(dir: string): number {
  // st_blocks counts what the (sparse) files really hold.
  return readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).blocks * 512, 0) / 2 ** 20;
}

type Format = 'raw' | 'flat' | 'sparse';
const QEMU_ARGS: Record<Format, string[]> = {
  raw: ['-O', 'raw'],
  flat: ['-O', 'vmdk', '-o', 'subformat=monolithicFlat'],
  sparse: ['-O', 'vmdk', '-o', 'subformat=monolithicSparse'],
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Our compiled CLI, as `npx vmfs-rescue` runs it. */
function ours(args: string[]): Measured & { inProcessSeconds: number | null } {
  const m = measure(process.execPath, [process.env.BENCH_CLI ?? path.join(root, 'bin', 'vmfs-rescue.mjs'), ...args], root);
  const t = /exported(?: and verified| \(not verified\)) in ([\d.]+) s/.exec(m.stderr);
  return { ...m, inProcessSeconds: t ? Number(t[1]) : null };
}

interface Series {
  seconds: number[];
  cpu: number[];
  inProcess: number[];
  rss: number;
}

async function benchChain(log: (l: string) => void, chain: 'qemu' | 'cowd', gib: number, formats: Format[], runs: number): Promise<BenchResult[]> {
  const dir = path.join(tmpdir(), `vmfs-rescue-bench-export-${chain}`);
  const outDir = path.join(dir, 'out');
  log(`building the ${chain} chain in ${dir} (reused when present; BENCH_KEEP=1 keeps it)`);
  const capacity = gib * GiB;
  const top = chain === 'qemu' ? buildQemuChain(dir, capacity) : buildChain(dir, capacity);
  log(`inputs hold ${allocatedMiB(dir).toFixed(0)} MiB of ${capacity / 2 ** 20} MiB`);
  const inputs = readdirSync(dir).filter((f) => f.endsWith('.vmdk')).map((f) => path.join(dir, f));
  const results: BenchResult[] = [];
  let logicalSha = '';
  try {
    for (const format of formats) {
      const ref: number[] = [];
      const refCpu: number[] = [];
      let refRss = 0;
      const series: Record<'verify' | 'no-verify', Series> = { verify: { seconds: [], cpu: [], inProcess: [], rss: 0 }, 'no-verify': { seconds: [], cpu: [], inProcess: [], rss: 0 } };
      const loads: number[] = [];
      for (let i = 0; i < runs; i++) {
        rmSync(outDir, { recursive: true, force: true });
        mkdirSync(outDir, { recursive: true });
        warm(inputs);
        const refOut = path.join(outDir, format === 'raw' ? 'ref.raw' : 'ref.vmdk');
        loads.push(loadavg()[0]!);
        const q = measure('qemu-img', ['convert', ...QEMU_ARGS[format], top, refOut]);
        ref.push(q.seconds);
        refCpu.push(q.cpuSeconds);
        refRss = Math.max(refRss, q.peakRssMiB);
        if (!logicalSha) logicalSha = format === 'raw' ? sha256File(refOut) : run('sh', ['-c', `qemu-img convert -O raw "$1" /dev/stdout | sha256sum`, 'sh', top]).split(/\s+/)[0]!;
        log(`${chain} ${format} #${i + 1}: qemu-img convert ${QEMU_ARGS[format].join(' ')}: ${q.seconds.toFixed(2)} s (CPU ${q.cpuSeconds.toFixed(2)} s), ${q.peakRssMiB.toFixed(0)} MiB`);
        rmSync(refOut, { force: true });
        for (const variant of ['verify', 'no-verify'] as const) {
          warm(inputs);
          const out = path.join(outDir, format === 'raw' ? 'ours.img' : 'ours.vmdk');
          const m = ours(['vmdk', 'export', top, '--out', out, '--format', format, ...(variant === 'no-verify' ? ['--no-verify'] : [])]);
          const sha = m.stdout.trim().split('\n').at(-1)!;
          if (sha !== logicalSha) throw new Error(`vmdk export ${format} (${variant}) sha256 ${sha} differs from qemu-img's ${logicalSha}`);
          if (format === 'raw' && sha256File(out) !== logicalSha) throw new Error(`vmdk export raw (${variant}) wrote a file whose sha256 differs`);
          const s = series[variant];
          s.seconds.push(m.seconds);
          s.cpu.push(m.cpuSeconds);
          if (m.inProcessSeconds !== null) s.inProcess.push(m.inProcessSeconds);
          s.rss = Math.max(s.rss, m.peakRssMiB);
          log(`${chain} ${format} #${i + 1}: vmdk export (${variant}): ${m.seconds.toFixed(2)} s (CPU ${m.cpuSeconds.toFixed(2)} s, in-process ${m.inProcessSeconds ?? '?'} s), ${m.peakRssMiB.toFixed(0)} MiB`);
          rmSync(outDir, { recursive: true, force: true });
          mkdirSync(outDir, { recursive: true });
        }
      }
      const q = median(ref);
      for (const [variant, s] of Object.entries(series)) {
        const ratios = s.seconds.map((x, i) => x / ref[i]!);
        results.push({
          name: `vmdk-export-${chain}-${format}-${gib}g${variant === 'verify' ? '' : '-no-verify'}`,
          seconds: median(s.seconds),
          reference: `qemu-img convert ${QEMU_ARGS[format].join(' ')}`,
          referenceSeconds: q,
          ratio: q > 0 ? median(s.seconds) / q : null,
          peakRssMiB: Math.round(s.rss),
          notes:
            `median of ${runs} alternated runs (per-run ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}); whole process: node bin/vmfs-rescue.mjs (compiled); ` +
            `in-process export ${s.inProcess.length ? median(s.inProcess).toFixed(1) : '?'} s (ratio ${s.inProcess.length ? (median(s.inProcess) / q).toFixed(2) : '?'}); ` +
            `CPU (user+sys, all threads) ${median(s.cpu).toFixed(2)} s vs ${median(refCpu).toFixed(2)} s (ratio ${(median(s.cpu) / median(refCpu)).toFixed(2)}); ` +
            `qemu-img peak ${refRss.toFixed(0)} MiB; load average ${loads.map((l) => l.toFixed(1)).join(', ')}; sha256 equals qemu-img's` +
            (variant === 'verify' ? '; read-back verification on' : ''),
        });
      }
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

const FORMATS = (process.env.BENCH_EXPORT_FORMATS?.split(',') ?? ['raw', 'flat', 'sparse']) as Format[];
const CHAINS = (process.env.BENCH_EXPORT_CHAINS?.split(',') ?? ['qemu', 'cowd']) as ('qemu' | 'cowd')[];
const EXPORT_GIB = Number(process.env.BENCH_EXPORT_GIB ?? 2);

export const vmdkExportBench: Bench = {
  name: 'vmdk-export',
  description: `vmdk export --format raw|flat|sparse of two ${EXPORT_GIB} GiB chains (qemu-made hosted sparse over flat; COWD over flat), verify on and off, vs qemu-img convert to the same format (BENCH_RUNS, BENCH_EXPORT_CHAINS, BENCH_EXPORT_FORMATS, BENCH_EXPORT_GIB)`,
  async run(log) {
    const runs = Number(process.env.BENCH_RUNS ?? 3);
    const results: BenchResult[] = [];
    for (const chain of CHAINS) results.push(...(await benchChain(log, chain, EXPORT_GIB, FORMATS, runs)));
    return results;
  },
};

/**
 * Memory of a big export: `vmdk export` of a 64 GiB qemu-made chain (BENCH_RSS_GIB; sparse files,
 * a few hundred MiB written) to raw and sparse, verify on; peak RSS against the 256 MiB budget.
 */
export const vmdkExportRssBench: Bench = {
  name: 'vmdk-export-rss',
  description: 'peak RSS of vmdk export (raw, sparse; verify on) of a 64 GiB chain (BENCH_RSS_GIB, BENCH_RSS_FORMATS)',
  async run(log) {
    const gib = Number(process.env.BENCH_RSS_GIB ?? 64);
    const dir = path.join(tmpdir(), 'vmfs-rescue-bench-export-rss');
    const results: BenchResult[] = [];
    try {
      log(`building a ${gib} GiB qemu-made chain in ${dir}`);
      const top = buildQemuChain(dir, gib * GiB, 0.005, 0.005);
      for (const format of (process.env.BENCH_RSS_FORMATS?.split(',') ?? ['raw', 'sparse']) as Format[]) {
        const out = path.join(dir, `out.${format === 'raw' ? 'img' : 'vmdk'}`);
        const m = ours(['vmdk', 'export', top, '--out', out, '--format', format]);
        log(`vmdk export ${format} of ${gib} GiB: ${m.seconds.toFixed(1)} s, ${m.peakRssMiB.toFixed(0)} MiB peak`);
        rmSync(out, { force: true });
        results.push({
          name: `vmdk-export-rss-${format}-${gib}g`,
          seconds: m.seconds,
          reference: null,
          referenceSeconds: null,
          ratio: null,
          peakRssMiB: Math.round(m.peakRssMiB),
          notes: `budget 256 MiB; whole process (node bin/vmfs-rescue.mjs), verify on; in-process ${m.inProcessSeconds ?? '?'} s; load average ${loadavg()[0]!.toFixed(1)}`,
        });
      }
    } finally {
      if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    }
    return results;
  },
};
