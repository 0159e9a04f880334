import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { addDecoys, type DecoyKind } from '../builders/recovery/decoys.js';
import { makeTempDir } from '../helpers/tools.js';
import { gotoStep, openDumpFiles } from './helpers.js';

/**
 * Free space full of decoys in the app: the scan (split across carve workers) still ends with the
 * real delta first, and the recovery panel lists the remnants that did not parse — their count, and
 * each kind at its volume offset — where the builder put the malformed decoys.
 */
test.describe('find lost snapshots among decoys', () => {
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;
  let placed: { block: number; kind: DecoyKind }[];

  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('recovery-rejected-e2e-');
    const dir = path.join(tmp.dir, 'dump');
    mkdirSync(dir);
    d = await buildDeletedDeltaDump({ dir, case: 'contiguous', seed: 47, reuse: true, noise: true, oracle: false });
    placed = addDecoys(d, dir, 47);
  });
  test.afterAll(() => tmp?.cleanup());

  test('the real delta ranks first and the rejected remnants are listed with kind and offset', async ({ page }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    const view = await openDumpFiles(page, d.dump);
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const rows = page.getByTestId('rec-candidate');
    await expect(rows.first()).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    await expect(rows.first()).toHaveAttribute('data-id', d.candidateId);

    const malformed: Partial<Record<DecoyKind, string>> = { 'cowd-garbage': 'cowd-header', 'kdmv-garbage': 'kdmv-header', 'sesparse-garbage': 'sesparse-header', 'descriptor-broken': 'descriptor-text' };
    const expected = placed.filter((p) => p.kind in malformed);
    const box = page.getByTestId('rec-rejected');
    const n = parseInt((await box.locator('summary').textContent()) ?? '', 10);
    expect(n).toBeGreaterThanOrEqual(expected.length);
    await box.locator('summary').click();
    const items = await box.locator('li').allTextContents();
    for (const p of expected) {
      const at = `0x${(p.block * d.manifest.blockSize).toString(16)}`;
      expect(items.some((t) => t.startsWith(`${malformed[p.kind]} at volume ${at}:`)), `${p.kind} at ${at} in ${items.join(' | ')}`).toBe(true);
    }
  });
});
