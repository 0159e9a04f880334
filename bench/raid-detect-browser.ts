import { rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { buildArray } from '../test/builders/raid.js';
import { CHROMIUM_ARGS, rssSampler, startPreview } from './browser.js';
import { benchLun, CASES, detectOnce, keptMembers, RAID_BENCH_DIR } from './raid-detect.js';
import type { Bench, BenchResult } from './types.js';

/**
 * RAID detection in Chromium: the goal case of bench/raid-detect.ts (4-member RAID 5 of ~1.5 GiB
 * members, cut from the same 4.5 GiB VMFS5 LUN) picked through "Open RAID members" in the
 * production build served by `vite preview`, detection running in the RAID worker. Timed in the
 * page, from the file input's change event to the detection shown (the worker's start included).
 * Reference: the Node detection of the same members in the same run (in-process, as
 * bench/raid-detect.ts times it), alternated with the browser runs; medians of BENCH_RUNS (default 3).
 * Environment: BENCH_PORT or PW_PORT (default 4192), VMFS_RESCUE_DIST (built into the bench folder when it holds no index.html),
 * CHROMIUM_PATH, BENCH_RAID_DIR (the LUN is kept there between runs), BENCH_RAID_CASES (case names, comma-separated; default the goal case).
 */
const root = path.resolve(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One detection in the page: ms from the pick to the result shown, and what was shown. */
async function pageDetect(page: Page, files: string[]): Promise<{ seconds: number; note: string }> {
  await page.evaluate(() => {
    const w = window as unknown as { __pick?: number; __shown?: number };
    w.__pick = undefined;
    w.__shown = undefined;
    const input = document.querySelector('[data-testid="raid-file-input"]')!;
    input.addEventListener('change', () => (w.__pick ??= performance.now()), { capture: true, once: true });
    const done = '[data-testid="raid-detected"], [data-testid="raid-undecided"], [data-testid="raid-error"]';
    const mo = new MutationObserver(() => {
      if (w.__shown === undefined && w.__pick !== undefined && document.querySelector(done)) {
        w.__shown = performance.now();
        mo.disconnect();
      }
    });
    mo.observe(document.body, { childList: true, subtree: true });
  });
  await page.getByTestId('raid-file-input').setInputFiles(files);
  await page.waitForFunction(() => (window as unknown as { __shown?: number }).__shown !== undefined, null, { timeout: 600_000, polling: 100 });
  const r = await page.evaluate(() => {
    const w = window as unknown as { __pick: number; __shown: number };
    const el = document.querySelector('[data-testid="raid-detected"]');
    const note = el
      ? `${el.getAttribute('data-level')} ${el.getAttribute('data-stripe')} ${el.getAttribute('data-layout')} missing ${el.getAttribute('data-missing')}, confidence ${document.querySelector('[data-testid="raid-confidence"]')?.textContent}`
      : `not detected: ${document.querySelector('[data-testid="raid-reason"], [data-testid="raid-error"]')?.textContent ?? '?'}`;
    return { ms: w.__shown - w.__pick, note };
  });
  return { seconds: r.ms / 1000, note: r.note };
}

export async function benchRaidDetectBrowser(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  const port = Number(process.env.BENCH_PORT ?? process.env.PW_PORT ?? 4192);
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const names = (process.env.BENCH_RAID_CASES ?? CASES[0]!.name).split(',');
  const dist = path.resolve(root, process.env.VMFS_RESCUE_DIST ?? path.join(RAID_BENCH_DIR, 'dist'));
  const lun = await benchLun(log);
  const preview = await startPreview(dist, port, log);
  const out: BenchResult[] = [];
  try {
    for (const c of CASES.filter((x) => names.includes(x.name))) {
      log(`cutting ${c.name}`);
      const files = buildArray(lun, c.spec, RAID_BENCH_DIR, c.name);
      const kept = keptMembers(c, files);
      const page: number[] = [];
      const node: number[] = [];
      let note = '';
      let rss = 0;
      try {
        for (let r = 0; r < runs; r++) {
          const n = await detectOnce(kept);
          node.push(n.seconds);
          const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
          try {
            const sampler = rssSampler(chromiumPath);
            const p = await browser.newPage();
            await p.goto(`${preview.origin}/`);
            const b = await pageDetect(p, kept);
            rss = Math.max(rss, sampler.stop().pageMiB);
            page.push(b.seconds);
            note = b.note;
            log(`run ${r + 1}: Chromium ${b.seconds.toFixed(2)} s (${b.note}), Node ${n.seconds.toFixed(2)} s (${n.note})`);
          } finally {
            await browser.close();
          }
        }
      } finally {
        for (const f of files) rmSync(f, { force: true });
      }
      const s = median(page);
      const ref = median(node);
      out.push({ name: `raid-detect-browser ${c.name}`, seconds: s, reference: 'Node detectRaid, same members, same run', referenceSeconds: ref, ratio: s / ref, peakRssMiB: Math.round(rss), notes: note });
    }
  } finally {
    preview.stop();
  }
  return out;
}

export const raidDetectBrowserBench: Bench = {
  name: 'raid-detect-browser',
  description: 'RAID detection in Chromium (Open RAID members, RAID worker) vs Node, same members',
  run: (log) => benchRaidDetectBrowser(log),
};
