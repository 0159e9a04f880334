import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { saveIntoOpfs } from '../test/e2e/helpers.js';
import { sha256File } from '../test/helpers/tools.js';
import { CHROMIUM_ARGS, clickToShown, hiddenFileInput, rssSampler, startPreview, watchClickToShown, type RssFigures } from './browser.js';
import { measure, warm } from './measure.js';
import type { Bench, BenchResult } from './types.js';
import { allocatedMiB, buildChain, CAPACITY, GiB } from './vmdk-export.js';

/**
 * In Chromium: the COWD-over-flat chain of bench/vmdk-export.ts opened in the production
 * build (vite preview on its own port) through the VMDK view's file input, exported as raw to the
 * file the save-picker override hands out in OPFS (a FileSystemWritableFileStream, as with a real
 * save dialog), with the app's verify pass, against `qemu-img convert -O raw` of the same chain
 * (warm page cache for both). The SHA-256 the page shows must equal Node's hash of qemu-img's output.
 *
 * Timed in the page, from the click on Export to the result shown. The worker's User Timing
 * (`vmfs-rescue:export:*`, see timed() in src/workers/vmdk.worker.ts) splits it into the write
 * phase and the verify pass and each into read wait, SHA-256 of data, SHA-256 of zero ranges,
 * the writer and the final close. The UI has no switch for the verify pass: the "write phase"
 * result is the same run with the verify pass's own time taken out.
 *
 * Then Chromium's floors for each step alone (BENCH_FLOORS=0 skips them): WebCrypto's native
 * SHA-256, Blob reads of the flat base, FileSystemWritableFileStream and sync-access-handle writes.
 *
 * Chromium runs with a persistent profile in a temporary folder (a plain launch() gives an
 * incognito context, whose OPFS lives in memory). Peak RSS: VmHWM of the renderer hosting the
 * page and its workers (bench/browser.ts).
 *
 * Environment: BENCH_VMDK_GIB (default 4), BENCH_RUNS (default 2), BENCH_PORT (default 4192),
 * VMFS_RESCUE_DIST (built into a temporary folder when it holds no index.html), CHROMIUM_PATH,
 * BENCH_KEEP=1 keeps the chain.
 */
const MiB = 1024 * 1024;
const root = path.resolve(import.meta.dirname, '..');
const OUT_FOLDER = 'bench-out';

interface Run {
  seconds: number;
  sha: string;
  verified: string;
  timings: Record<string, number>;
  rss: RssFigures;
  outSize: number;
  /** Bytes the profile folder holds on disk after the export (the output's real allocation, roughly). */
  profileMiB: number;
}

function duMiB(dir: string): number {
  const r = spawnSync('du', ['-sk', dir], { encoding: 'utf8' });
  return Number(r.stdout.split(/\s+/)[0]) / 1024;
}

async function exportOnce(origin: string, profile: string, chromiumPath: string, inputs: string[], log: (l: string) => void): Promise<Run> {
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: CHROMIUM_ARGS });
  try {
    const sampler = rssSampler(chromiumPath);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await saveIntoOpfs(page, OUT_FOLDER, 'disk.img');
    await page.goto(origin + '/');
    await page.evaluate(async (f) => (await navigator.storage.getDirectory()).removeEntry(f, { recursive: true }).catch(() => {}), OUT_FOLDER);
    await page.getByTestId('file-input').setInputFiles(inputs);
    await page.getByTestId('chain-link').nth(1).waitFor({ timeout: 120_000 });
    await page.getByTestId('step-export').click(); // the export panel is the Export step's view
    await page.getByTestId('export-format').selectOption('raw');
    const dest = await page.getByTestId('export').getAttribute('data-destination');
    if (dest !== 'pick') throw new Error(`export destination is ${dest}, expected the save dialog ('pick')`);
    await watchClickToShown(page, '[data-testid="result-sha256"], [data-testid="error"]');
    await page.getByTestId('export').click();
    await page.locator('[data-testid="result-sha256"], [data-testid="error"]').first().waitFor({ timeout: 1_800_000 });
    if ((await page.getByTestId('error').count()) > 0) throw new Error(`export failed in the page: ${await page.getByTestId('error').textContent()}`);
    const rss = sampler.stop();
    const { click, shown } = await clickToShown(page);
    const inPage = shown - click;
    const sha = ((await page.getByTestId('result-sha256').textContent()) ?? '').trim();
    const verified = ((await page.getByTestId('result-verified').textContent()) ?? '').trim();
    const timings = await workerTimings(page);
    const outSize = await page.evaluate(async (f) => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(f);
      return (await (await dir.getFileHandle(String((window as unknown as Record<string, unknown>).__savedName))).getFile()).size;
    }, OUT_FOLDER);
    const profileMiB = duMiB(profile);
    // Free the space for the next run.
    await page.evaluate(async (f) => (await navigator.storage.getDirectory()).removeEntry(f, { recursive: true }), OUT_FOLDER);
    log(`  browser export: ${(inPage / 1000).toFixed(2)} s click to result; profile folder ${profileMiB.toFixed(0)} MiB on disk with the output`);
    return { seconds: inPage / 1000, sha, verified, timings, rss, outSize, profileMiB };
  } finally {
    await ctx.close();
  }
}

/** The figures of the last export from the VMDK worker's `vmfs-rescue:export:timings` mark. */
async function workerTimings(page: Page): Promise<Record<string, number>> {
  for (const w of page.workers()) {
    const t = await w
      .evaluate(() => {
        const m = performance.getEntriesByName('vmfs-rescue:export:timings', 'mark').at(-1) as PerformanceMark | undefined;
        const total = performance.getEntriesByName('vmfs-rescue:export:total', 'measure').at(-1);
        return m ? { ...(m.detail as Record<string, number>), total: total?.duration ?? NaN } : null;
      })
      .catch(() => null);
    if (t) return t;
  }
  throw new Error('no worker recorded vmfs-rescue:export:timings');
}

/** One line per phase: each step's seconds and share of the phase; hashing rates in MiB/s. */
function breakdown(t: Record<string, number>): string[] {
  const s = (k: string) => ((t[k] ?? 0) / 1000).toFixed(2);
  const pct = (k: string, of: string) => `${Math.round((100 * (t[k] ?? 0)) / (t[of] || 1))} %`;
  const rate = (bytes: string, ms: string) => ((t[bytes] ?? 0) / MiB / ((t[ms] ?? 0) / 1000 || 1)).toFixed(0);
  const lines: string[] = [];
  for (const ph of ['export', 'verify']) {
    if (t[`${ph}:wall`] === undefined) continue;
    const steps = ['read-wait', 'hash-data', 'hash-zeros', 'put', 'finish', 'open'].filter((k) => t[`${ph}:${k}`] !== undefined);
    lines.push(
      `${ph} ${s(`${ph}:wall`)} s = ` +
        steps.map((k) => `${k} ${s(`${ph}:${k}`)} s (${pct(`${ph}:${k}`, `${ph}:wall`)})`).join(', ') +
        `; SHA-256 ${rate(`${ph}:bytes-data`, `${ph}:hash-data`)} MiB/s over ${((t[`${ph}:bytes-data`] ?? 0) / MiB).toFixed(0)} MiB of data` +
        (t[`${ph}:bytes-zeros`] ? `, ${rate(`${ph}:bytes-zeros`, `${ph}:hash-zeros`)} MiB/s over ${((t[`${ph}:bytes-zeros`] ?? 0) / MiB).toFixed(0)} MiB of zero ranges` : ''),
    );
  }
  return lines;
}

interface Floors {
  /** SHA-256 of WebCrypto (native, one-shot over 256 MiB; it has no streaming digest), MiB/s. */
  webCrypto: number;
  /** 1 MiB Blob slices of `file`, 16 in flight (walkDisk's pattern), nothing else done, MiB/s. */
  blobRead: number;
  /** 1 GiB into a FileSystemWritableFileStream in writes of 256 KiB / 1 MiB, 8 in flight, MiB/s. */
  stream256k: number;
  stream1m: number;
  /** The same 256 KiB writes through an OPFS sync access handle, MiB/s. */
  sync256k: number;
}

/**
 * Chromium's floors for the pieces of an export, each alone in a bare worker: what the export's
 * steps would cost if nothing else ran on the thread. `file` is put into a hidden file input.
 */
async function floors(page: Page, file: string): Promise<Floors> {
  await hiddenFileInput(page, file);
  return page.evaluate(async () => {
    const file = (document.querySelector('#bench-floor') as HTMLInputElement).files![0]!;
    const src = `onmessage = async (e) => {
      const { file, mode } = e.data;
      const MiB = 1 << 20;
      const t0 = performance.now();
      if (mode === 'webCrypto') {
        const b = new Uint8Array(256 * MiB);
        for (let i = 0; i < b.length; i += 4096) b[i] = i & 0xff;
        await crypto.subtle.digest('SHA-256', b.subarray(0, MiB));
        const t1 = performance.now();
        await crypto.subtle.digest('SHA-256', b);
        return postMessage(256 / ((performance.now() - t1) / 1000));
      }
      if (mode === 'blobRead') {
        const n = Math.floor(file.size / MiB);
        for (let k = 0; k < n; k += 16) {
          const ps = [];
          for (let j = k; j < Math.min(n, k + 16); j++) ps.push(file.slice(j * MiB, (j + 1) * MiB).arrayBuffer());
          await Promise.all(ps);
        }
        return postMessage(n / ((performance.now() - t0) / 1000));
      }
      const size = mode === 'stream1m' ? MiB : 256 * 1024;
      const data = new Uint8Array(size).fill(7);
      const n = 1024 * MiB / size;
      const root = await navigator.storage.getDirectory();
      const h = await root.getFileHandle('bench-floor-' + mode, { create: true });
      const t1 = performance.now();
      if (mode === 'sync256k') {
        const a = await h.createSyncAccessHandle();
        for (let i = 0; i < n; i++) a.write(data, { at: i * 3 * size });
        a.flush();
        a.close();
      } else {
        const w = await h.createWritable();
        const pending = [];
        for (let i = 0; i < n; i++) {
          pending.push(w.write({ type: 'write', position: i * 3 * size, data }));
          if (pending.length >= 8) await pending.shift();
        }
        await Promise.all(pending);
        await w.close();
      }
      const rate = 1024 / ((performance.now() - t1) / 1000);
      await root.removeEntry('bench-floor-' + mode);
      postMessage(rate);
    };`;
    const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
    const out: Record<string, number> = {};
    for (const mode of ['webCrypto', 'blobRead', 'stream256k', 'stream1m', 'sync256k']) {
      out[mode] = await new Promise<number>((resolve, reject) => {
        const wk = new Worker(url);
        wk.onmessage = (e) => (wk.terminate(), resolve(e.data as number));
        wk.onerror = (e) => (wk.terminate(), reject(new Error(e.message)));
        wk.postMessage({ file, mode });
      });
    }
    URL.revokeObjectURL(url);
    return out as unknown as Floors;
  });
}

export async function benchVmdkExportBrowser(log: (l: string) => void = () => {}): Promise<BenchResult[]> {
  const dir = path.join(tmpdir(), 'vmfs-rescue-bench-vmdk-export-browser');
  const work = mkdtempSync(path.join(tmpdir(), 'vmdk-export-browser-bench-'));
  const port = Number(process.env.BENCH_PORT ?? 4192);
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const dist = path.resolve(root, process.env.VMFS_RESCUE_DIST ?? path.join(work, 'dist'));
  const runs = Number(process.env.BENCH_RUNS ?? 2);
  let stopServer = () => {};
  try {
    log(`building the chain in ${dir} (reused when present; BENCH_KEEP=1 keeps it)`);
    const top = buildChain(dir);
    log(`inputs hold ${allocatedMiB(dir).toFixed(0)} MiB of ${CAPACITY / MiB} MiB`);
    const inputs = readdirSync(dir).filter((f) => f.endsWith('.vmdk')).map((f) => path.join(dir, f));
    const preview = await startPreview(dist, port, log);
    stopServer = preview.stop;
    const outDir = path.join(work, 'out');
    mkdirSync(outDir, { recursive: true });
    const ref = path.join(outDir, 'ref.raw');
    const profile = path.join(work, 'profile');

    let q = Infinity;
    let refSha = '';
    let best: Run | null = null;
    let rssMax = 0;
    for (let i = 0; i < runs; i++) {
      warm(inputs);
      rmSync(ref, { force: true });
      const r = measure('qemu-img', ['convert', '-O', 'raw', top, ref]);
      q = Math.min(q, r.seconds);
      log(`qemu-img convert -O raw: ${r.seconds.toFixed(2)} s, ${r.peakRssMiB.toFixed(0)} MiB peak`);
      refSha ||= sha256File(ref);
      warm(inputs);
      const run = await exportOnce(preview.origin, profile, chromiumPath, inputs, log);
      if (run.sha !== refSha) throw new Error(`browser export sha256 ${run.sha} differs from qemu-img's ${refSha}`);
      if (!run.verified.startsWith('yes')) throw new Error(`browser export not verified: ${run.verified}`);
      if (run.outSize !== CAPACITY) throw new Error(`browser export wrote ${run.outSize} bytes, expected ${CAPACITY}`);
      for (const l of breakdown(run.timings)) log(`  ${l}`);
      log(`  RSS: page renderer peak ${Math.round(run.rss.pageMiB)} MiB (anonymous ${Math.round(run.rss.pageAnonMiB)} MiB); all renderers ${run.rss.each.join(' + ')} MiB; other Chromium processes ${Math.round(run.rss.othersHwmMiB)} MiB`);
      rssMax = Math.max(rssMax, run.rss.pageMiB);
      if (!best || run.seconds < best.seconds) best = run;
    }
    if (!best) return [];

    // Chromium's floors for each step alone (BENCH_FLOORS=0 skips them).
    let fl: Floors | null = null;
    if (process.env.BENCH_FLOORS !== '0') {
      const ctx = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: CHROMIUM_ARGS });
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        await page.goto(preview.origin + '/');
        warm(inputs);
        fl = await floors(page, inputs.reduce((a, b) => (statSync(a).size >= statSync(b).size ? a : b)));
      } finally {
        await ctx.close();
      }
    }
    const t = best.timings;
    const tsRate = (t['export:bytes-data'] ?? 0) / MiB / ((t['export:hash-data'] ?? 0) / 1000 || 1);
    const floorText = fl
      ? `Chromium floors, each alone in a bare worker: SHA-256 of the core ${tsRate.toFixed(0)} MiB/s (in the export) vs WebCrypto ${fl.webCrypto.toFixed(0)} MiB/s (native, one-shot); ` +
        `Blob reads (1 MiB slices, 16 in flight) ${fl.blobRead.toFixed(0)} MiB/s; FileSystemWritableFileStream writes of 256 KiB ${fl.stream256k.toFixed(0)} MiB/s, of 1 MiB ${fl.stream1m.toFixed(0)} MiB/s; OPFS sync access handle, 256 KiB writes ${fl.sync256k.toFixed(0)} MiB/s`
      : `SHA-256 of the core ${tsRate.toFixed(0)} MiB/s (in the export)`;
    log(floorText);

    const gib = CAPACITY / GiB;
    const capMiB = CAPACITY / MiB;
    const hashS = ((t['export:hash-data'] ?? 0) + (t['export:hash-zeros'] ?? 0) + (t['verify:hash-data'] ?? 0) + (t['verify:hash-zeros'] ?? 0)) / 1000;
    const verifyS = (t['verify:wall'] ?? 0) / 1000;
    const writeS = best.seconds - verifyS;
    const common = `best of ${runs}; sha256 shown by the page equals Node's sha256 of qemu-img's output; peak RSS = VmHWM of the page's renderer (page + workers), max over runs ${Math.round(rssMax)} MiB`;
    return [
      {
        name: `vmdk-export-browser-raw-${gib}g`,
        seconds: best.seconds,
        reference: 'qemu-img convert -O raw',
        referenceSeconds: q,
        ratio: best.seconds / q,
        peakRssMiB: Math.round(best.rss.pageMiB),
        notes:
          `${(capMiB / best.seconds).toFixed(0)} MiB/s of virtual disk (qemu-img ${(capMiB / q).toFixed(0)} MiB/s); with the verify pass; ${common}; ` +
          `SHA-256 ${hashS.toFixed(1)} s of it (${Math.round((100 * hashS) / best.seconds)} %); ${breakdown(t).join('; ')}; ` +
          `${floorText}; the output's holes were ${best.profileMiB < 0.9 * capMiB ? 'not written (sparse)' : 'WRITTEN OUT'}: the profile folder held ${best.profileMiB.toFixed(0)} MiB on disk after the ${capMiB} MiB export`,
      },
      {
        name: `vmdk-export-browser-raw-${gib}g-write-phase`,
        seconds: writeS,
        reference: 'qemu-img convert -O raw',
        referenceSeconds: q,
        ratio: writeS / q,
        peakRssMiB: Math.round(best.rss.pageMiB),
        notes: `${(capMiB / writeS).toFixed(0)} MiB/s of virtual disk; the same run without the verify pass's ${verifyS.toFixed(2)} s (the UI has no switch to turn it off); ${common}`,
      },
    ];
  } finally {
    stopServer();
    rmSync(work, { recursive: true, force: true });
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
}

export const vmdkExportBrowserBench: Bench = {
  name: 'vmdk-export-browser',
  description: `raw export in Chromium (save dialog into OPFS, verify pass on) of the ${CAPACITY / GiB} GiB COWD-over-flat chain of vmdk-export-raw vs qemu-img convert -O raw`,
  run: (log) => benchVmdkExportBrowser(log),
};
