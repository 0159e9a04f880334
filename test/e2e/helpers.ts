import { createHash } from 'node:crypto';
import { expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';

/** Setup shared by the e2e specs: the network guard, OPFS read-back, the save-picker override, opening dumps. */

/** Bytes per page.evaluate round trip when reading OPFS back (base64 inside a JSON message). */
const CHUNK = 4 * 1024 * 1024;

/**
 * Records every request that leaves `origin` (the preview server; blob: and data: stay in the
 * page). The specs assert the list stays empty.
 */
export function watchNetwork(context: BrowserContext, origin: string): string[] {
  const foreign: string[] = [];
  context.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('blob:') || url.startsWith('data:')) return;
    if (new URL(url).origin !== origin) foreign.push(url);
  });
  return foreign;
}

/** Reads an OPFS file back to Node in chunks, calling `each` in order (all-zero chunks are only reported, not sent). */
export async function readOpfsFile(page: Page, folder: string, name: string, each: (chunk: Buffer) => void): Promise<number> {
  const size = await page.evaluate(
    async ({ folder, name }) => (await (await (await navigator.storage.getDirectory()).getDirectoryHandle(folder)).getFileHandle(name)).getFile().then((f) => f.size),
    { folder, name },
  );
  for (let off = 0; off < size; off += CHUNK) {
    const len = Math.min(CHUNK, size - off);
    const b64 = await page.evaluate(
      async ({ folder, name, off, len }) => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
        const f = await (await dir.getFileHandle(name)).getFile();
        const bytes = new Uint8Array(await f.slice(off, off + len).arrayBuffer());
        if (bytes.length !== len) throw new Error(`short read at ${off}`);
        const words = new Uint32Array(bytes.buffer, 0, bytes.length >>> 2);
        let zero = bytes.subarray(words.length * 4).every((b) => b === 0);
        for (let i = 0; zero && i < words.length; i++) zero = words[i] === 0;
        if (zero) return null;
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      },
      { folder, name, off, len },
    );
    each(b64 === null ? Buffer.alloc(len) : Buffer.from(b64, 'base64'));
  }
  return size;
}

/** SHA-256 of an OPFS file, hashed incrementally in Node (independent of the app's hashing). */
export async function hashOpfsFile(page: Page, folder: string, name: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  const size = await readOpfsFile(page, folder, name, (c) => h.update(c));
  return { sha256: h.digest('hex'), size };
}

/**
 * Makes showSaveFilePicker hand back a file in OPFS folder `folder` (the same type,
 * FileSystemFileHandle, the real dialog returns), named as suggested or `fallbackName`; the name
 * chosen is left in window.__savedName.
 */
export async function saveIntoOpfs(page: Page, folder: string, fallbackName: string): Promise<void> {
  await page.addInitScript(
    ({ folder, fallbackName }) => {
      const w = window as unknown as Record<string, unknown>;
      w.showSaveFilePicker = async (o?: { suggestedName?: string }) => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder, { create: true });
        w.__savedName = o?.suggestedName ?? fallbackName;
        return dir.getFileHandle(String(w.__savedName), { create: true });
      };
    },
    { folder, fallbackName },
  );
}

/**
 * Makes showDirectoryPicker hand back OPFS folder `folder` (created if needed; the same type,
 * FileSystemDirectoryHandle, the real dialog returns).
 */
export async function pickDirectoryInOpfs(page: Page, folder: string): Promise<void> {
  await page.addInitScript((folder) => {
    (window as unknown as Record<string, unknown>).showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle(folder, { create: true });
  }, folder);
}

/** The preview server's origin (playwright.config.ts serves on PW_PORT, default 4173). */
export const PREVIEW_ORIGIN = `http://127.0.0.1:${process.env.PW_PORT ?? 4173}`;

/**
 * A browser without the File System Access pickers (Firefox, Safari): the app must fall back to
 * <input type=file> and to OPFS plus a download.
 */
export async function withoutFilePickers(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.showOpenFilePicker = undefined;
    w.showSaveFilePicker = undefined;
    w.showDirectoryPicker = undefined;
  });
}

/**
 * Shows the open page (through the step navigation once something is open) with its datastore
 * dump controls, and returns the datastore workspace, where an opened dump shows.
 */
export async function showDatastoreView(page: Page): Promise<Locator> {
  const card = page.getByTestId('ds-open-card');
  if (!(await card.isVisible())) await page.getByTestId('step-open').click();
  await expect(card).toBeVisible();
  return page.getByTestId('ds-view');
}

/**
 * Opens dump file(s) through the open page's <input type=file> (Playwright hands the paths to
 * the local Chromium, nothing is copied) and returns the datastore workspace; the caller waits
 * for what it checks.
 */
export async function openDumpFiles(page: Page, files: string | string[]): Promise<Locator> {
  const view = await showDatastoreView(page);
  await page.getByTestId('ds-file-input').setInputFiles(files);
  return view;
}

/** One task of the page's renderer main thread, from a Chromium trace. */
export interface MainThreadTask {
  /** Page-independent trace clock, microseconds. */
  ts: number;
  /** Wall time of the task, ms. */
  wallMs: number;
  /** CPU time the main thread spent in it, ms: unlike wall time, it does not grow when the machine is busy. */
  cpuMs: number;
}

/**
 * Runs `fn` under a Chromium trace (category 'toplevel': one event per task with its wall `dur`
 * and thread-CPU `tdur`) and returns the renderer main thread's tasks. Checks on main-thread work
 * use `cpuMs`, so they hold on a loaded machine where wall-clock meters (Long Tasks API, tick
 * gaps) report tasks stretched by waiting for a core.
 */
export async function traceMainThread<T>(browser: Browser, page: Page, fn: () => Promise<T>): Promise<{ result: T; tasks: MainThreadTask[] }> {
  await browser.startTracing(page, { categories: ['toplevel'] });
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await browser.stopTracing().catch(() => undefined);
    throw e;
  }
  const raw = await browser.stopTracing();
  const parsed = JSON.parse(raw.toString('utf8')) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
  const main = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const tasks = events
    .filter((e) => e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask' && main.has(`${e.pid}:${e.tid}`) && typeof e.tdur === 'number')
    .map((e) => ({ ts: e.ts, wallMs: (e.dur ?? 0) / 1000, cpuMs: e.tdur! / 1000 }));
  return { result, tasks };
}

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/** Copies local files into OPFS folder `folder` inside the page (all-zero MiB chunks stay holes). */
export async function copyIntoOpfs(page: Page, folder: string, files: string[]): Promise<void> {
  await page.evaluate(() => {
    document.getElementById('e2e-src')?.remove();
    document.body.append(Object.assign(document.createElement('input'), { type: 'file', multiple: true, id: 'e2e-src', hidden: true }));
  });
  await page.locator('#e2e-src').setInputFiles(files);
  await page.evaluate(async (folder) => {
    const input = document.getElementById('e2e-src') as HTMLInputElement;
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder, { create: true });
    for (const f of [...(input.files ?? [])]) {
      const w = await (await dir.getFileHandle(f.name, { create: true })).createWritable();
      await w.truncate(f.size);
      for (let off = 0; off < f.size; off += 1 << 20) {
        const buf = await f.slice(off, off + (1 << 20)).arrayBuffer();
        const words = new Uint32Array(buf, 0, buf.byteLength >>> 2);
        let zero = new Uint8Array(buf, words.length * 4).every((b) => b === 0);
        for (let i = 0; zero && i < words.length; i++) zero = words[i] === 0;
        if (!zero) await w.write({ type: 'write', position: off, data: buf });
      }
      await w.close();
    }
    input.remove();
  }, folder);
}

/**
 * showOpenFilePicker hands back handles of OPFS files `names` in `folder` (kept across reloads).
 * window.__denyRead makes read permission refused: queryPermission says 'prompt' and
 * requestPermission 'denied' (counted in window.__permissionRequests).
 */
export async function pickerFromOpfs(page: Page, folder: string, names: string[]): Promise<void> {
  await page.addInitScript(
    ({ folder, names }) => {
      const w = window as unknown as Record<string, unknown>;
      w.showOpenFilePicker = async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
        return Promise.all(names.map((n) => dir.getFileHandle(n)));
      };
      w.__permissionRequests = 0;
      const proto = FileSystemHandle.prototype as unknown as Record<string, (this: unknown, d: unknown) => Promise<string>>;
      const query = proto.queryPermission;
      const request = proto.requestPermission;
      proto.queryPermission = function (d) {
        return w.__denyRead ? Promise.resolve('prompt') : query!.call(this, d);
      };
      proto.requestPermission = function (d) {
        w.__permissionRequests = Number(w.__permissionRequests) + 1;
        return w.__denyRead ? Promise.resolve('denied') : request!.call(this, d);
      };
    },
    { folder, names },
  );
}

/**
 * Shows a workflow step's view through the step navigation (each step is a view of its own; the
 * others are hidden), once the step can be reached.
 */
export async function gotoStep(page: Page, id: string): Promise<void> {
  const b = page.getByTestId(`step-${id}`);
  await expect(b).not.toHaveAttribute('aria-disabled', 'true', { timeout: 60_000 });
  await b.click();
  await expect(b).toHaveAttribute('aria-current', 'step');
}
