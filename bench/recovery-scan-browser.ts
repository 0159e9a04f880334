import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';
import { measure, warm } from './measure.js';
import { buildScanBenchDump } from './recovery-scan.js';
import type { Bench, BenchResult } from './types.js';

/**
 * Issue 5 in Chromium: "Find lost snapshots" over the same sparse 8.25 GiB VMFS5 dump as
 * bench/recovery-scan.ts, in the production build served by `vite preview` on its own port, the
 * dump opened through the file input, the free-space scan split across the worker pool
 * (?scanWorkers=N, N = min(4, cores) unless BENCH_SCAN_WORKERS says otherwise), against
 * `cat DUMP > /dev/null` in the same run (warm page cache for both).
 *
 * Timed: from the click on Find lost snapshots to the candidate list (opening the datastore is
 * not included; the Node bench's figure includes CLI startup and the open). Peak RSS: the sum of
 * VmHWM (/proc/<pid>/status) over Chromium's renderer processes (the page and its dedicated
 * workers live there), sampled during the run; the other Chromium processes (browser, GPU,
 * network, utility) are reported in the notes. The sum of per-process peaks bounds the
 * simultaneous peak from above.
 *
 * Environment: BENCH_PORT or PW_PORT (default 4191) for vite preview, VMFS_RESCUE_DIST for the build (built
 * into a temporary folder when it holds no index.html), CHROMIUM_PATH (default /usr/bin/chromium).
 */
const GiB = 1024 * 1024 * 1024;
const root = path.resolve(import.meta.dirname, '..');
/** Same flags as playwright.config.ts. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** pid -> { ppid, cmdline } of every process we can read. */
function processTable(): Map<number, { ppid: number; cmd: string }> {
  const out = new Map<number, { ppid: number; cmd: string }>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'latin1').replace(/\0/g, ' ');
      out.set(Number(e), { ppid, cmd });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Descendants of `pid` (Playwright runs Chromium as a child of this Node process). */
function descendants(pid: number): Map<number, string> {
  const t = processTable();
  const out = new Map<number, string>();
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    for (const [c, v] of t) if (v.ppid === p && !out.has(c)) {
      out.set(c, v.cmd);
      todo.push(c);
    }
  }
  return out;
}

function vmHwmKiB(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Peak RSS per Chromium process, sampled every 250 ms while running. */
function rssSampler(chromiumPath: string): { stop: () => { renderersMiB: number; othersMiB: number; renderers: number; each: number[] } } {
  const peak = new Map<number, { kib: number; renderer: boolean }>();
  const sample = () => {
    for (const [pid, cmd] of descendants(process.pid)) {
      if (!cmd.includes(chromiumPath) && !cmd.includes('chrom')) continue;
      const kib = vmHwmKiB(pid);
      if (kib === null) continue;
      const renderer = cmd.includes('--type=renderer');
      const prev = peak.get(pid);
      if (!prev || kib > prev.kib) peak.set(pid, { kib, renderer });
    }
  };
  sample();
  const t = setInterval(sample, 250);
  return {
    stop: () => {
      sample();
      clearInterval(t);
      let r = 0;
      let o = 0;
      const each: number[] = [];
      for (const v of peak.values()) {
        if (v.renderer) {
          r += v.kib;
          each.push(Math.round(v.kib / 1024));
        } else o += v.kib;
      }
      return { renderersMiB: r / 1024, othersMiB: o / 1024, renderers: each.length, each };
    },
  };
}

async function waitForServer(url: string, server: ChildProcess, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (server.exitCode !== null) throw new Error(`vite preview exited (${server.exitCode})`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`vite preview did not answer at ${url} within ${ms} ms`);
}

export async function benchRecoveryScanBrowser(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'recovery-scan-browser-bench-'));
  const port = Number(process.env.BENCH_PORT ?? process.env.PW_PORT ?? 4191);
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const workers = Number(process.env.BENCH_SCAN_WORKERS ?? Math.min(4, availableParallelism()));
  const dist = path.resolve(root, process.env.VMFS_RESCUE_DIST ?? path.join(dir, 'dist'));
  let server: ChildProcess | null = null;
  try {
    if (!existsSync(path.join(dist, 'index.html'))) {
      log(`building the app into ${dist}`);
      const b = spawnSync(path.join(root, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: root, env: { ...process.env, VMFS_RESCUE_DIST: dist }, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`vite build failed: ${b.stderr}`);
    }
    const dump = await buildScanBenchDump(dir, log);
    server = spawn(path.join(root, 'node_modules/.bin/vite'), ['preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: root, env: { ...process.env, VMFS_RESCUE_DIST: dist }, stdio: 'ignore' });
    const origin = `http://127.0.0.1:${port}`;
    await waitForServer(origin + '/', server, 60_000);

    warm([dump.path]);
    const cat1 = measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', dump.path]);

    const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
    let seconds: number;
    let rss: ReturnType<ReturnType<typeof rssSampler>['stop']>;
    let found: string[];
    try {
      const sampler = rssSampler(chromiumPath);
      const page = await browser.newPage();
      await page.goto(`${origin}/?scanWorkers=${workers}`);
      const tab = page.getByTestId('tab-datastore');
      if ((await tab.count()) > 0) await tab.click();
      await page.getByTestId('ds-file-input').setInputFiles(dump.path);
      await page.getByTestId('ds-version').filter({ hasText: 'VMFS-5' }).waitFor({ timeout: 300_000 });
      await page.waitForFunction(() => !(document.querySelector('[data-testid="rec-find"]') as HTMLButtonElement | null)?.disabled, null, { timeout: 60_000 });
      const t0 = performance.now();
      await page.getByTestId('rec-find').click();
      await page.locator('[data-testid="rec-candidate"], [data-testid="rec-none"], [data-testid="rec-error"]').first().waitFor({ timeout: 600_000 });
      seconds = (performance.now() - t0) / 1000;
      const err = await page.getByTestId('rec-error').count();
      if (err > 0) throw new Error(`scan failed in the page: ${await page.getByTestId('rec-error').textContent()}`);
      found = await page.getByTestId('rec-candidate').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id') ?? ''));
      if (found.length < 2) throw new Error(`scan found ${found.length} candidates, expected the 2 deltas`);
      const usedWorkers = await page.getByTestId('rec-ranges').getAttribute('data-workers').catch(() => null);
      log(`browser scan: ${seconds.toFixed(2)} s, candidates ${found.join(', ')}, workers ${usedWorkers ?? '?'}`);
      rss = sampler.stop();
    } finally {
      await browser.close();
    }
    const cat2 = measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', dump.path]);
    const referenceSeconds = Math.min(cat1.seconds, cat2.seconds);
    const dumpGiB = dump.size / GiB;
    const scanRate = dumpGiB / seconds;
    const catRate = dumpGiB / referenceSeconds;
    return [
      {
        name: `recovery scan in Chromium (${workers} workers) of ${dumpGiB.toFixed(2)} GiB sparse VMFS5 dump (${Math.round((100 * dump.freeBlocks) / dump.totalBlocks)} % free)`,
        seconds,
        reference: 'cat DUMP > /dev/null',
        referenceSeconds,
        ratio: seconds / referenceSeconds,
        peakRssMiB: Math.round(rss.renderersMiB),
        notes:
          `throughput ${scanRate.toFixed(2)} GiB/s vs cat ${catRate.toFixed(2)} GiB/s (${(scanRate / catRate).toFixed(2)}x; target >= 0.9x, RSS <= 256 MiB); ` +
          `peak RSS = sum of VmHWM of ${rss.renderers} renderer process(es) (page + workers: ${rss.each.join(' + ')} MiB; VmHWM counts shared library pages in each); other Chromium processes ${Math.round(rss.othersMiB)} MiB; ` +
          `sparse dump: only ${dump.realMiB} MiB are real data, holes read very fast for both; timed from the Find click to the candidate list (datastore open excluded)`,
      },
    ];
  } finally {
    if (server && server.exitCode === null) server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

export const recoveryScanBrowserBench: Bench = {
  name: 'recovery-scan-browser',
  description: 'deleted-delta scan in Chromium with the worker pool, same 8.25 GiB dump as recovery-scan, vs cat',
  run: (log) => benchRecoveryScanBrowser(log),
};
