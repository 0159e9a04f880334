import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_BIN, ensureCliBundle } from '../scripts/cli-bundle.js';
import { buildVmfs, DATA_OFFSET, MiB, SEGMENT, type FileSpec } from '../test/builders/vmfs/index.js';
import { extendedLvmBytes } from '../src/core/synth/vmfs/lvm.js';
import { measure } from './measure.js';
import type { Bench, BenchResult } from './types.js';

/**
 * Open and list a 64 TiB VMFS5 dump like a C tool: `info --json` and `ls -l --json` of a
 * 2000-entry folder through the compiled CLI (and through `npm run -s cli`, as a user types it),
 * against `debugvmfs DUMP df` and `debugvmfs DUMP ls -l` of the same file, with `node -e 0` and
 * `--version` for start-up. Every contender runs once per round, rounds alternate, figures are
 * medians; the work after start-up is ours minus `--version` against debugvmfs (whose start-up
 * is a few ms).
 *
 * The dump: one bare LUN (debugvmfs finds partitions only through an MBR, which cannot describe
 * 64 TiB) of 262143 segments, 256 MiB LVM PEs in 32 PE maps (3 extended LVM headers), .fbb.sf
 * with 2048 blocks per cluster (32768 cluster headers), a folder of 2000 small files and 8 VMs
 * with blocks far up the volume. It is sparse in /dev/shm (tmpfs holds 64 TiB; ext4 stops at 16).
 */
const root = path.resolve(import.meta.dirname, '..');
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
export const OPEN_FOLDER = '/big';
const FOLDER_ENTRIES = 2000;

export interface OpenBenchDump {
  path: string;
  totalBlocks: number;
}

export async function buildOpenBenchDump(dir: string, log: (l: string) => void = () => {}): Promise<OpenBenchDump> {
  const segments = Math.floor((64 * TiB - DATA_OFFSET - extendedLvmBytes(262144, true)) / SEGMENT);
  const totalBlocks = (segments * SEGMENT) / MiB;
  const files: FileSpec[] = [];
  for (let v = 1; v <= 8; v++) {
    const far = Math.floor((totalBlocks / 9) * v);
    files.push({ path: `/vm${v}/vm${v}.vmx`, kind: 'subblock', size: 3000 + v });
    files.push({ path: `/vm${v}/vm${v}.vmdk`, kind: 'resident', size: 500 + v });
    files.push({
      path: `/vm${v}/vm${v}-flat.vmdk`, kind: 'blocks', size: 100 * GiB, addressing: 'pointer',
      blocks: [{ index: 0, content: 'data', at: far }, { index: 51200, content: 'data', at: far + 1 }],
    });
  }
  for (let i = 0; i < FOLDER_ENTRIES; i++) files.push({ path: `${OPEN_FOLDER}/file-${String(i).padStart(4, '0')}.log`, kind: 'resident', size: 100 + (i % 700) });
  const t0 = performance.now();
  const m = await buildVmfs({
    version: 5, dir, name: 'open64t', label: 'bench-open-64t', seed: 64, fbbPerCluster: 2048, hashLimit: 0,
    fdcGroups: 3, extendedLvm: true, luns: [{ scheme: 'bare', segments }], files,
  });
  const p = m.luns[0]!.path;
  log(`built ${(m.luns[0]!.size / TiB).toFixed(2)} TiB dump (${Math.round((statSync(p).blocks * 512) / MiB)} MiB real) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { path: p, totalBlocks: m.totalBlocks };
}

interface Sample {
  wall: number;
  out: string;
}

function once(cmd: string, args: string[]): Sample {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * MiB, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { wall, out: r.stdout };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Free blocks and total of `debugvmfs df` ("Block size / Total blocks / Free blocks" lines, as vmfs-tools prints them). */
function parseDf(out: string): { total: number; free: number } {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return { total: num(/Total blocks\s*:\s*(\d+)/i), free: num(/Free blocks\s*:\s*(\d+)/i) };
}

export async function benchDatastoreOpen(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  if (!existsSync('/dev/shm')) throw new Error('datastore-open needs /dev/shm for its 64 TiB sparse dump');
  ensureCliBundle(log);
  const dir = process.env.BENCH_OPEN_DIR ?? mkdtempSync('/dev/shm/vmfs-open-bench-');
  const keep = process.env.BENCH_OPEN_DIR !== undefined;
  try {
    const dump = existsSync(path.join(dir, 'open64t.lun0.img')) ? { path: path.join(dir, 'open64t.lun0.img') } : await buildOpenBenchDump(dir, log);
    const node = process.execPath;
    const hasDebugvmfs = spawnSync('sh', ['-c', 'command -v debugvmfs'], { stdio: 'ignore' }).status === 0;
    const contenders: Record<string, [string, string[]]> = {
      'node -e 0': [node, ['-e', '0']],
      version: [node, [CLI_BIN, '--version']],
      info: [node, [CLI_BIN, 'info', '--image', dump.path, '--json']],
      ls: [node, [CLI_BIN, 'ls', '--image', dump.path, OPEN_FOLDER, '-l', '--json']],
      // npm's own start-up: what `npm run -s cli` adds before the CLI does any work.
      'npm version': ['npm', ['run', '-s', 'cli', '--', '--version']],
      'npm info': ['npm', ['run', '-s', 'cli', '--', 'info', '--image', dump.path, '--json']],
      'npm ls': ['npm', ['run', '-s', 'cli', '--', 'ls', '--image', dump.path, OPEN_FOLDER, '-l', '--json']],
      ...(hasDebugvmfs ? {
        df: ['debugvmfs', [dump.path, 'df']] as [string, string[]],
        'debugvmfs ls': ['debugvmfs', [dump.path, 'ls', '-l', OPEN_FOLDER]] as [string, string[]],
      } : {}),
    };
    // Same answers first: free and total blocks against debugvmfs df, the folder's entry count.
    const info = JSON.parse(once(...contenders.info!).out) as { totalBlocks: number; freeBlocks: number };
    const listed = JSON.parse(once(...contenders.ls!).out) as unknown[];
    if (listed.length < FOLDER_ENTRIES) throw new Error(`ls listed ${listed.length} entries, expected ${FOLDER_ENTRIES}+`);
    if (hasDebugvmfs) {
      const df = parseDf(once(...contenders.df!).out);
      if (info.freeBlocks !== df.free || info.totalBlocks !== df.total) throw new Error(`info says ${info.freeBlocks} free of ${info.totalBlocks}, debugvmfs df ${df.free} of ${df.total}`);
    }
    const runs = Number(process.env.BENCH_RUNS ?? 7);
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) for (const [k, [cmd, args]] of Object.entries(contenders)) samples[k]!.push(once(cmd, args).wall);
    const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<string, number>;
    const rss = (k: string) => Math.round(measure(...contenders[k]!, root).peakRssMiB);
    const uptime = spawnSync('uptime', { encoding: 'utf8' }).stdout.trim().replace(/.*load/, 'load');
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    log(Object.entries(med).map(([k, v]) => `${k} ${ms(v)}`).join(', ') + `; ${uptime}`);
    const start = med.version!;
    const results: BenchResult[] = [];
    const note = `medians of ${runs} alternated runs; ${uptime}`;
    for (const [what, refKey, refName] of [['info', 'df', 'debugvmfs DUMP df'], ['ls', 'debugvmfs ls', `debugvmfs DUMP ls -l ${OPEN_FOLDER}`]] as const) {
      const ref = hasDebugvmfs ? med[refKey]! : null;
      const work = med[what]! - start;
      results.push({
        name: `datastore-open ${what} 64 TiB: work after start-up (${what} - --version)`,
        seconds: work,
        reference: ref === null ? null : refName,
        referenceSeconds: ref,
        ratio: ref === null ? null : work / ref,
        peakRssMiB: rss(what),
        notes: `${what} ${ms(med[what]!)} wall, --version ${ms(start)}, node -e 0 ${ms(med['node -e 0']!)}; target <= 1.0x; ${note}`,
      });
      results.push({
        name: `datastore-open ${what} 64 TiB through npm run -s cli (wall, start-up included)`,
        seconds: med[`npm ${what}`]!,
        reference: 'the 0.5 s goal',
        referenceSeconds: 0.5,
        ratio: med[`npm ${what}`]! / 0.5,
        peakRssMiB: rss(`npm ${what}`),
        notes: `node bin/vmfs-rescue.mjs ${what}: ${ms(med[what]!)}; npm run -s cli -- --version ${ms(med['npm version']!)} (npm's own start-up ${ms(med['npm version']! - start)}); ${note}`,
      });
    }
    return results;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

export const datastoreOpenBench: Bench = {
  name: 'datastore-open',
  description: 'info --json and ls -l --json of a 64 TiB VMFS5 dump (extended LVM headers, 2000-entry folder) vs debugvmfs df / ls -l',
  run: (log) => benchDatastoreOpen(log),
};

// `tsx bench/datastore-open.ts --build DIR`: build the dump once (for profiling, or BENCH_OPEN_DIR=DIR).
if (process.argv[2] === '--build' && process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildOpenBenchDump(process.argv[3]!, (l) => process.stderr.write(l + '\n'));
}
