import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Measured {
  seconds: number;
  peakRssMiB: number;
  /** User + system CPU seconds of the child and its waited children (all threads): steadier than wall time on a loaded machine. */
  cpuSeconds: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command under GNU time (`%e %M %U %S`: wall seconds, peak RSS KiB, user and system CPU
 * seconds of the child and its waited children), so the figures are the child's own, not the bench runner's.
 */
export function measure(cmd: string, args: string[], cwd?: string): Measured {
  const report = path.join(tmpdir(), `bench-time-${process.pid}-${Date.now()}.txt`);
  const r = spawnSync('/usr/bin/time', ['-o', report, '-f', '%e %M %U %S', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...(cwd ? { cwd } : {}),
  });
  try {
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    const [secs, kib, user, sys] = readFileSync(report, 'utf8').trim().split('\n').at(-1)!.split(/\s+/).map(Number);
    return { seconds: secs!, peakRssMiB: kib! / 1024, cpuSeconds: user! + sys!, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(report, { force: true });
  }
}

/** Reads files once so both contenders start with the same (warm) page cache. */
export function warm(files: string[]): void {
  for (const f of files) spawnSync('sh', ['-c', `cat "$1" > /dev/null`, 'sh', f]);
}
