import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Page } from '@playwright/test';

/**
 * What the Chromium benches share: the production build served by `vite preview` on a port of
 * their own, Chromium's flags, and the sampler of Chromium's per-process memory.
 */
const root = path.resolve(import.meta.dirname, '..');

/** Same flags as playwright.config.ts. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

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

/** VmHWM (peak), VmRSS and RssAnon of a process, KiB, from /proc/<pid>/status (null once it exited). */
function memKiB(pid: number): { hwm: number; rss: number; anon: number } | null {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'latin1');
    const f = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN);
    const r = { hwm: f('VmHWM'), rss: f('VmRSS'), anon: f('RssAnon') };
    return Number.isFinite(r.hwm) ? r : null;
  } catch {
    return null;
  }
}

export interface RssFigures {
  /** VmHWM of the renderer process that hosts the page and its dedicated workers (MiB). */
  pageMiB: number;
  /** Highest sampled RssAnon of that process (heap, buffers; no mapped Chromium binary or fonts). */
  pageAnonMiB: number;
  /** Highest sampled sum of VmRSS over all renderer processes at one instant. */
  renderersPeakMiB: number;
  /** VmHWM of every renderer (MiB), the page's first. */
  each: number[];
  othersHwmMiB: number;
}

/**
 * Samples Chromium's processes every 100 ms while running. The page and its dedicated workers live
 * in one renderer process; Chromium also runs a renderer for its own (top-chrome WebUI) pages and
 * keeps a spare one, neither of them ours: the page's is the largest renderer that is not WebUI.
 */
export function rssSampler(chromiumPath: string): { stop: () => RssFigures } {
  const peak = new Map<number, { hwm: number; anon: number; renderer: boolean; webui: boolean }>();
  let sumPeak = 0;
  // Walking /proc costs CPU the scan competes for (2 cores): the process list is refreshed every 10th sample.
  let procs = new Map<number, string>();
  let tick = 0;
  const sample = () => {
    if (tick++ % 10 === 0) procs = descendants(process.pid);
    let sum = 0;
    for (const [pid, cmd] of procs) {
      if (!cmd.includes(chromiumPath) && !cmd.includes('chrom')) continue;
      const m = memKiB(pid);
      if (m === null) continue;
      const renderer = cmd.includes('--type=renderer');
      if (renderer) sum += m.rss;
      const prev = peak.get(pid);
      peak.set(pid, { hwm: Math.max(m.hwm, prev?.hwm ?? 0), anon: Math.max(m.anon, prev?.anon ?? 0), renderer, webui: cmd.includes('--top-chrome-webui') });
    }
    sumPeak = Math.max(sumPeak, sum);
  };
  sample();
  const t = setInterval(sample, 100);
  return {
    stop: () => {
      tick = 0;
      sample();
      clearInterval(t);
      const renderers = [...peak.values()].filter((v) => v.renderer).sort((x, y) => Number(x.webui) - Number(y.webui) || y.hwm - x.hwm);
      const page = renderers[0] ?? { hwm: 0, anon: 0 };
      let o = 0;
      for (const v of peak.values()) if (!v.renderer) o += v.hwm;
      return { pageMiB: page.hwm / 1024, pageAnonMiB: page.anon / 1024, renderersPeakMiB: sumPeak / 1024, each: renderers.map((v) => Math.round(v.hwm / 1024)), othersHwmMiB: o / 1024 };
    },
  };
}

/** Rejects when something already listens on 127.0.0.1:`port` (a server left by an earlier run would be measured instead of this build). */
function checkPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} is in use (a server left by an earlier run?): stop it or set BENCH_PORT / PW_PORT to a free port` : `port ${port}: ${e.message}`)),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

/** Waits until `url` serves this build's index.html (`index`), from our `server` and not another. */
async function waitForServer(url: string, server: ChildProcess, index: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (server.exitCode !== null) throw new Error(`vite preview exited (${server.exitCode})`);
    try {
      const r = await fetch(url);
      if (r.ok) {
        if ((await r.text()) === index) return;
        throw new Error(`${url} serves another build than ${index.length} bytes of this one's index.html`);
      }
    } catch (e) {
      if ((e as Error).message.includes('serves another build')) throw e;
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`vite preview did not answer at ${url} within ${ms} ms`);
}

/**
 * Serves the production build in `dist` (built there first when it holds no index.html) with
 * `vite preview` on `port`; stop() ends that server. Refuses a port that is already taken, and
 * checks that what answers serves this build's index.html.
 */
export async function startPreview(dist: string, port: number, log: (l: string) => void): Promise<{ origin: string; stop: () => void }> {
  if (!existsSync(path.join(dist, 'index.html'))) {
    log(`building the app into ${dist}`);
    const b = spawnSync(path.join(root, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: root, env: { ...process.env, VMFS_RESCUE_DIST: dist }, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`vite build failed: ${b.stderr}`);
  }
  await checkPortFree(port);
  const index = readFileSync(path.join(dist, 'index.html'), 'utf8');
  const server = spawn(path.join(root, 'node_modules/.bin/vite'), ['preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: root, env: { ...process.env, VMFS_RESCUE_DIST: dist }, stdio: 'ignore' });
  const stop = () => {
    if (server.exitCode === null) server.kill('SIGTERM');
  };
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForServer(origin + '/', server, index, 60_000);
  } catch (e) {
    stop();
    throw e;
  }
  return { origin, stop };
}

/**
 * Times in the page, from the next click to the first element matching `selector` in the DOM
 * (Playwright's own latency excluded). Call before the click; read with clickToShown().
 */
export async function watchClickToShown(page: Page, selector: string): Promise<void> {
  await page.evaluate((sel) => {
    const w = window as unknown as { __benchClick?: number; __benchShown?: number };
    document.addEventListener('click', () => (w.__benchClick ??= performance.now()), { capture: true });
    const mo = new MutationObserver(() => {
      if (w.__benchShown === undefined && document.querySelector(sel)) {
        w.__benchShown = performance.now();
        mo.disconnect();
      }
    });
    mo.observe(document.body, { childList: true, subtree: true });
  }, selector);
}

/** The page's clock at the click and at the element shown (see watchClickToShown). */
export async function clickToShown(page: Page): Promise<{ click: number; shown: number }> {
  return page.evaluate(() => {
    const w = window as unknown as { __benchClick?: number; __benchShown?: number };
    return { click: w.__benchClick ?? NaN, shown: w.__benchShown ?? NaN };
  });
}

/** Hands a local file to the page through a hidden file input with id `bench-floor` (for the floor measurements). */
export async function hiddenFileInput(page: Page, file: string): Promise<void> {
  await page.evaluate(() => {
    const i = document.createElement('input');
    i.type = 'file';
    i.id = 'bench-floor';
    i.hidden = true;
    document.body.append(i);
  });
  await page.locator('#bench-floor').setInputFiles(file);
}
