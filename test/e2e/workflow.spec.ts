import { expect, test } from '@playwright/test';
import { hashOpfsFile, saveIntoOpfs, watchNetwork } from './helpers.js';
import { checkView, expectPaneScrolls, expectShownAndFocused } from './ui-checks.js';

/**
 * The workflow layout as a newcomer meets it, at the two sizes the app must fit (1280×800 and
 * 1024×768), in both themes: the open page leads with the job, the demo goes Volume → Find lost
 * data → Check → Export with the step navigation saying where the user is and what is done; after
 * each action its result is inside the viewport and has the focus; each step is a view of its own
 * (the navigation switches views and moves the focus to the view's heading); on every view the
 * page fits the window and does not scroll (the view's panes do), no word is broken across lines,
 * axe finds no serious or critical violation; a screenshot of each view is kept in
 * test-results/screenshots/.
 */

for (const vp of [
  { width: 1280, height: 800 },
  { width: 1024, height: 768 },
]) {
  const size = `${vp.width}x${vp.height}`;
  test(`workflow at ${size}: open page, volume, find, check, look inside, export; in view, focused, axe clean`, async ({ page, context, baseURL }, info) => {
    test.setTimeout(480_000);
    const foreign = watchNetwork(context, new URL(baseURL ?? 'http://127.0.0.1:4173').origin);
    await page.setViewportSize(vp);
    await saveIntoOpfs(page, 'wf-output', 'out.bin');
    await page.goto('/');
    await page.evaluate(() => {
      localStorage.removeItem('vmfs-rescue-theme');
      return navigator.storage.getDirectory().then((r) => r.removeEntry('wf-output', { recursive: true }).catch(() => {}));
    });
    await page.reload();
    const step = (id: string) => page.getByTestId(`step-${id}`);

    // The open page: the datastore dump first and in view, the demo an action button; step 1 is current.
    await expect(page.getByTestId('ds-open-card')).toBeInViewport();
    await expect(page.getByTestId('ds-open-card')).toContainText('Datastore dump');
    await expect(page.getByRole('button', { name: 'Try the demo' })).toBeInViewport();
    await expect(step('open')).toHaveAttribute('aria-current', 'step');
    await expect(step('find')).toHaveAttribute('aria-disabled', 'true');
    await checkView(page, info, size, '1-open');

    // Volume: the demo opens in the workspace; the volume step is current, open is done.
    await page.getByTestId('try-demo').click();
    const guide = page.getByTestId('demo-guide');
    await expect(guide).toBeVisible({ timeout: 60_000 });
    await expect(guide).toBeInViewport();
    const expected = (await guide.getAttribute('data-expected-sha256'))!;
    const candidate = (await guide.getAttribute('data-candidate'))!;
    await expect(step('open')).toHaveAttribute('data-done', 'true');
    await expect(step('volume')).toHaveAttribute('aria-current', 'step');
    await expect(page.getByTestId('ds-alloc-canvas')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('ds-dumps')).not.toContainText('bare at');
    // The volume view: files in one pane, the volume's details (guide, facts, map, bytes) in the
    // other, which scrolls on its own; only this step's view shows.
    await expect(page.getByTestId('ds-files')).toBeInViewport();
    await expectPaneScrolls(page, 'ds-side-pane');
    await expect(page.locator('#rec-h')).toBeHidden();
    await checkView(page, info, size, '2-volume');

    // Inspect a chain of the volume: the chain shows in view, focused.
    await page.locator('[data-testid="ds-entry"][data-name="demo-vm"]').getByTestId('ds-enter').click();
    const top = page.locator('[data-testid="ds-entry"]').filter({ has: page.getByTestId('ds-inspect') }).first();
    await top.getByTestId('ds-inspect').click();
    await expect(page.getByTestId('ds-chain').getByTestId('chain-link').first()).toBeVisible({ timeout: 30_000 });
    await expectShownAndFocused(page, 'ds-chain', 'the chain of the inspected disk');
    await checkView(page, info, size, '2b-chain');

    // Find lost data: from the step navigation (by keyboard: the view switches and its heading
    // takes the focus), then the scan; its results in view and focused.
    await step('find').focus();
    await page.keyboard.press('Enter');
    await expect(step('find')).toHaveAttribute('aria-current', 'step');
    await expect(page.locator('#rec-h')).toBeInViewport();
    await expect(page.locator('#rec-h')).toBeFocused();
    await expect(page.getByTestId('ds-files')).toBeHidden();
    await expect(step('volume')).toHaveAttribute('data-done', 'true');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', candidate, { timeout: 60_000 });
    await expectShownAndFocused(page, 'rec-results', 'the scan results');
    await expect(step('find')).toHaveAttribute('data-done', 'true');
    await checkView(page, info, size, '3-find');

    // Check: the row's Check button shows the candidate, focused, and the step is current.
    await page.locator(`[data-testid="rec-candidate"][data-id="${candidate}"]`).getByTestId('rec-check-button').click();
    await expect(page.locator('#rec-sel-h')).toBeInViewport();
    await expect(page.locator('#rec-sel-h')).toBeFocused();
    await expect(step('check')).toHaveAttribute('aria-current', 'step');
    await expect(page.getByTestId('rec-damage').getByRole('heading', { name: 'Damage map' })).toBeVisible();
    await checkView(page, info, size, '4-check');

    // Look inside: the recovered disk's view in the viewport, focused.
    await page.getByTestId('rec-look').click();
    await expect(page.getByTestId('rec-look-inside')).toBeVisible({ timeout: 60_000 });
    await expectShownAndFocused(page, 'rec-look-inside', 'the look inside');
    await expectPaneScrolls(page, 'rec-check-pane');
    await checkView(page, info, size, '4b-look-inside');

    // Export: from the step navigation; the outcome in view and focused, with the demo's hash.
    await step('export').click();
    await expect(page.locator('#rec-exp-h')).toBeInViewport();
    await expect(page.locator('#rec-exp-h')).toBeFocused();
    await expect(page.getByTestId('rec-look-inside')).toBeHidden();
    await expect(step('export')).toHaveAttribute('aria-current', 'step');
    await page.getByTestId('rec-format').selectOption('raw');
    await page.getByTestId('rec-export').click();
    await expect(page.getByTestId('rec-outcome')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expectShownAndFocused(page, 'rec-outcome', 'the export outcome');
    await expect(page.getByTestId('rec-sha256')).toHaveText(expected);
    await expect(step('export')).toHaveAttribute('data-done', 'true');
    await checkView(page, info, size, '5-export');
    const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
    expect((await hashOpfsFile(page, 'wf-output', saved)).sha256).toBe(expected);

    // The dark theme: the views again (axe: what a theme changes, the colour contrast).
    const dark = { axeRules: ['color-contrast', 'link-in-text-block'] };
    await page.getByTestId('theme-toggle').click();
    await checkView(page, info, size, '5-export-dark', dark);
    await step('check').click();
    await expect(page.locator('#rec-sel-h')).toBeInViewport();
    await checkView(page, info, size, '4-check-dark', dark);
    await step('open').click();
    await checkView(page, info, size, '1-open-dark', dark);
    await page.getByTestId('theme-toggle').click();

    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('wf-output', { recursive: true }).catch(() => {})));
    expect(foreign, 'requests outside the preview server').toEqual([]);
  });
}
