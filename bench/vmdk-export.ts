import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildCowdDelta } from '../test/builders/cowd.js';
import { buildFlatBase, randomRuns } from '../test/builders/delta-common.js';
import { sha256File } from '../test/helpers/tools.js';
import { measure, warm } from './measure.js';
import type { Bench, BenchResult } from './types.js';

/**
 * Issue 3: exporting a big snapshot chain to raw must be about as fast as qemu-img and stay in
 * bounded memory. Chain: a 4 GiB ESXi-style flat base (sparse file, ~20% written in 64 KiB
 * granules) under a COWD delta (512-byte grains, ~12% written in runs averaging 256 KiB), about
 * 30% of the disk allocated in all. Both tools run as child processes on a warm page cache.
 */
export const GiB = 1024 ** 3;
/** Virtual size of the bench chain (BENCH_VMDK_GIB, default 4 GiB). */
export const CAPACITY = Number(process.env.BENCH_VMDK_GIB ?? 4) * GiB;
const STAMP = `v1-${CAPACITY}`;
const root = path.resolve(import.meta.dirname, '..');

/** Builds the bench chain in `dir` (reused when its stamp is there) and returns the top descriptor's path. */
export function buildChain(dir: string): string {
  const top = path.join(dir, 'disk-000001.vmdk');
  if (existsSync(path.join(dir, STAMP))) return top;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const base = buildFlatBase(dir, 'disk', CAPACITY, randomRuns({ capacity: CAPACITY, grainBytes: 64 * 1024, fraction: 0.2, seed: 11 }), 64 * 1024);
  buildCowdDelta({
    dir,
    name: 'disk-000001',
    capacity: CAPACITY,
    runs: randomRuns({ capacity: CAPACITY, grainBytes: 512, fraction: 0.12, seed: 12, meanRunBytes: 256 * 1024 }),
    parentFileNameHint: 'disk.vmdk',
    parentCid: base.cid,
  });
  writeFileSync(path.join(dir, STAMP), '');
  return top;
}

export function allocatedMiB(dir: string): number {
  // st_blocks counts what the (sparse) files really hold.
  return readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).blocks * 512, 0) / 2 ** 20;
}

export const vmdkExportBench: Bench = {
  name: 'vmdk-export-raw',
  description: `vmdk export --format raw of a ${CAPACITY / GiB} GiB COWD-over-flat chain vs qemu-img convert -O raw`,
  async run(log) {
    const dir = path.join(tmpdir(), 'vmfs-rescue-bench-vmdk-export');
    const outDir = path.join(dir, 'out');
    log(`building the chain in ${dir} (reused when present; BENCH_KEEP=1 keeps it)`);
    const top = buildChain(dir);
    log(`inputs hold ${allocatedMiB(dir).toFixed(0)} MiB of ${CAPACITY / 2 ** 20} MiB`);
    mkdirSync(outDir, { recursive: true });
    const ref = path.join(outDir, 'ref.raw');
    const ours = path.join(outDir, 'ours.raw');
    const inputs = readdirSync(dir).filter((f) => f.endsWith('.vmdk')).map((f) => path.join(dir, f));
    const tsx = path.join(root, 'node_modules/.bin/tsx');
    const cli = path.join(root, 'src/cli/main.ts');
    const results: BenchResult[] = [];
    try {
      const runs = Number(process.env.BENCH_RUNS ?? 2);
      let q = Infinity;
      let best: Record<string, { s: number; rss: number }> = {};
      let refSha = '';
      for (let i = 0; i < runs; i++) {
        warm(inputs);
        rmSync(ref, { force: true });
        const r = measure('qemu-img', ['convert', '-O', 'raw', top, ref]);
        q = Math.min(q, r.seconds);
        log(`qemu-img convert -O raw: ${r.seconds.toFixed(2)} s, ${r.peakRssMiB.toFixed(0)} MiB peak`);
        for (const [variant, extra] of [
          ['verify', []],
          ['no-verify', ['--no-verify']],
        ] as const) {
          warm(inputs);
          rmSync(ours, { force: true });
          const m = measure(tsx, [cli, 'vmdk', 'export', top, '--out', ours, '--format', 'raw', ...extra]);
          const sha = m.stdout.trim().split('\n').at(-1)!;
          refSha ||= sha256File(ref);
          if (sha !== refSha) throw new Error(`vmdk export (${variant}) sha256 ${sha} differs from qemu-img's ${refSha}`);
          log(`vmdk export --format raw (${variant}): ${m.seconds.toFixed(2)} s, ${m.peakRssMiB.toFixed(0)} MiB peak`);
          const b = best[variant];
          if (!b || m.seconds < b.s) best[variant] = { s: m.seconds, rss: Math.max(m.peakRssMiB, b?.rss ?? 0) };
          else b.rss = Math.max(b.rss, m.peakRssMiB);
        }
      }
      for (const [variant, b] of Object.entries(best)) {
        results.push({
          name: `vmdk-export-raw-${CAPACITY / GiB}g${variant === 'verify' ? '' : '-no-verify'}`,
          seconds: b.s,
          reference: 'qemu-img convert -O raw',
          referenceSeconds: q,
          ratio: q > 0 ? b.s / q : null,
          peakRssMiB: Math.round(b.rss),
          notes: `best of ${runs}; output sha256 equals qemu-img's; ours includes tsx start-up and hashing${variant === 'verify' ? ' plus the read-back verification' : ''}`,
        });
      }
      best = {};
    } finally {
      rmSync(outDir, { recursive: true, force: true });
      if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    }
    return results;
  },
};
