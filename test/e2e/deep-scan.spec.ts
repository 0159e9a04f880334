import { expect, test } from '@playwright/test';
import { buildDeepDumps, type DeepDumps } from '../helpers/deep-dumps.js';
import { makeTempDir } from '../helpers/tools.js';
import { openDumpFiles, PREVIEW_ORIGIN, watchNetwork } from './helpers.js';

/**
 * "Deep scan" in the datastore view: on a VMFS5 dump whose GPT, LVM header and FS descriptor were
 * zeroed (the dump does not open), the scan finds the previous volume at the origin the builder
 * used; opened, it lists the builder's top-level folders. On the dump where a new empty datastore
 * was formatted over it, the old folders show under /lost+found and the overwritten file is flagged.
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
