import { expect, test } from '@playwright/test';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir } from '../helpers/tools.js';
import { gotoStep, openDumpFiles } from './helpers.js';

/**
 * Candidates from file-system metadata come before the free-space search ends: on a VMFS5 dump
 * whose deleted delta left its freed FD (the builder's fd-intact case) and another VM's deleted
 * delta that only carving finds (noise), the carve is held back by the test hook
 * (?scanRangeDelayMs=) so it is certainly still running when the early list must show the FD's
 * candidate, marked provisional and without the carved one. The final list then replaces it: the
 * carved delta is added and the user's choices made on the early list (candidate, parent 'none')
 * are kept, and the user, gone to another step meanwhile, stays there. No timing is asserted.
 */

test.describe('early candidates from metadata', () => {
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    tmp = makeTempDir('early-candidates-e2e-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'fd-intact', seed: 61, reuse: false, noise: true, oracle: false });
  });
  test.afterAll(() => tmp?.cleanup());

  test("the scan's read-ahead waits for the Find view: nothing of it runs while the user browses the volume", async ({ page }) => {
    test.setTimeout(120_000);
    await page.goto('/');
    await openDumpFiles(page, d.dump);
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    const prepared = () => page.evaluate(() => performance.getEntriesByName('vmfs-rescue:scan:prepare').length);
    await page.waitForTimeout(1500);
    expect(await prepared(), 'no read-ahead on the volume view').toBe(0);
    await gotoStep(page, 'find');
    await expect.poll(prepared, { timeout: 60_000 }).toBe(1);
    // Done once per opened dump.
    await gotoStep(page, 'volume');
    await gotoStep(page, 'find');
    await page.waitForTimeout(500);
    expect(await prepared()).toBe(1);
  });

  test('the freed-FD candidate is listed while the carve runs; the final list keeps the choice made on it', async ({ page }) => {
    test.setTimeout(180_000);
    const carvedId = `delta-${d.foreignHeaderBlock}`;
    expect(d.foreignHeaderBlock).not.toBeNull();
    // One range carved by the datastore worker after its metadata pass, held 6 s after its reads:
    // until it lands, no carved evidence exists, so a list shown before is from metadata alone.
    await page.goto('/?scanWorkers=1&scanRanges=1&scanRangeDelayMs=6000');
    await openDumpFiles(page, d.dump);
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await expect(page.getByTestId('rec-find')).toBeEnabled();

    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const early = page.getByTestId('rec-early-candidate');
    await expect(early.first()).toBeVisible({ timeout: 60_000 });
    // Read in one go while the carve is certainly running (its ranges are not all done).
    const during = await page.evaluate(() => ({
      ids: [...document.querySelectorAll('[data-testid="rec-early-candidate"]')].map((r) => r.getAttribute('data-id')),
      finalRows: document.querySelectorAll('[data-testid="rec-candidate"]').length,
      provisional: document.querySelector('[data-testid="rec-provisional"]')?.textContent ?? null,
      cancel: !!document.querySelector('[data-testid="rec-cancel"]'),
      done: Number(document.querySelector('[data-testid="rec-ranges"]')?.getAttribute('data-done')),
      total: Number(document.querySelector('[data-testid="rec-ranges"]')?.getAttribute('data-total')),
    }));
    expect(during.cancel).toBe(true);
    expect(during.done).toBeLessThan(during.total);
    expect(during.ids).toEqual([d.candidateId]);
    expect(during.finalRows).toBe(0);
    expect(during.provisional).toContain('free-space search goes on');

    // The early candidate is usable: its evidence is the freed FD, and the user picks no parent.
    const sel = page.getByTestId('rec-selected');
    await expect(sel).toHaveAttribute('data-id', d.candidateId);
    await expect(sel.getByTestId('rec-evidence').locator('li[data-kind="freed-fd"]')).not.toHaveCount(0);
    await expect(sel.getByTestId('rec-evidence').locator('li[data-kind="carved-header"]')).toHaveCount(0);
    await gotoStep(page, 'check');
    await page.getByTestId('rec-parent').selectOption('');

    // The final list lands while the user is on another step: it does not pull them back.
    const rows = page.getByTestId('rec-candidate');
    await expect(rows.first()).toBeAttached({ timeout: 120_000 });
    await page.waitForTimeout(500); // the reveal would come a frame after the list
    await expect(page.getByTestId('step-check')).toHaveAttribute('aria-current', 'step');
    await gotoStep(page, 'find');

    // The final list: both deltas, the carved one found by the free-space pass, the choices kept.
    await expect(rows.first()).toBeVisible();
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    await expect(page.getByTestId('rec-provisional')).toHaveCount(0);
    await expect(early).toHaveCount(0);
    const ids = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')));
    expect(ids.sort()).toEqual([d.candidateId, carvedId].sort());
    await expect(page.getByTestId('rec-ranges')).toHaveAttribute('data-done', '1');
    await expect(sel).toHaveAttribute('data-id', d.candidateId);
    await expect(page.getByTestId('rec-parent')).toHaveValue('');
    await expect(sel.getByTestId('rec-evidence').locator('li[data-kind="carved-header"]')).not.toHaveCount(0);
  });
});
