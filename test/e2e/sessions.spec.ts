import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { buildCowdDelta } from '../builders/cowd.js';
import { buildFlatBase } from '../builders/delta-common.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir, oracleAvailable } from '../helpers/tools.js';
import { copyIntoOpfs, gotoStep, pickerFromOpfs, showDatastoreView, watchNetwork } from './helpers.js';

/**
 * Recent sessions, against the production build: files opened through the open picker (here
 * overridden to hand back OPFS file handles: the same FileSystemFileHandle type the real dialog
 * returns, and storable in IndexedDB) are listed on the next page load and reopen from there. A
 * datastore scan interrupted by a reload resumes where it stopped and ends with the candidates of
 * an uninterrupted scan; a refused permission and a changed file each say what to do.
 */

const MiB = 1024 * 1024;
const haveOracle = oracleAvailable('qemu-img'); // the deleted-delta builder computes its hashes with qemu-img

/** Candidate rows as the table shows them (id, confidence, recoverable and lost grains). */
async function candidateRows(page: Page): Promise<string[]> {
  return page.getByTestId('rec-candidate').evaluateAll((rs) => rs.map((r) => [...r.querySelectorAll('td')].slice(1).map((t) => t.textContent?.trim()).join(' | ')));
}

test.describe('recent sessions: datastore dump', () => {
  test.skip(!haveOracle, 'qemu-img missing');
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;
  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('sessions-e2e-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 44, reuse: true, noise: true });
  });
  test.afterAll(() => tmp?.cleanup());

  test('a scan interrupted by a reload resumes from the recent session and ends with the candidates of an uninterrupted scan', async ({ page, context, baseURL }) => {
    test.setTimeout(300_000);
    const foreign = watchNetwork(context, new URL(baseURL ?? 'http://127.0.0.1:4173').origin);
    const name = path.basename(d.dump);
    await pickerFromOpfs(page, 'sessions-in', [name]);

    // Reference: one uninterrupted scan, the dump picked with the classic dialog (no handle).
    await page.goto('/?scanWorkers=1&scanRanges=1');
    await showDatastoreView(page);
    await page.getByTestId('ds-file-input').setInputFiles(d.dump);
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    const reference = await candidateRows(page);

    // The same dump as an OPFS file, opened through "Open datastore dump" (a handle), scanned slowly.
    await copyIntoOpfs(page, 'sessions-in', [d.dump]);
    const TOTAL = 16;
    await page.goto(`/?scanWorkers=2&scanRanges=${TOTAL}&scanRangeDelayMs=500`);
    await showDatastoreView(page);
    await page.getByTestId('ds-open').click();
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const g = page.getByTestId('rec-ranges');
    await expect(g).toHaveAttribute('data-done', /^([3-9]|1[0-2])$/, { timeout: 60_000 });
    const seen = Number(await g.getAttribute('data-done'));
    await expect(page.getByTestId('recent-session')).toHaveCount(2);
    await page.reload();

    // Fresh page: nothing open; the recent list has the handle session (newest) and the one without a handle.
    await expect(page.getByTestId('ds-version')).toHaveCount(0);
    const entries = page.getByTestId('recent-session');
    await expect(entries).toHaveCount(2);
    const withHandle = entries.nth(0);
    await expect(withHandle).toHaveAttribute('data-reopenable', 'true');
    await expect(withHandle).toHaveAttribute('data-kind', 'datastore');
    await expect(withHandle.getByTestId('recent-files')).toContainText(name);
    const left = withHandle.getByTestId('recent-scan');
    await expect(left).toHaveAttribute('data-total', String(TOTAL));
    expect(Number(await left.getAttribute('data-done'))).toBeGreaterThanOrEqual(seen);
    const noHandle = entries.nth(1);
    await expect(noHandle).toHaveAttribute('data-reopenable', 'false');
    await expect(noHandle.getByTestId('recent-nohandle')).toContainText('picked without a handle: pick again');
    await expect(noHandle.getByTestId('recent-reopen')).toHaveCount(0);

    // Reopen: the dump opens and the scan continues by itself from where it stopped.
    await withHandle.getByTestId('recent-reopen').click();
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await expect(page.getByTestId('recent-message')).toContainText(/resumes from \d+ of 16 ranges/);
    const resumed = page.getByTestId('rec-resumed');
    await gotoStep(page, 'find');
    await expect(resumed).toBeVisible({ timeout: 60_000 });
    const from = Number(await g.getAttribute('data-resumed'));
    expect(from).toBeGreaterThanOrEqual(seen);
    expect(from).toBeLessThan(TOTAL);
    await expect(resumed).toContainText(`${from} of ${TOTAL} ranges were already done`);
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await expect(g).toHaveAttribute('data-done', String(TOTAL));
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    await expect(page.getByTestId('ds-error')).toHaveCount(0);
    expect(await candidateRows(page)).toEqual(reference);

    // Finished: after another reload the session is still listed, with no unfinished scan.
    await page.reload();
    await expect(page.getByTestId('recent-session').first()).toHaveAttribute('data-reopenable', 'true');
    await expect(page.getByTestId('recent-session').first().getByTestId('recent-scan')).toHaveCount(0);

    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('sessions-in', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  });

  test('reopening says what to do when read permission is refused or the file changed, and an entry can be removed', async ({ page, context, baseURL }) => {
    test.setTimeout(180_000);
    const foreign = watchNetwork(context, new URL(baseURL ?? 'http://127.0.0.1:4173').origin);
    const name = path.basename(d.dump);
    await pickerFromOpfs(page, 'sessions-in2', [name]);
    await page.goto('/');
    await copyIntoOpfs(page, 'sessions-in2', [d.dump]);
    await showDatastoreView(page);
    await page.getByTestId('ds-open').click();
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    // The session is saved once the dump is open (the list shows it): only then reload.
    await expect(page.getByTestId('recent-session')).toHaveCount(1);
    await page.reload();

    // Refused: asked inside the click, nothing opens, the message says what happened and what next.
    await page.evaluate(() => ((window as unknown as Record<string, unknown>).__denyRead = true));
    const entry = page.getByTestId('recent-session').first();
    await entry.getByTestId('recent-reopen').click();
    const msg = entry.getByTestId('recent-message');
    await expect(msg).toHaveAttribute('data-error', 'true');
    await expect(msg).toContainText(`Permission to read ${name} was not granted`);
    await expect(msg).toContainText('click Reopen again and allow access');
    expect(await page.evaluate(() => (window as unknown as Record<string, unknown>).__permissionRequests)).toBe(1);
    await expect(page.getByTestId('ds-version')).toHaveCount(0);

    // Changed since: the file grew by a sector.
    await page.evaluate(() => ((window as unknown as Record<string, unknown>).__denyRead = false));
    const size = await page.evaluate(async (n) => {
      const h = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('sessions-in2')).getFileHandle(n);
      const f = await h.getFile();
      const w = await h.createWritable({ keepExistingData: true });
      await w.truncate(f.size + 512);
      await w.close();
      return f.size;
    }, name);
    await entry.getByTestId('recent-reopen').click();
    await expect(msg).toContainText(`${name} changed since this session was saved (its size was ${size} bytes and is now ${size + 512})`);
    await expect(msg).toContainText('Open datastore dump');
    await expect(page.getByTestId('ds-version')).toHaveCount(0);

    // Gone: the file was deleted.
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('sessions-in2', { recursive: true })));
    await entry.getByTestId('recent-reopen').click();
    await expect(msg).toContainText(`${name} is no longer where it was`);

    await entry.getByTestId('recent-remove').click();
    await expect(page.getByTestId('recent-session')).toHaveCount(0);
    await page.reload();
    await expect(page.getByTestId('recent-sessions')).toHaveCount(0);
    expect(foreign).toEqual([]);
  });
});

test.describe('recent sessions: VMDK files', () => {
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let files: string[] = [];
  test.beforeAll(() => {
    tmp = makeTempDir('sessions-vmdk-e2e-');
    const capacity = 2 * MiB;
    const base = buildFlatBase(tmp.dir, 'base', capacity, [{ firstGrain: 0, count: 8, kind: 'data', fill: (b) => b.fill(0x5a) }], 64 * 1024);
    buildCowdDelta({ dir: tmp.dir, name: 'base-000001', capacity, writes: [{ offset: 4096, length: 8192, pattern: 0x33 }], parentFileNameHint: 'base.vmdk', parentCid: base.cid });
    files = readdirSync(tmp.dir).filter((f) => f.endsWith('.vmdk'));
  });
  test.afterAll(() => tmp?.cleanup());

  test('a VMDK set opened through the picker reopens after a reload, with the chosen top', async ({ page, context, baseURL }) => {
    test.setTimeout(120_000);
    const foreign = watchNetwork(context, new URL(baseURL ?? 'http://127.0.0.1:4173').origin);
    await pickerFromOpfs(page, 'sessions-vmdk', files);
    await page.goto('/');
    await copyIntoOpfs(page, 'sessions-vmdk', files.map((f) => path.join(tmp!.dir, f)));
    await page.getByTestId('pick-files').click();
    await expect(page.getByTestId('chain-link')).toHaveCount(2, { timeout: 30_000 });
    await expect(page.getByTestId('top-select')).toHaveValue('base-000001.vmdk');
    // Choose the base as top: the session remembers the choice.
    await page.getByTestId('top-select').selectOption('base.vmdk');
    await expect(page.getByTestId('chain-link')).toHaveCount(1, { timeout: 30_000 });
    await expect(page.getByTestId('recent-session')).toHaveCount(1);
    // The choice is stored asynchronously: reload only once the session record holds it (a reload
    // before that reopens the previous top, which made this test flaky).
    await expect.poll(() => storedSessionTops(page), { timeout: 10_000 }).toEqual(['base.vmdk']);

    await page.reload();
    await expect(page.getByTestId('chain-link')).toHaveCount(0);
    const entry = page.getByTestId('recent-session').first();
    await expect(entry).toHaveAttribute('data-kind', 'vmdk');
    await expect(entry).toHaveAttribute('data-reopenable', 'true');
    await entry.getByTestId('recent-reopen').click();
    await expect(page.getByTestId('top-select')).toHaveValue('base.vmdk', { timeout: 30_000 });
    await expect(page.getByTestId('chain-link')).toHaveCount(1, { timeout: 30_000 });
    await expect(page.getByTestId('chain-link').first()).toContainText('base.vmdk');
    await expect(page.getByTestId('error')).toHaveCount(0);
    await expect(page.getByTestId('recent-session')).toHaveCount(1);

    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('sessions-vmdk', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  });

  test('a VMDK folder opened through the folder picker reopens after a reload', async ({ page, context, baseURL }) => {
    test.setTimeout(120_000);
    const foreign = watchNetwork(context, new URL(baseURL ?? 'http://127.0.0.1:4173').origin);
    await page.addInitScript(() => {
      // The folder picker hands back an OPFS folder: the same type (FileSystemDirectoryHandle) the real one returns.
      (window as unknown as Record<string, unknown>).showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('sessions-vmdk-dir');
    });
    await page.goto('/');
    await copyIntoOpfs(page, 'sessions-vmdk-dir', files.map((f) => path.join(tmp!.dir, f)));
    await page.getByTestId('pick-folder').click();
    await expect(page.getByTestId('chain-link')).toHaveCount(2, { timeout: 30_000 });
    await expect(page.getByTestId('recent-files')).toContainText('folder sessions-vmdk-dir');

    await page.reload();
    const entry = page.getByTestId('recent-session').first();
    await expect(entry).toHaveAttribute('data-kind', 'vmdk');
    await expect(entry.getByTestId('recent-files')).toContainText('folder sessions-vmdk-dir');
    await entry.getByTestId('recent-reopen').click();
    await expect(page.getByTestId('chain-link')).toHaveCount(2, { timeout: 30_000 });
    await expect(page.getByTestId('top-select')).toHaveValue(/base-000001\.vmdk$/);
    await expect(page.getByTestId('error')).toHaveCount(0);

    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('sessions-vmdk-dir', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  });
});

/** The `top` of every stored session (idb-keyval's default store, the app's sessions key). */
function storedSessionTops(page: Page): Promise<(string | null)[]> {
  return page.evaluate(
    () =>
      new Promise<(string | null)[]>((resolve, reject) => {
        const open = indexedDB.open('keyval-store');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('keyval').objectStore('keyval').get('vmfs-rescue:sessions');
          get.onerror = () => reject(get.error);
          get.onsuccess = () => resolve(((get.result ?? []) as { top: string | null }[]).map((r) => r.top));
        };
      }),
  );
}
