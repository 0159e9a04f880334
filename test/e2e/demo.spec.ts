import { expect, test } from '@playwright/test';
import { hashOpfsFile, saveIntoOpfs, watchNetwork } from './helpers.js';

/**
 * The built-in demo end to end, against the production build: "Try the demo" generates a datastore
 * dump in the tab (no file, no network), the user finds the deleted snapshot delta and exports it
 * raw; the exported disk must hash to what the demo generator predicts (shown in its guide,
 * computed from the generator's own inputs, never by the recovery code), all within a minute.
 */

test('try the demo: find the deleted delta and export it with the predicted sha256, in under a minute', async ({ page, context, baseURL }) => {
  test.setTimeout(120_000);
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  await saveIntoOpfs(page, 'demo-output', 'out.bin');
  await page.goto('/');
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('demo-output', { recursive: true }).catch(() => {})));

  const t0 = Date.now();
  await page.getByTestId('try-demo').click();
  const guide = page.getByTestId('demo-guide');
  await expect(guide).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('ds-version')).toContainText('VMFS-5');
  const expected = (await guide.getAttribute('data-expected-sha256'))!;
  const candidate = (await guide.getAttribute('data-candidate'))!;
  expect(expected).toMatch(/^[0-9a-f]{64}$/);
  await expect(page.getByTestId('demo-expected-sha256')).toHaveText(expected);
  // The VM folder is there, as a newcomer would browse it.
  await expect(page.getByTestId('ds-view')).toContainText('demo-vm');

  await page.getByTestId('rec-find').click();
  const rows = page.getByTestId('rec-candidate');
  await expect(rows.first()).toHaveAttribute('data-id', candidate, { timeout: 30_000 });
  await expect(page.getByTestId('rec-error')).toHaveCount(0);
  const sel = page.getByTestId('rec-selected');
  await expect(sel).toHaveAttribute('data-id', candidate);
  await expect(sel.getByTestId('rec-lost-run')).not.toHaveCount(0);
  await sel.getByTestId('rec-format').selectOption('raw');
  await sel.getByTestId('rec-export').click();
  await expect(sel.getByTestId('rec-sha256')).toHaveText(/^[0-9a-f]{64}$/, { timeout: 40_000 });
  expect(await sel.getByTestId('rec-sha256').textContent()).toBe(expected);
  const elapsed = Date.now() - t0;
  expect(elapsed).toBeLessThan(60_000);

  const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
  const out = await hashOpfsFile(page, 'demo-output', saved);
  expect(out.sha256).toBe(expected);
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('demo-output', { recursive: true }).catch(() => {})));
  expect(foreign).toEqual([]);
  console.log(`demo end to end in ${elapsed} ms`);
});
