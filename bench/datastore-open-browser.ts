import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, rssSampler, startPreview } from './browser.js';
import { buildOpenBenchDump, OPEN_FOLDER } from './datastore-open.js';
import type { Bench, BenchResult } from './types.js';

/**
 * The app's open of the 64 TiB dump of `datastore-open`, in Chromium with the production build:
 * from the file input's change event to the volume shown, the root listing, the free space, the
 * allocation map, then a click on the 2000-entry folder to its listing, all on the page's own clock.
 * The same open path serves the CLI's info and ls; references in the same run: `debugvmfs DUMP df`
 * and `debugvmfs DUMP ls -l` (alternated with the page runs, medians). BENCH_OPEN_BASE_DIST names a
 * second build (of the code before a change) served beside it and opened in alternate runs.
 */
const root = path.resolve(import.meta.dirname, '..');

const MARKS = ['volume', 'root', 'free', 'map', 'folder'] as const;
type Mark = (typeof MARKS)[number];

/**
 * Records in the page, on its clock, when each step of the open first shows (relative to the file
 * input's change event). A string, not a function: tsx would wrap the inner functions in a naming
 * helper that the page does not have.
 */
async function watchOpen(page: Page, folderEntry: string): Promise<void> {
  await page.evaluate(`(() => {
    const t = (window.__open = {});
    const q = (s) => document.querySelector(s);
    const busy = () => [...document.querySelectorAll('[role="status"]')].some((e) => e.textContent.includes('Reading the folder'));
    const check = () => {
      const now = performance.now();
      if (t.change === undefined) return;
      if (t.volume === undefined && q('[data-testid="ds-version"]')) t.volume = now;
      if (t.root === undefined && q('[data-testid="ds-entry"]') && !busy()) t.root = now;
      const free = q('[data-testid="ds-free"]')?.textContent ?? '';
      if (t.free === undefined && free && !free.includes('counting')) t.free = now;
      if (t.map === undefined && q('[data-testid="ds-alloc-zoom"]')) t.map = now;
      if (t.click !== undefined && t.folder === undefined && q('[data-testid="ds-entry"][data-name=${JSON.stringify(folderEntry)}]') && !busy()) t.folder = now;
    };
    document.addEventListener('change', () => (t.change ??= performance.now()), { capture: true });
    document.addEventListener('click', () => { if (t.change !== undefined) t.click ??= performance.now(); }, { capture: true });
    new MutationObserver(check).observe(document.body, { childList: true, subtree: true, characterData: true });
  })()`);
}

interface OpenRun {
  /** ms from the change event (the folder: from the click on it). */
  ms: Record<Mark, number>;
  pageMiB: number;
}

async function openOnce(origin: string, chromiumPath: string, dump: string): Promise<OpenRun> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  try {
    const sampler = rssSampler(chromiumPath);
    const page = await browser.newPage();
    await page.goto(origin + '/');
    const tab = page.getByTestId('tab-datastore');
    if ((await tab.count()) > 0) await tab.click();
    const folder = OPEN_FOLDER.replace(/^\//, '');
    await watchOpen(page, 'file-0000.log');
    await page.getByTestId('ds-file-input').setInputFiles(dump);
    const done = (k: string) => page.waitForFunction((k) => (window as unknown as { __open: Record<string, number> }).__open[k] !== undefined, k, { timeout: 600_000, polling: 50 });
    await done('root');
    await Promise.all([done('free'), done('map')]);
    await page.locator(`[data-testid="ds-entry"][data-name="${folder}"] [data-testid="ds-enter"]`).click();
    await done('folder');
    const t = await page.evaluate(() => (window as unknown as { __open: Record<string, number> }).__open);
    const rss = sampler.stop();
    return {
      ms: { volume: t.volume! - t.change!, root: t.root! - t.change!, free: t.free! - t.change!, map: t.map! - t.change!, folder: t.folder! - t.click! },
      pageMiB: rss.pageMiB,
    };
  } finally {
    await browser.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function wall(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function benchDatastoreOpenBrowser(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  const dir = process.env.BENCH_OPEN_DIR ?? mkdtempSync('/dev/shm/vmfs-open-bench-');
  const keep = process.env.BENCH_OPEN_DIR !== undefined;
  const port = Number(process.env.BENCH_PORT ?? process.env.PW_PORT ?? 4194);
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const dist = path.resolve(root, process.env.VMFS_RESCUE_DIST ?? path.join(dir, 'dist'));
  const baseDist = process.env.BENCH_OPEN_BASE_DIST ? path.resolve(root, process.env.BENCH_OPEN_BASE_DIST) : null;
  const stops: (() => void)[] = [];
  try {
    const dump = existsSync(path.join(dir, 'open64t.lun0.img')) ? path.join(dir, 'open64t.lun0.img') : (await buildOpenBenchDump(dir, log)).path;
    const apps: { name: string; origin: string }[] = [];
    const cur = await startPreview(dist, port, log);
    stops.push(cur.stop);
    apps.push({ name: 'this build', origin: cur.origin });
    if (baseDist) {
      const base = await startPreview(baseDist, port + 1, log);
      stops.push(base.stop);
      apps.push({ name: `base build (${path.basename(baseDist)})`, origin: base.origin });
    }
    const runs = Number(process.env.BENCH_RUNS ?? 3);
    const samples = apps.map(() => [] as OpenRun[]);
    const df: number[] = [];
    const dls: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (let a = 0; a < apps.length; a++) {
        const r = await openOnce(apps[a]!.origin, chromiumPath, dump);
        samples[a]!.push(r);
        log(`${apps[a]!.name}: ${MARKS.map((m) => `${m} ${Math.round(r.ms[m])} ms`).join(', ')}; page renderer ${Math.round(r.pageMiB)} MiB`);
      }
      df.push(wall('debugvmfs', [dump, 'df']));
      dls.push(wall('debugvmfs', [dump, 'ls', '-l', OPEN_FOLDER]));
    }
    const load = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
    const refOpen = median(df);
    const refLs = median(dls);
    log(`debugvmfs df ${Math.round(refOpen)} ms, debugvmfs ls -l ${OPEN_FOLDER} ${Math.round(refLs)} ms (medians); load average ${load}`);
    const results: BenchResult[] = [];
    apps.forEach((app, a) => {
      const m = (k: Mark) => median(samples[a]!.map((r) => r.ms[k]));
      const rss = Math.round(Math.max(...samples[a]!.map((r) => r.pageMiB)));
      const steps = MARKS.slice(0, 4).map((k) => `${k} ${Math.round(m(k))} ms`).join(', ');
      const note = `medians of ${runs} runs in the page's clock from the file input's change event (${steps}); load average ${load}`;
      results.push({
        name: `datastore-open in Chromium (${app.name}): 64 TiB dump opened, root listed and free space counted`,
        seconds: m('free') / 1000,
        reference: 'debugvmfs DUMP df (whole process)',
        referenceSeconds: refOpen / 1000,
        ratio: m('free') / refOpen,
        peakRssMiB: rss,
        notes: `${note}; the allocation map of the volume follows at ${Math.round(m('map'))} ms`,
      });
      results.push({
        name: `datastore-open in Chromium (${app.name}): click on ${OPEN_FOLDER} (2000 entries) to its listing`,
        seconds: m('folder') / 1000,
        reference: `debugvmfs DUMP ls -l ${OPEN_FOLDER} (whole process, volume open included)`,
        referenceSeconds: refLs / 1000,
        ratio: m('folder') / refLs,
        peakRssMiB: rss,
        notes: `medians of ${runs} runs in the page's clock; load average ${load}`,
      });
    });
    return results;
  } finally {
    for (const s of stops) s();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

export const datastoreOpenBrowserBench: Bench = {
  name: 'datastore-open-browser',
  description: 'the app opens the 64 TiB dump of datastore-open in Chromium (volume, root, free space, map; then the 2000-entry folder) vs debugvmfs df / ls -l (BENCH_OPEN_BASE_DIST: a second build to compare)',
  run: (log) => benchDatastoreOpenBrowser(log),
};
