import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';
import type { Page } from '@playwright/test';
import { CHROMIUM_ARGS, clickToShown, hiddenFileInput, rssSampler, startPreview, watchClickToShown } from './browser.js';
import { measure, warm } from './measure.js';
import { NodeFileSource } from '../src/platform/node/file-source.js';
import { openDatastore } from '../src/core/vmfs/index.js';
import { carveJobs } from '../src/core/recovery/carve-job.js';
import { HEADER_PROBE_BYTES } from '../src/core/recovery/delta-header.js';
import { PROBE_WINDOW } from '../src/core/recovery/free-ranges.js';
import { buildScanBenchDump, densify, type ScanBenchDump } from './recovery-scan.js';
import type { Bench, BenchResult } from './types.js';

/**
 * In Chromium: "Find lost snapshots" over the same sparse 8.25 GiB VMFS5 dump as
 * bench/recovery-scan.ts, in the production build served by `vite preview` on its own port, the
 * dump opened through the file input, the free-space scan split across the worker pool
 * (?scanWorkers=N, N = min(4, cores) unless BENCH_SCAN_WORKERS says otherwise), against
 * `cat DUMP > /dev/null` in the same run (warm page cache for both).
 *
 * Timed in the page (as the floor is): from the click on Find lost snapshots to the final candidate list (opening the datastore
 * is not included; the Node bench's figure includes CLI startup and the open), and from the click
 * to the first candidate shown (the early list from metadata: the dump's freed-FD delta); the
 * page's User Timing of each step (early, plan, worker open, each range, candidates) is logged.
 * Two references: Chromium's own floor for the same reads (the very block-head reads the scan makes,
 * as bare Blob reads in as many bare workers, in the read order the scan could choose that is
 * fastest; see floorBest), measured in the same page right before each scan, in BENCH_SCAN_ROUNDS
 * rounds (default 3, a fresh page each) whose medians are compared; and cat, run before and after the browser (both on a warm page cache, both
 * logged; the faster is the reference).
 * Peak RSS: VmHWM (/proc/<pid>/status) of the renderer process that hosts the page and its
 * dedicated workers; Chromium's own WebUI and spare renderers and its other processes (browser,
 * GPU, network, utility) are logged apart.
 *
 * Environment: BENCH_PORT or PW_PORT (default 4191) for vite preview, VMFS_RESCUE_DIST for the build (built
 * into a temporary folder when it holds no index.html), CHROMIUM_PATH (default /usr/bin/chromium),
 * BENCH_SCAN_KINDS (default "sparse,dense"; "dense" alone skips the sparse run), BENCH_SCAN_ROUNDS (default 3), BENCH_SCAN_DIR (a
 * folder kept between runs: the dense dump is built there once and reused, to repeat a measurement).
 */
const GiB = 1024 * 1024 * 1024;
const root = path.resolve(import.meta.dirname, '..');

export async function benchRecoveryScanBrowser(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  const keep = process.env.BENCH_SCAN_DIR ? path.resolve(process.env.BENCH_SCAN_DIR) : null;
  const dir = keep ?? mkdtempSync(path.join(tmpdir(), 'recovery-scan-browser-bench-'));
  const kinds = (process.env.BENCH_SCAN_KINDS ?? 'sparse,dense').split(',').filter((k): k is 'sparse' | 'dense' => k === 'sparse' || k === 'dense');
  const port = Number(process.env.BENCH_PORT ?? process.env.PW_PORT ?? 4191);
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const workers = Number(process.env.BENCH_SCAN_WORKERS ?? Math.min(4, availableParallelism()));
  const rounds = Math.max(1, Number(process.env.BENCH_SCAN_ROUNDS ?? 3));
  const dist = path.resolve(root, process.env.VMFS_RESCUE_DIST ?? path.join(dir, 'dist'));
  let stopServer = () => {};
  try {
    const dump = await keptDump(dir, keep !== null, log);
    const preview = await startPreview(dist, port, log);
    stopServer = preview.stop;
    const origin = preview.origin;

    const results: BenchResult[] = [];
    let dumpPath = dump.path;
    for (const kind of kinds) {
      const note = kind === 'sparse' ? `sparse dump: only ${dump.realMiB} MiB are real data, holes read very fast for both` : 'the same dump with every hole written out as zeros, as a real LUN dump is: cat reads all of it';
      if (kind === 'dense' && !dumpPath.endsWith('.dense')) dumpPath = densify(dumpPath, log);
      if (kind === 'sparse' && dumpPath.endsWith('.dense')) continue; // a kept dump is dense already
      warm([dumpPath]);
      const cat1 = measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', dumpPath]);

      const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
      const heads = await headOffsets(dumpPath);
      let rss: ReturnType<ReturnType<typeof rssSampler>['stop']>;
      const scans: number[] = [];
      const floors: number[] = [];
      // The recovery view's read-ahead (prepareScan), before the click and the floor: not on the scan's clock.
      const prepares: number[] = [];
      const firsts: number[] = [];
      let variant: number | null = null;
      try {
        const sampler = rssSampler(chromiumPath);
        for (let round = 1; round <= rounds; round++) {
          // A fresh page each round (the scan caches its metadata pass per opened datastore).
          const page = await browser.newPage();
          try {
            await page.goto(`${origin}/?scanWorkers=${workers}`);
            const tab = page.getByTestId('tab-datastore');
            if ((await tab.count()) > 0) await tab.click();
            await page.getByTestId('ds-file-input').setInputFiles(dumpPath);
            await page.getByTestId('ds-version').filter({ hasText: 'VMFS-5' }).waitFor({ timeout: 300_000 });
            await page.waitForFunction(() => !(document.querySelector('[data-testid="rec-find"]') as HTMLButtonElement | null)?.disabled, null, { timeout: 60_000 });
            // Each workflow step is a view of its own: Find lost snapshots sits in the Find view.
            await page.getByTestId('step-find').click();
            // The Find view reads ahead what the scan's first list needs once it shows (prepareScan):
            // done before the floor, so that no read of it shares the floor's clock.
            await page.waitForFunction(() => performance.getEntriesByName('vmfs-rescue:scan:prepare').length > 0, null, { timeout: 300_000 });
            prepares.push(await page.evaluate(() => performance.getEntriesByName('vmfs-rescue:scan:prepare')[0]!.duration));
            // The floor right before the scan, in the same page: every read order in the first round, the fastest of them after.
            await hiddenFileInput(page, dumpPath);
            const floor = await floorBest(page, workers, heads, variant);
            variant = floor.variant;
            floors.push(floor.ms);
            log(`  round ${round}: Chromium floor, the scan's ${heads.length} block-head reads (${HEADER_PROBE_BYTES} B Blob slices) in ${workers} bare workers: ${floor.text}`);
            // Chromium releases the floor's Blob slices when its workers end: not on the scan's clock
            // (3 s per read order tried: after round 1's four, a 3 s wait left the first scan 1.5-2x slower).
            await page.waitForTimeout(3000 * floor.runs);
            await watchClickToShown(page, '[data-testid="rec-early-candidate"], [data-testid="rec-candidate"]');
            await watchFinalList(page);
            const t0 = performance.now();
            await page.getByTestId('rec-find').click();
            await page.locator('[data-testid="rec-candidate"], [data-testid="rec-none"], [data-testid="rec-error"]').first().waitFor({ timeout: 600_000 });
            const harness = (performance.now() - t0) / 1000;
            const err = await page.getByTestId('rec-error').count();
            if (err > 0) throw new Error(`scan failed in the page: ${await page.getByTestId('rec-error').textContent()}`);
            const found = await page.getByTestId('rec-candidate').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id') ?? ''));
            const missing = dump.deltaBlocks.map((b) => `delta-${b}`).filter((id) => !found.includes(id));
            if (missing.length) throw new Error(`scan found ${found.join(', ') || 'no candidate'}; missing ${missing.join(', ')}`);
            const usedWorkers = await page.getByTestId('rec-ranges').getAttribute('data-workers').catch(() => null);
            // The page's User Timing of each scan step (see timed() in src/app/state/recovery.svelte.ts).
            const steps = await page.evaluate(() =>
              performance
                .getEntriesByType('measure')
                .filter((m) => m.name.startsWith('vmfs-rescue:scan:'))
                .map((m) => ({ name: m.name.slice('vmfs-rescue:scan:'.length), start: m.startTime, ms: m.duration })),
            );
            const inPage = await clickToShown(page);
            firsts.push(inPage.shown - inPage.click);
            // The page's own clock, as the floor's: the harness (Playwright's click and polling) adds to the Node-side figure.
            scans.push((await page.evaluate(() => (window as unknown as { __benchFinal?: number }).__benchFinal ?? NaN)) - inPage.click);
            log(`  round ${round}: candidates ${found.join(', ')}, workers ${usedWorkers ?? '?'}; in the page: click to first candidate shown ${Math.round(firsts[firsts.length - 1]!)} ms, to the final list ${Math.round(scans[scans.length - 1]!)} ms (${harness.toFixed(2)} s as Playwright saw it); load ${loadavg()}`);
            const t = inPage.click;
            const ranges = steps.filter((x) => x.name.startsWith('range-'));
            log(`    steps (ms from the click, +duration): ${steps.filter((x) => !x.name.startsWith('range-')).map((x) => `${x.name} @${Math.round(x.start - t)} +${Math.round(x.ms)}`).join(', ')}`);
            if (ranges.length) {
              log(`    ${ranges.length} ranges: ${Math.round(Math.min(...ranges.map((x) => x.ms)))}..${Math.round(Math.max(...ranges.map((x) => x.ms)))} ms each`);
              // When each range ran (ms from the click): where the lanes idle and how they end.
              log(`    ranges by start: ${ranges.slice().sort((a, b) => a.start - b.start).map((x) => `${x.name.slice(6)} ${Math.round(x.start - t)}..${Math.round(x.start + x.ms - t)}`).join(', ')}`);
            }
          } finally {
            await page.close();
          }
        }
        rss = sampler.stop();
      } finally {
        await browser.close();
      }
      const seconds = median(scans) / 1000;
      const floorMs = median(floors);
      const firstMs = median(firsts);
      const prepareMs = median(prepares);
      const cat2 = measure('sh', ['-c', 'cat "$1" > /dev/null', 'sh', dumpPath]);
      log(`cat: ${cat1.seconds.toFixed(2)} s before the browser run, ${cat2.seconds.toFixed(2)} s after (both warm; the faster one is the reference)`);
      log(`RSS: page renderer (page + its workers) peak ${Math.round(rss.pageMiB)} MiB (anonymous ${Math.round(rss.pageAnonMiB)} MiB); all renderers ${rss.each.join(' + ')} MiB (peak of their sum at one instant ${Math.round(rss.renderersPeakMiB)} MiB); other Chromium processes ${Math.round(rss.othersHwmMiB)} MiB`);
      const referenceSeconds = Math.min(cat1.seconds, cat2.seconds);
      const load = loadavg();
      log(`scan / Chromium floor (medians of ${rounds} rounds): ${Math.round(seconds * 1000)} / ${Math.round(floorMs)} ms = ${(seconds / (floorMs / 1000)).toFixed(2)}x (per round ${scans.map((x, i) => (x / floors[i]!).toFixed(2)).join(', ')}); click to first candidate ${Math.round(firstMs)} ms (per round ${firsts.map(Math.round).join(', ')}); the view's read-ahead before the click ${Math.round(prepareMs)} ms (per round ${prepares.map(Math.round).join(', ')}); load average ${load}`);
      const dumpGiB = dump.size / GiB;
      const scanRate = dumpGiB / seconds;
      const catRate = dumpGiB / referenceSeconds;
      const dumpName = `${dumpGiB.toFixed(2)} GiB ${kind} VMFS5 dump`;
      results.push(
        {
          name: `recovery scan in Chromium (${workers} workers) vs Chromium's floor, ${dumpName}`,
          seconds,
          reference: `the scan's block-head reads as bare Blob reads in ${workers} bare workers, fastest of the read orders tried (same page, same run)`,
          referenceSeconds: floorMs / 1000,
          ratio: seconds / (floorMs / 1000),
          peakRssMiB: Math.round(rss.pageMiB),
          notes: `target <= 1.15x; timed from the Find click to the final candidate list; medians of ${rounds} rounds, each a fresh page: the floor right before the scan in it (per round: scan ${scans.map(Math.round).join(', ')} ms, floor ${floors.map(Math.round).join(', ')} ms); the recovery view's read-ahead of the metadata the first list needs (prepareScan, started when the dump opens) took ${Math.round(prepareMs)} ms before the floor and the click, not timed; load average ${load}`,
        },
        {
          name: `recovery scan in Chromium: click to first candidate shown, ${dumpName}`,
          seconds: firstMs / 1000,
          reference: null,
          referenceSeconds: null,
          ratio: null,
          peakRssMiB: Math.round(rss.pageMiB),
          notes: `target < 1 s; the delta whose freed FD survives, listed from metadata while the free-space carve runs; median of ${rounds} rounds (${firsts.map(Math.round).join(', ')} ms; final list after ${seconds.toFixed(2)} s); the metadata it comes from was read ahead when the dump opened (${Math.round(prepareMs)} ms, before the click); load average ${load}`,
        },
        {
          name: `recovery scan in Chromium (${workers} workers) of ${dumpGiB.toFixed(2)} GiB ${kind} VMFS5 dump (${Math.round((100 * dump.freeBlocks) / dump.totalBlocks)} % free)`,
          seconds,
          reference: 'cat DUMP > /dev/null',
          referenceSeconds,
          ratio: seconds / referenceSeconds,
          peakRssMiB: Math.round(rss.pageMiB),
          notes:
            `throughput ${scanRate.toFixed(2)} GiB/s vs cat ${catRate.toFixed(2)} GiB/s (${(scanRate / catRate).toFixed(2)}x; target >= 0.9x, RSS <= 256 MiB); cat ${cat1.seconds.toFixed(2)} s before, ${cat2.seconds.toFixed(2)} s after; ` +
            `Chromium floor (the scan's block-head reads, bare, in ${workers} workers) ${(floorMs / 1000).toFixed(2)} s; ` +
            `peak RSS = VmHWM of the renderer process hosting the page and its workers (anonymous part ${Math.round(rss.pageAnonMiB)} MiB; the rest is Chromium's mapped binary and fonts); all renderers incl. Chromium's WebUI and spare ones ${rss.each.join(' + ')} MiB; other Chromium processes ${Math.round(rss.othersHwmMiB)} MiB; ` +
            `${note}; timed from the Find click to the candidate list (datastore open excluded)`,
        },
      );
    }
    return results;
  } finally {
    stopServer();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The file offsets of the block heads the scan reads: the free blocks' heads as the carve jobs map
 * them (carveJobs over one range covering the volume, on the dump opened in Node), so the floor
 * makes exactly the scan's free-space reads, not a spread of its own.
 */
async function headOffsets(dumpPath: string): Promise<number[]> {
  const src = await NodeFileSource.open(dumpPath);
  try {
    const ds = await openDatastore([src]);
    const jobs = await carveJobs(ds, [{ startBlock: 0, endBlock: Number.MAX_SAFE_INTEGER }], [src]);
    if (!jobs) throw new Error('the bench dump does not map to carve jobs');
    const out: number[] = [];
    for (const r of jobs[0]!.runs) if (r.file === 0) for (let i = 0; i < r.count; i++) out.push(r.fileOffset + i * jobs[0]!.blockSize);
    return out;
  } finally {
    await src.close();
  }
}

/**
 * Chromium's floor for the free-space pass: the reads `heads` (HEADER_PROBE_BYTES each, Blob
 * slice().arrayBuffer()) of the page's #bench-floor file, split in `n` contiguous shares over `n`
 * bare workers, nothing else done, in each of the read orders the scan could use (a sliding window
 * of PROBE_WINDOW reads in flight; batches of PROBE_WINDOW, as the scan; windows of 8, 32, 128, 512):
 * the fastest counts (`only`: just that one, the fastest of an earlier round). Milliseconds.
 */
async function floorBest(page: Page, n: number, heads: readonly number[], only: number | null): Promise<{ ms: number; text: string; variant: number; runs: number }> {
  const tries: [string, number, boolean][] = [
    [`window ${PROBE_WINDOW}`, PROBE_WINDOW, false],
    [`batches of ${PROBE_WINDOW}`, PROBE_WINDOW, true],
    ...[8, 32, 128, 512].filter((w) => w !== PROBE_WINDOW).map((w): [string, number, boolean] => [`window ${w}`, w, false]),
  ];
  const ms: number[] = tries.map(() => Infinity);
  for (let i = 0; i < tries.length; i++) if (only === null || only === i) ms[i] = await floorRun(page, n, heads, tries[i]![1], tries[i]![2]);
  const best = ms.indexOf(Math.min(...ms));
  return { ms: ms[best]!, variant: best, runs: ms.filter(Number.isFinite).length, text: tries.flatMap(([name], i) => (Number.isFinite(ms[i]) ? [`${name} ${Math.round(ms[i]!)} ms`] : [])).join(', ') };
}

function floorRun(page: Page, n: number, heads: readonly number[], depth: number, batch: boolean): Promise<number> {
  return page.evaluate(
    async ({ n, heads, depth, batch, len }) => {
      const file = (document.querySelector('#bench-floor') as HTMLInputElement).files![0]!;
      const src = `onmessage = async (e) => {
        const { file, heads, depth, batch, len } = e.data;
        const read = (at) => file.slice(at, at + len).arrayBuffer();
        if (batch) {
          for (let k = 0; k < heads.length; k += depth) await Promise.all(heads.slice(k, k + depth).map(read));
        } else {
          let next = 0;
          const lane = async () => { while (next < heads.length) await read(heads[next++]); };
          await Promise.all(Array.from({ length: depth }, lane));
        }
        postMessage(0);
      };`;
      const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
      const ws = Array.from({ length: n }, () => new Worker(url));
      // Workers up and idle before the clock starts (the scan's carve workers start when the panel opens).
      await Promise.all(ws.map((w) => new Promise((resolve) => ((w.onmessage = resolve), w.postMessage({ file, heads: [], depth, batch, len })))));
      const t0 = performance.now();
      await Promise.all(
        ws.map((wk, w) => new Promise((resolve) => {
          wk.onmessage = () => resolve(null);
          wk.postMessage({ file, heads: heads.slice(Math.floor((w * heads.length) / n), Math.floor(((w + 1) * heads.length) / n)), depth, batch, len });
        })),
      );
      const ms = performance.now() - t0;
      for (const w of ws) w.terminate();
      URL.revokeObjectURL(url);
      return ms;
    },
    { n, heads: [...heads], depth, batch, len: HEADER_PROBE_BYTES },
  );
}

const median = (xs: readonly number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const loadavg = (): string => readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');

/** Records in the page (window.__benchFinal) when the final candidate list, or its absence, is first shown. */
async function watchFinalList(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __benchFinal?: number };
    const mo = new MutationObserver(() => {
      if (w.__benchFinal === undefined && document.querySelector('[data-testid="rec-candidate"], [data-testid="rec-none"], [data-testid="rec-error"]')) {
        w.__benchFinal = performance.now();
        mo.disconnect();
      }
    });
    mo.observe(document.body, { childList: true, subtree: true });
  });
}

/** The bench dump, built in `dir`; when `keep`, built there once (then densified) and reused by later runs. */
async function keptDump(dir: string, keep: boolean, log: (l: string) => void): Promise<ScanBenchDump> {
  const meta = path.join(dir, 'dump.json');
  if (keep && existsSync(meta)) {
    const d = JSON.parse(readFileSync(meta, 'utf8')) as ScanBenchDump;
    if (existsSync(d.path)) {
      log(`reusing the dump in ${dir}`);
      return d;
    }
  }
  if (keep) mkdirSync(dir, { recursive: true });
  const d = await buildScanBenchDump(dir, log);
  if (!keep) return d;
  const dense = { ...d, path: densify(d.path, log) };
  writeFileSync(meta, JSON.stringify(dense));
  return dense;
}

export const recoveryScanBrowserBench: Bench = {
  name: 'recovery-scan-browser',
  description: 'deleted-delta scan in Chromium with the worker pool, same 8.25 GiB dump as recovery-scan (sparse, then dense), vs cat',
  run: (log) => benchRecoveryScanBrowser(log),
};
