import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CLI_BIN, ensureCliBundle } from '../scripts/cli-bundle.js';
import { fixtureImage } from '../test/helpers/vmfs3-fixture.js';
import { measure } from './measure.js';
import type { Bench, BenchResult } from './types.js';

/**
 * Start-up of the shipped binary (bin/vmfs-rescue.mjs, the compiled bundle) against bare Node
 * (`node -e 0`): `--version`, and `info` of the real VMFS3 fixture. The sources through tsx are
 * measured too, for scale. The contenders run in turn in each round, so load changes hit them
 * alike; wall and CPU (user + sys) are medians over BENCH_RUNS rounds (default 20).
 */
const root = path.resolve(import.meta.dirname, '..');
const TICK_S = 0.01; // /proc clock ticks (USER_HZ = 100 on Linux)

/** user + sys seconds of this process's waited-for children so far (/proc/self/stat cutime, cstime). */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state): cutime and cstime are fields 16 and 17.
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) * TICK_S;
}

interface Sample {
  wall: number;
  cpu: number;
}

function once(cmd: string, args: string[]): Sample {
  const c0 = childrenCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu: childrenCpu() - c0 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const cliStartupBench: Bench = {
  name: 'cli-startup',
  description: 'compiled CLI --version and info of the real VMFS3 fixture vs node -e 0',
  async run(log) {
    ensureCliBundle(log);
    const img = await fixtureImage();
    const node = process.execPath;
    const tsx = path.join(root, 'node_modules/.bin/tsx');
    const main = path.join(root, 'src/cli/main.ts');
    const contenders: Record<string, [string, string[]]> = {
      'node -e 0': [node, ['-e', '0']],
      version: [node, [CLI_BIN, '--version']],
      info: [node, [CLI_BIN, 'info', '--image', img]],
      'version-sources': [tsx, [main, '--version']],
      'info-sources': [tsx, [main, 'info', '--image', img]],
    };
    const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
    const runs = Number(process.env.BENCH_RUNS ?? 20);
    for (const [cmd, args] of Object.values(contenders)) once(cmd, args); // warm the page cache
    for (let i = 0; i < runs; i++) {
      for (const [name, [cmd, args]] of Object.entries(contenders)) samples[name]!.push(once(cmd, args));
    }
    const ref = { wall: median(samples['node -e 0']!.map((s) => s.wall)), cpu: median(samples['node -e 0']!.map((s) => s.cpu)) };
    const result = (name: string, what: string, label: string): BenchResult => {
      const wall = median(samples[what]!.map((s) => s.wall));
      const cpu = median(samples[what]!.map((s) => s.cpu));
      const [cmd, args] = contenders[what]!;
      const rss = measure(cmd, args, root).peakRssMiB;
      log(`${label}: ${(wall * 1000).toFixed(0)} ms wall, ${(cpu * 1000).toFixed(0)} ms CPU; node -e 0: ${(ref.wall * 1000).toFixed(0)} ms, ${(ref.cpu * 1000).toFixed(0)} ms CPU`);
      return {
        name,
        seconds: wall,
        reference: 'node -e 0',
        referenceSeconds: ref.wall,
        ratio: wall / ref.wall,
        peakRssMiB: Math.round(rss),
        notes: `${label}; medians of ${runs} alternated runs; CPU (user+sys) ${(cpu * 1000).toFixed(0)} ms vs ${(ref.cpu * 1000).toFixed(0)} ms (ratio ${(cpu / ref.cpu).toFixed(2)})`,
      };
    };
    return [
      result('cli-startup-version', 'version', 'node bin/vmfs-rescue.mjs --version'),
      result('cli-startup-info-vmfs3', 'info', 'node bin/vmfs-rescue.mjs info --image test-vmfs3.img'),
      result('cli-startup-version-sources', 'version-sources', 'tsx src/cli/main.ts --version (sources, for scale)'),
      result('cli-startup-info-vmfs3-sources', 'info-sources', 'tsx src/cli/main.ts info --image test-vmfs3.img (sources, for scale)'),
    ];
  },
};
