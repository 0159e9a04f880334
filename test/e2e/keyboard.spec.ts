import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { hashOpfsFile, PREVIEW_ORIGIN, saveIntoOpfs, watchNetwork } from './helpers.js';

/**
 * Keyboard-only recovery: the demo is generated, scanned, its deleted delta chosen, the parent
 * chosen, exported and verified, and the report downloaded, with page.keyboard only (Tab, Enter,
 * Space, arrows): no click, no fill, no selectOption. Every control acted on must show a visible
 * focus ring. The exported disk must hash as the demo generator predicts.
 */

/** What has focus: its test id (or the nearest ancestor's), tag, type and whether a focus ring shows. */
async function focused(page: Page): Promise<{ id: string | null; tag: string; type: string | null; ring: boolean; value: string | null }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { id: null, tag: 'body', type: null, ring: false, value: null };
    const s = getComputedStyle(el);
    const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow !== 'none' && s.boxShadow !== '');
    return {
      id: el.getAttribute('data-testid') ?? el.closest('[data-testid]')?.getAttribute('data-testid') ?? null,
      tag: el.tagName.toLowerCase(),
      type: el.getAttribute('type'),
      ring,
      value: (el as HTMLInputElement).value ?? null,
    };
  });
}

/** Presses Tab until the focused element is `id` (its own test id, or its row's); fails after `max` presses. */
async function tabTo(page: Page, id: string, max = 400): Promise<void> {
  for (let i = 0; i < max; i++) {
    const f = await focused(page);
    if (f.id === id) {
      expect(f.ring, `focus ring on ${id}`).toBe(true);
      return;
    }
    await page.keyboard.press('Tab');
  }
  throw new Error(`${id} never got the focus after ${max} Tab presses`);
}

test('keyboard only: demo, scan, candidate, parent, export with verify, report', async ({ page, context }) => {
  test.setTimeout(180_000);
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  await saveIntoOpfs(page, 'kbd-output', 'out.bin');
  await page.goto('/');
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('kbd-output', { recursive: true }).catch(() => {})));

  // Try the demo.
  await tabTo(page, 'try-demo');
  await page.keyboard.press('Enter');
  const guide = page.getByTestId('demo-guide');
  await expect(guide).toBeVisible({ timeout: 30_000 });
  const expected = (await guide.getAttribute('data-expected-sha256'))!;
  const candidate = (await guide.getAttribute('data-candidate'))!;
  const parent = (await guide.getAttribute('data-parent'))!;
  expect(expected).toMatch(/^[0-9a-f]{64}$/);

  // Find lost snapshots: the step navigation shows the Find view, its heading takes the focus.
  await tabTo(page, 'step-find');
  await page.keyboard.press('Enter');
  await expect(page.locator('#rec-h')).toBeFocused();
  await tabTo(page, 'rec-find');
  await page.keyboard.press('Enter');
  const rows = page.getByTestId('rec-candidate');
  await expect(rows.first()).toHaveAttribute('data-id', candidate, { timeout: 60_000 });
  await expect(page.getByTestId('rec-error')).toHaveCount(0);
  const sel = page.getByTestId('rec-selected');

  // Candidate: Tab lands on the checked radio; arrows move the choice, and back.
  await tabTo(page, 'rec-candidate');
  const n = await rows.count();
  if (n > 1) {
    await page.keyboard.press('ArrowDown');
    await expect(sel).not.toHaveAttribute('data-id', candidate);
    await page.keyboard.press('ArrowUp');
  } else {
    await page.keyboard.press('Space');
  }
  await expect(sel).toHaveAttribute('data-id', candidate);

  // Parent, in the Check view: a closed select changes with the arrows; leave the guessed one chosen.
  await tabTo(page, 'step-check');
  await page.keyboard.press('Enter');
  await expect(page.locator('#rec-sel-h')).toBeFocused();
  await tabTo(page, 'rec-parent');
  const parentSel = sel.getByTestId('rec-parent');
  await expect(parentSel).toHaveValue(parent);
  await page.keyboard.press('ArrowDown');
  await expect(parentSel).not.toHaveValue(parent);
  await page.keyboard.press('ArrowUp');
  await expect(parentSel).toHaveValue(parent);

  // The wizard, in the Export view: format (raw is first), destination (the save dialog), Export.
  await tabTo(page, 'step-export');
  await page.keyboard.press('Enter');
  await expect(page.locator('#rec-exp-h')).toBeFocused();
  await tabTo(page, 'rec-format');
  await page.keyboard.press('Home');
  await expect(sel.getByTestId('rec-format')).toHaveValue('raw');
  await tabTo(page, 'rec-dest-pick');
  // Arrow to the other destination and back: the radio group is one Tab stop.
  await page.keyboard.press('ArrowDown');
  await expect(sel.getByTestId('rec-dest-download')).toBeChecked();
  await page.keyboard.press('ArrowUp');
  await expect(sel.getByTestId('rec-dest-pick')).toBeChecked();
  await tabTo(page, 'rec-export');
  await page.keyboard.press('Enter');

  // Verify: the outcome takes the focus and shows the verified SHA-256.
  const outcome = sel.getByTestId('rec-outcome');
  await expect(outcome).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(outcome).toBeFocused();
  await expect(sel.getByTestId('rec-verified')).toContainText('yes');
  await expect(sel.getByTestId('rec-sha256')).toHaveText(expected);
  const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
  expect((await hashOpfsFile(page, 'kbd-output', saved)).sha256).toBe(expected);

  // The report, by keyboard too.
  await tabTo(page, 'rec-report', 20);
  const dl = page.waitForEvent('download', { timeout: 30_000 });
  await page.keyboard.press('Enter');
  const rep = JSON.parse(readFileSync(await (await dl).path(), 'utf8')) as { hashes: { logicalSha256: string } };
  expect(rep.hashes.logicalSha256).toBe(expected);

  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('kbd-output', { recursive: true }).catch(() => {})));
  expect(foreign).toEqual([]);
});
