import { expect, test, type Page } from '@playwright/test';
import { buildDeepDumps, type DeepDumps } from '../helpers/deep-dumps.js';
import { makeTempDir } from '../helpers/tools.js';
import { openDumpFiles, PREVIEW_ORIGIN, watchNetwork } from './helpers.js';

/**
 * "Deep scan" in the datastore view: on a VMFS5 dump whose GPT, LVM header and FS descriptor were
 * zeroed (the dump does not open), the scan finds the previous volume at the origin the builder
 * used; opened, it lists the builder's top-level folders. On the dump where a new empty datastore
 * was formatted over it, the old folders show under /lost+found and the overwritten file is flagged.
 * A scan cancelled part-way is resumed after a reload from where it stopped (its state kept in
 * IndexedDB), to the volumes a whole scan finds; a damaged saved state is refused and the scan
 * starts over.
 */
test.describe('deep scan', () => {
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeepDumps;

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    tmp = makeTempDir('deep-e2e-');
    d = await buildDeepDumps(tmp.dir, 5);
  });
  test.afterAll(() => tmp?.cleanup());

  test('a wiped dump: the previous volume is found and opens in the datastore view', async ({ page, context }) => {
    test.setTimeout(180_000);
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await page.goto('/');
    const view = await openDumpFiles(page, d.b);
    await expect(view.getByTestId('ds-error')).toBeVisible({ timeout: 60_000 });
    const panel = page.getByTestId('deep-scan');
    await panel.getByTestId('deep-start').click();
    const rows = panel.getByTestId('deep-row');
    await expect(rows).toHaveCount(1, { timeout: 120_000 });
    await expect(rows.first()).toHaveAttribute('data-state', 'previous');
    await expect(rows.first()).toContainText(`0x${d.origin.toString(16)}`);
    await expect(panel.getByTestId('deep-map')).toBeVisible();
    await rows.first().getByTestId('deep-open').click();
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    const top = d.manifest.entries.filter((e) => e.path !== '/' && e.path.lastIndexOf('/') === 0).map((e) => e.name);
    for (const name of top) await expect(view.locator(`[data-testid="ds-entry"][data-name="${name}"]`)).toBeVisible({ timeout: 60_000 });
    expect(foreign).toEqual([]);
  });

  /** Rows of the deep-scan table: UUID, state and origin as shown. */
  const rowsOf = (page: Page) =>
    page.getByTestId('deep-row').evaluateAll((trs) => trs.map((tr) => ({ uuid: tr.getAttribute('data-uuid'), state: tr.getAttribute('data-state'), text: tr.textContent })));

  /**
   * Starts a scan of dump (a) (GPT and LVM header wiped, FS descriptor intact) held back by the
   * read-delay test hook: each read waits, so the small dump takes at least `seconds`.
   */
  async function slowScan(page: Page, seconds: number): Promise<void> {
    const reads = Math.ceil(d.manifest.luns[0]!.size / (1088 * 1024));
    await page.goto(`/?deepReadDelayMs=${Math.min(1000, Math.max(5, Math.round((seconds * 1000) / reads)))}`);
    await openDumpFiles(page, d.a);
    await page.getByTestId('deep-start').click();
  }

  /** A slow scan cancelled once a quarter of it is done; returns the Resume button's bytes done and in all. */
  async function cancelledScan(page: Page): Promise<{ done: number; total: number }> {
    await slowScan(page, 12);
    const panel = page.getByTestId('deep-scan');
    await expect.poll(async () => Number(/(\d+)%/.exec((await panel.getByTestId('deep-status').textContent({ timeout: 1000 }).catch(() => '')) ?? '')?.[1] ?? 0), { timeout: 120_000 }).toBeGreaterThanOrEqual(25);
    await panel.getByTestId('deep-cancel').click();
    const resume = panel.getByTestId('deep-resume');
    await expect(resume).toBeVisible({ timeout: 60_000 });
    await expect(panel.getByTestId('deep-error')).toContainText('cancelled');
    const done = Number(await resume.getAttribute('data-done'));
    const total = Number(await resume.getAttribute('data-total'));
    expect(total).toBe(d.manifest.luns[0]!.size);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(total);
    return { done, total };
  }

  /** After a reload: the same dump picked again, its saved scan offered; the percentages the next scan shows are recorded. */
  async function pickAgain(page: Page, saved: { done: number; total: number }): Promise<void> {
    await page.reload();
    await openDumpFiles(page, d.a);
    const resume = page.getByTestId('deep-resume');
    await expect(resume).toBeVisible({ timeout: 60_000 });
    await expect(resume).toHaveAttribute('data-done', String(saved.done));
    await expect(resume).toContainText('scanned');
    await page.evaluate(() => {
      const w = window as unknown as { __deepPct: number[] };
      w.__deepPct = [];
      const panel = document.querySelector('[data-testid="deep-scan"]')!;
      new MutationObserver(() => {
        const m = /(\d+)%/.exec(panel.querySelector('[data-testid="deep-status"]')?.textContent ?? '');
        if (m && w.__deepPct.at(-1) !== Number(m[1])) w.__deepPct.push(Number(m[1]));
      }).observe(panel, { subtree: true, childList: true, characterData: true });
    });
  }

  /** Waits for the scan's final list (the metadata zone's early rows show before it ends). */
  const scanEnded = (page: Page) => expect(page.getByTestId('deep-start')).toHaveText('Deep scan again', { timeout: 120_000 });

  /**
   * Clicks Resume and waits for the final list: the one previous volume, with the builder's FS UUID
   * (dump a keeps its descriptor). Returns the rows and the first percentage the scan showed.
   */
  async function resumeToEnd(page: Page) {
    await page.getByTestId('deep-resume').click();
    await scanEnded(page);
    const rows = await rowsOf(page);
    expect(rows.map((r) => [r.uuid, r.state])).toEqual([[d.manifest.fsUuid, 'previous']]);
    const pct = await page.evaluate(() => (window as unknown as { __deepPct: number[] }).__deepPct);
    expect(pct.length).toBeGreaterThan(0);
    return { rows, firstPct: pct[0]! };
  }

  test('cancel, reload, pick the same dump: the scan resumes where it stopped and finds what a whole scan finds', async ({ page }) => {
    test.setTimeout(300_000);
    await page.goto('/');
    await openDumpFiles(page, d.a);
    const panel = page.getByTestId('deep-scan');
    await panel.getByTestId('deep-start').click();
    await scanEnded(page);
    await expect(panel.getByTestId('deep-row')).toHaveCount(1);
    const whole = await rowsOf(page);
    // The builder's FS UUID (the descriptor survives in dump a).
    expect(whole.map((r) => [r.uuid, r.state])).toEqual([[d.manifest.fsUuid, 'previous']]);
    await expect(panel.getByTestId('deep-resume')).toHaveCount(0);

    const saved = await cancelledScan(page);
    await pickAgain(page, saved);
    const { rows, firstPct } = await resumeToEnd(page);
    expect(rows).toEqual(whole);
    await expect(panel.getByTestId('deep-notice')).toHaveCount(0);
    // Its progress began at the saved position, not at 0.
    expect(firstPct).toBeGreaterThanOrEqual(Math.floor((100 * saved.done) / saved.total));
    // Finished: nothing is offered any more, after another reload either.
    await expect(panel.getByTestId('deep-resume')).toHaveCount(0);
    await page.reload();
    await openDumpFiles(page, d.a);
    await expect(panel.getByTestId('deep-start')).toHaveText('Deep scan');
    await expect(panel.getByTestId('deep-resume')).toHaveCount(0);
    expect(await storedDeepScans(page)).toEqual({ index: [], states: [] });
  });

  test('a reload while the scan runs (no cancel): it resumes from its last periodic checkpoint', async ({ page }) => {
    test.setTimeout(300_000);
    // Long enough (at least 30 s of reads) for the scan's 10 s checkpoint to land well before its end.
    await slowScan(page, 30);
    await expect.poll(async () => (await storedDeepScans(page)).states.length, { timeout: 120_000 }).toBe(1);
    const index = (await storedDeepScans(page)).index as { done: number; total: number }[];
    const saved = { done: index[0]!.done, total: index[0]!.total };
    expect(saved.total).toBe(d.manifest.luns[0]!.size);
    expect(saved.done).toBeGreaterThan(0);
    expect(saved.done).toBeLessThan(saved.total);
    await pickAgain(page, saved);
    const { firstPct } = await resumeToEnd(page);
    expect(firstPct).toBeGreaterThanOrEqual(Math.floor((100 * saved.done) / saved.total));
    expect(await storedDeepScans(page)).toEqual({ index: [], states: [] });
  });

  test('a damaged saved state is refused with a message, and the scan starts over', async ({ page }) => {
    test.setTimeout(300_000);
    const saved = await cancelledScan(page);
    const stored = await storedDeepScans(page);
    expect(stored.states).toHaveLength(1);
    const [key, text] = stored.states[0]!;
    const state = JSON.parse(text) as { next: { pos: number } };
    state.next.pos += 7; // no longer a sector boundary
    await putStored(page, key, JSON.stringify(state));

    await pickAgain(page, saved);
    const { firstPct } = await resumeToEnd(page);
    const panel = page.getByTestId('deep-scan');
    await expect(panel.getByTestId('deep-notice')).toContainText('next.pos is not a sector boundary');
    await expect(panel.getByTestId('deep-notice')).toContainText('starts from the beginning');
    // A fresh scan: its progress began below where the refused state had stopped.
    expect(firstPct).toBeLessThan(Math.floor((100 * saved.done) / saved.total));
    await expect(panel.getByTestId('deep-error')).toHaveCount(0);
    expect(await storedDeepScans(page)).toEqual({ index: [], states: [] });
  });

  test('a re-formatted dump: old folders under /lost+found, overwritten bytes flagged on the map', async ({ page }) => {
    test.setTimeout(180_000);
    await page.goto('/');
    const view = await openDumpFiles(page, d.c);
    await expect(view.getByTestId('ds-label')).toContainText(d.newManifest.label, { timeout: 60_000 });
    const panel = page.getByTestId('deep-scan');
    await panel.getByTestId('deep-start').click();
    await expect(panel.getByTestId('deep-row')).toHaveCount(2, { timeout: 120_000 });
    await panel.locator('[data-testid="deep-row"][data-state="previous"]').getByTestId('deep-open').click();
    await expect(view.locator('[data-testid="ds-entry"][data-name="lost+found"]')).toBeVisible({ timeout: 60_000 });
    await expect(view.getByTestId('overwritten-strip')).toContainText('written over', { timeout: 60_000 });
  });
});

/** The app's deep-scan records in idb-keyval's default store: the index and each [key, state text]. */
function storedDeepScans(page: Page): Promise<{ index: unknown; states: [string, string][] }> {
  return page.evaluate(
    () =>
      new Promise<{ index: unknown; states: [string, string][] }>((resolve, reject) => {
        const open = indexedDB.open('keyval-store');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const out = { index: undefined as unknown, states: [] as [string, string][] };
          const tx = open.result.transaction('keyval');
          const cur = tx.objectStore('keyval').openCursor();
          cur.onsuccess = () => {
            const c = cur.result;
            if (!c) return;
            const k = String(c.key);
            if (k === 'vmfs-rescue:deep-scans') out.index = c.value;
            else if (k.startsWith('vmfs-rescue:deep-scan:')) out.states.push([k, c.value as string]);
            c.continue();
          };
          tx.oncomplete = () => (open.result.close(), resolve(out));
          tx.onerror = () => reject(tx.error);
        };
      }),
  );
}

/** Writes `value` under `key` in idb-keyval's default store (a tampered record). */
function putStored(page: Page, key: string, value: string): Promise<void> {
  return page.evaluate(
    ([key, value]) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('keyval-store');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('keyval', 'readwrite');
          tx.objectStore('keyval').put(value, key);
          tx.oncomplete = () => (open.result.close(), resolve());
          tx.onerror = () => reject(tx.error);
        };
      }),
    [key, value] as const,
  );
}
