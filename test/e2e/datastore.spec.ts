import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { buildVmfs, standardBuild, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';
import { fixtureImage } from '../helpers/vmfs3-fixture.js';
import { hashOpfsFile, saveIntoOpfs, showDatastoreView, traceMainThread, watchNetwork, withoutFilePickers } from './helpers.js';

/**
 * The datastore view end to end, against the production build: the real ESX-written VMFS3 dump
 * (1.2 GB, handed to the page as a local file) is opened, listed, a chain inside it inspected,
 * and thick-flat.vmdk exported; its SHA-256 must equal `debugvmfs IMG cat` of the same file.
 */

const MiB = 1024 * 1024;
/** debugvmfs prints local times: pin UTC. */
const ORACLE_ENV = { ...process.env, TZ: 'UTC' };

const haveOracle = oracleAvailable('debugvmfs');

/** sha256 of `debugvmfs IMG cat PATH`, streamed. */
function debugvmfsCatSha(img: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    const child = spawn('debugvmfs', [img, 'cat', p]);
    child.stdout.on('data', (d: Buffer) => h.update(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(h.digest('hex')) : reject(new Error(`debugvmfs cat ${p} exited ${code}`))));
  });
}

/** `debugvmfs IMG show` (the FS descriptor); it exits 1 even when it prints, so only stdout counts. */
function debugvmfsField(img: string, key: string): string {
  const r = spawnSync('debugvmfs', [img, 'show'], { encoding: 'utf8', env: ORACLE_ENV });
  const v = new RegExp(`^\\s*${key}:\\s*(.*)$`, 'm').exec(r.stdout)?.[1]?.trim();
  if (!v) throw new Error(`debugvmfs show has no ${key}: ${r.stderr}`);
  return v;
}

/** Name → size from `debugvmfs IMG ls -l DIR`, without '.' and '..'. */
function debugvmfsLs(img: string, dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of run('debugvmfs', [img, 'ls', '-l', dir], { env: ORACLE_ENV }).split('\n')) {
    const m = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+ \S+\s(.*)$/.exec(l);
    if (m && m[2] !== '.' && m[2] !== '..') out.set(m[2]!, Number(m[1]));
  }
  return out;
}

/** Name → the time `debugvmfs IMG ls -l DIR` prints (TZ=UTC), without '.' and '..'. */
function debugvmfsTimes(img: string, dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of run('debugvmfs', [img, 'ls', '-l', dir], { env: ORACLE_ENV }).split('\n')) {
    const m = /^\S+\s+\d+\s+\S+\s+\S+\s+\d+\s+(\S+ \S+)\s(.*)$/.exec(l);
    if (m && m[2] !== '.' && m[2] !== '..') out.set(m[2]!, m[1]!);
  }
  return out;
}

test('open the real VMFS3 dump, list it, inspect a chain, export thick-flat.vmdk like debugvmfs cat', async ({ page, context, baseURL, browser }) => {
  test.skip(!haveOracle, 'debugvmfs missing');
  test.setTimeout(300_000);
  const img = await fixtureImage();
  const expectedSha = await debugvmfsCatSha(img, '/thick-flat.vmdk');
  const oracleLs = debugvmfsLs(img, '/');
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);

  await saveIntoOpfs(page, 'output', 'out.bin');
  await page.goto('/');
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));
  await showDatastoreView(page);
  const view = page.getByTestId('ds-view');

  // A 1.2 GB local file: Playwright hands the path to the local Chromium, nothing is copied.
  await page.getByTestId('ds-file-input').setInputFiles(img);
  await expect(view.getByTestId('ds-version')).toHaveText('VMFS-3.31', { timeout: 60_000 });
  await expect(view.getByTestId('ds-label')).toHaveText(debugvmfsField(img, 'Label'));
  await expect(view.getByTestId('ds-uuid')).toHaveText(debugvmfsField(img, 'UUID'));
  await expect(view.getByTestId('ds-size')).toContainText('1024 blocks of 1.00 MiB');
  await expect(view.getByTestId('ds-free')).toContainText('MiB', { timeout: 30_000 });
  await expect(view.getByTestId('ds-alloc-canvas')).toBeVisible({ timeout: 30_000 });
  await expect(view.getByTestId('ds-error')).toHaveCount(0);

  // The listing: the same names and sizes as debugvmfs ls -l /.
  const rows = view.getByTestId('ds-entry');
  await expect(rows).toHaveCount(oracleLs.size, { timeout: 30_000 });
  const listed = new Map<string, number>();
  for (const r of await rows.all()) {
    const name = String(await r.getAttribute('data-name'));
    const sizeTitle = String(await r.locator('td.num').first().getAttribute('title'));
    listed.set(name, Number(sizeTitle.replace(/ bytes$/, '')));
  }
  expect(listed).toEqual(oracleLs);
  // The time column shows the field debugvmfs ls -l prints, and its header says which one.
  const times = new Map<string, string>();
  for (const r of await rows.all()) times.set(String(await r.getAttribute('data-name')), (await r.locator('td.time').innerText()).trim());
  expect(times).toEqual(debugvmfsTimes(img, '/'));
  await expect(view.getByTestId('ds-files').locator('thead')).toContainText('ctime, UTC');
  // Chains are recognised: the descriptor is a top disk and its flat file is grouped under it.
  const thickRow = view.locator('[data-testid="ds-entry"][data-name="thick.vmdk"]');
  const flatRow = view.locator('[data-testid="ds-entry"][data-name="thick-flat.vmdk"]');
  await expect(thickRow).toContainText('disk descriptor (vmfs), top');
  await expect(flatRow).toContainText('extent of thick.vmdk');
  const names = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
  expect(names.indexOf('thick-flat.vmdk')).toBe(names.indexOf('thick.vmdk') + 1);
  // Every file of the fixture lives in '/': the breadcrumb shows the volume root.
  await expect(view.getByTestId('ds-breadcrumb')).toContainText(debugvmfsField(img, 'Label'));

  // Inspect the chain read straight out of the dump.
  await thickRow.getByTestId('ds-inspect').click();
  const links = view.getByTestId('ds-chain').getByTestId('chain-link');
  await expect(links).toHaveCount(1, { timeout: 30_000 });
  await expect(links.first()).toContainText('/thick.vmdk');
  await expect(links.first()).toContainText('flat');
  await expect(links.first()).toContainText('200 MiB');

  // Export thick-flat.vmdk through the (stubbed) save dialog. The page answers a click while the
  // worker copies, and no main-thread task does heavy work (CPU per task from a trace: wall-clock
  // meters failed on a loaded machine).
  const { tasks } = await traceMainThread(browser, page, async () => {
    await flatRow.getByTestId('ds-export').click();
    await expect(view.getByTestId('ds-progress')).toBeVisible({ timeout: 10_000 }).catch(() => {}); // may finish first
    await view.getByTestId('ds-alloc-toggle').click();
    await expect(view.getByTestId('ds-alloc-table')).toBeVisible();
    await expect(view.getByTestId('ds-result-sha256')).toHaveText(expectedSha, { timeout: 120_000 });
  });
  expect(tasks.length, 'main-thread tasks traced').toBeGreaterThan(0);
  expect(Math.max(...tasks.map((t) => t.cpuMs)), 'longest main-thread task during the export (ms CPU)').toBeLessThan(1000);
  await expect(view.getByTestId('ds-error')).toHaveCount(0);

  const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
  expect(saved).toBe('thick-flat.vmdk');
  const out = await hashOpfsFile(page, 'output', saved);
  expect(out.size).toBe(oracleLs.get('thick-flat.vmdk'));
  expect(out.sha256).toBe(expectedSha);

  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

test('without save pickers: a file and a merged chain from the dump go through browser storage to downloads', async ({ page, context, baseURL }) => {
  test.skip(!haveOracle, 'debugvmfs missing');
  test.setTimeout(300_000);
  const img = await fixtureImage();
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  await withoutFilePickers(page);
  await page.goto('/');
  await showDatastoreView(page);
  const view = page.getByTestId('ds-view');
  await expect(page.getByTestId('ds-open')).toHaveCount(0);
  await page.getByTestId('ds-file-input').setInputFiles(img);
  const descRow = view.locator('[data-testid="ds-entry"][data-name="thick.vmdk"]');
  await expect(descRow).toBeVisible({ timeout: 60_000 });

  // A small file: the descriptor, byte for byte as debugvmfs prints it.
  let download = page.waitForEvent('download', { timeout: 60_000 });
  await descRow.getByTestId('ds-export').click();
  let d = await download;
  expect(d.suggestedFilename()).toBe('thick.vmdk');
  const descSha = createHash('sha256').update(spawnSync('debugvmfs', [img, 'cat', '/thick.vmdk']).stdout).digest('hex');
  await expect(view.getByTestId('ds-result-sha256')).toHaveText(descSha);
  expect(run('sha256sum', [await d.path()]).split(/\s+/)[0]).toBe(descSha);

  // The chain of thick.vmdk, merged to a raw image: the flat extent's bytes.
  await descRow.getByTestId('ds-inspect').click();
  await expect(view.getByTestId('ds-chain').getByTestId('chain-link')).toHaveCount(1, { timeout: 30_000 });
  await view.getByTestId('ds-chain-format').selectOption('raw');
  download = page.waitForEvent('download', { timeout: 120_000 });
  await view.getByTestId('ds-chain-export').click();
  d = await download;
  expect(d.suggestedFilename()).toBe('thick-merged.img');
  const flatSha = await debugvmfsCatSha(img, '/thick-flat.vmdk');
  await expect(view.getByTestId('ds-result-sha256')).toHaveText(flatSha, { timeout: 120_000 });
  expect(run('sha256sum', [await d.path()]).split(/\s+/)[0]).toBe(flatSha);
  await expect(view.getByTestId('ds-error')).toHaveCount(0);
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('exports', { recursive: true }).catch(() => {})));
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

test('a file that holds no VMFS volume is refused in one line', async ({ page, context, baseURL }) => {
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  await page.goto('/');
  await showDatastoreView(page);
  const view = page.getByTestId('ds-view');
  await page.getByTestId('ds-file-input').setInputFiles({ name: 'not-a-lun.img', mimeType: 'application/octet-stream', buffer: Buffer.alloc(4 * MiB, 0x5a) });
  const error = view.getByTestId('ds-error');
  await expect(error).toContainText('not-a-lun.img', { timeout: 30_000 });
  expect((await error.innerText()).trim().split('\n').length).toBe(1);
  await expect(view.getByTestId('ds-volume')).toHaveCount(0);
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

/**
 * Synthetic volumes (test/builders/vmfs; expected names, sizes and hashes come from the build
 * inputs): a VMFS5 volume spanned over two GPT LUN dumps picked in reverse order, and a VMFS6
 * volume with VM folders and a hashed directory. Browse into folders and export a file.
 */
for (const kind of ['span5', 'vmfs6'] as const) {
  test(`synthetic ${kind}: open, browse into folders, export a file`, async ({ page, context, baseURL }) => {
    test.setTimeout(300_000);
    const { dir, cleanup } = makeTempDir(`vmfs-rescue-e2e-${kind}-`);
    try {
      const m: Manifest = await buildVmfs(standardBuild(kind, dir));
      const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
      const foreign = watchNetwork(context, origin);
      await saveIntoOpfs(page, 'output', 'out.bin');
      await page.goto('/');
      await showDatastoreView(page);
      const view = page.getByTestId('ds-view');
      const dumps = m.luns.map((l) => l.path).reverse();
      if (kind === 'span5') {
        await page.getByTestId('ds-file-input').setInputFiles(dumps);
      } else {
        // Through the "Open datastore dump" button: the open dialog returns handles of local files.
        await page.evaluate(() => {
          const input = Object.assign(document.createElement('input'), { type: 'file', multiple: true, id: 'e2e-dumps', hidden: true });
          document.body.append(input);
          (window as unknown as Record<string, unknown>).showOpenFilePicker = async () =>
            [...(input.files ?? [])].map((f) => ({ kind: 'file', name: f.name, getFile: async () => f }));
        });
        await page.locator('#e2e-dumps').setInputFiles(dumps);
        await page.getByTestId('ds-open').click();
      }
      await expect(view.getByTestId('ds-label')).toHaveText(m.label, { timeout: 60_000 });
      await expect(view.getByTestId('ds-version')).toContainText(`VMFS-${m.version}.`);
      await expect(view.getByTestId('ds-holes')).toHaveCount(0);
      await expect(view.getByTestId('ds-error')).toHaveCount(0);

      const children = (folder: string) =>
        new Map(m.entries.filter((e) => e.path.startsWith(`${folder}/`) && !e.path.slice(folder.length + 1).includes('/')).map((e) => [e.name, e.size]));
      const listed = async (): Promise<Map<string, number>> => {
        const out = new Map<string, number>();
        for (const r of await view.getByTestId('ds-entry').all()) {
          out.set(String(await r.getAttribute('data-name')), Number(String(await r.locator('td.num').first().getAttribute('title')).replace(/ bytes$/, '')));
        }
        return out;
      };
      const enter = async (name: string) => {
        await view.locator(`[data-testid="ds-entry"][data-name="${name}"]`).getByTestId('ds-enter').click();
        await expect(view.getByTestId('ds-breadcrumb')).toContainText(name);
      };
      const folder = kind === 'span5' ? 'span' : 'vm1';
      const file = kind === 'span5' ? 'big-flat.vmdk' : 'vm1.vmx';
      await enter(folder);
      const want = children(`/${folder}`);
      await expect(view.getByTestId('ds-entry')).toHaveCount(want.size, { timeout: 30_000 });
      expect(await listed()).toEqual(want);
      if (kind === 'vmfs6') {
        await expect(view.getByTestId('ds-vm-folder')).toBeVisible();
        // Back to the root through the breadcrumb, then into the hashed directory of 40 files.
        await view.getByTestId('ds-breadcrumb').getByRole('button', { name: m.label }).click();
        await enter('many');
        await expect(view.getByTestId('ds-entry')).toHaveCount(children('/many').size, { timeout: 30_000 });
        expect(await listed()).toEqual(children('/many'));
        await view.getByTestId('ds-breadcrumb').getByRole('button', { name: m.label }).click();
        await enter(folder);
      }

      const entry = m.entries.find((e) => e.path === `/${folder}/${file}`)!;
      const exportButton = view.locator(`[data-testid="ds-entry"][data-name="${file}"]`).getByTestId('ds-export');
      if (kind === 'span5') {
        // 600 MiB: long enough to cancel. The save dialog's file must not receive a partial copy.
        await exportButton.click();
        await expect(view.getByTestId('ds-progress')).toBeVisible();
        await view.getByTestId('ds-cancel').click();
        await expect(view.getByText('Cancelled.')).toBeVisible({ timeout: 20_000 });
        await expect(view.getByTestId('ds-result')).toHaveCount(0);
        await expect(view.getByTestId('ds-error')).toHaveCount(0);
        const size = await page.evaluate(async (n) => {
          const d = await (await navigator.storage.getDirectory()).getDirectoryHandle('output');
          return (await (await d.getFileHandle(n)).getFile()).size;
        }, file);
        expect(size).toBe(0);
      }
      await exportButton.click();
      await expect(view.getByTestId('ds-result-sha256')).toHaveText(entry.sha256!, { timeout: 120_000 });
      const out = await hashOpfsFile(page, 'output', file);
      expect(out).toEqual({ sha256: entry.sha256, size: entry.size });
      await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));
      expect(foreign, 'requests outside the preview server').toEqual([]);
    } finally {
      cleanup();
    }
  });
}
