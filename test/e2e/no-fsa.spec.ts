import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { buildVmfs, standardBuild, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir } from '../helpers/tools.js';
import { gotoStep, openDumpFiles, watchNetwork } from './helpers.js';

/**
 * A browser without the File System Access API (Firefox, Safari): the three pickers are removed
 * before the app loads. A dump still opens through the plain file input, and an export goes to
 * browser storage (OPFS) and is then offered as a download whose bytes hash to what the demo
 * generator predicts (computed from its own inputs, never by the recovery code).
 */

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

async function removePickers(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    for (const name of ['showOpenFilePicker', 'showSaveFilePicker', 'showDirectoryPicker']) {
      delete w[name];
      delete (Window.prototype as unknown as Record<string, unknown>)[name];
    }
  });
}

test('without File System Access pickers: a dump opens through the file input, the demo export arrives as a download', async ({ page, context, baseURL }) => {
  test.setTimeout(180_000);
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  await removePickers(page);
  const { dir, cleanup } = makeTempDir('vmfs-rescue-e2e-nofsa-');
  try {
    const m: Manifest = await buildVmfs(standardBuild('vmfs5', dir));
    await page.goto('/');
    expect(
      await page.evaluate(() => ['showOpenFilePicker', 'showSaveFilePicker', 'showDirectoryPicker'].filter((n) => n in window)),
    ).toEqual([]);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('exports', { recursive: true }).catch(() => {})));

    // Open a dump through the file input.
    const view = await openDumpFiles(page, m.luns.map((l) => l.path));
    await expect(view.getByTestId('ds-label')).toHaveText(m.label, { timeout: 60_000 });
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5.');
    await expect(view.getByTestId('ds-error')).toHaveCount(0);

    // The demo's recovery, exported raw: browser storage first, then a download. The demo button
    // is on the open page, reached through the step list once a dump is open.
    await page.getByTestId('step-open').click();
    await page.getByTestId('try-demo').click();
    const guide = page.getByTestId('demo-guide');
    await expect(guide).toBeVisible({ timeout: 30_000 });
    const expected = (await guide.getAttribute('data-expected-sha256'))!;
    const candidate = (await guide.getAttribute('data-candidate'))!;
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', candidate, { timeout: 30_000 });
    const sel = page.getByTestId('rec-selected');
    await gotoStep(page, 'export');
    await sel.getByTestId('rec-format').selectOption('raw');
    const download = page.waitForEvent('download', { timeout: 60_000 });
    await sel.getByTestId('rec-export').click();
    const d = await download;
    await expect(sel.getByTestId('rec-sha256')).toHaveText(expected, { timeout: 40_000 });
    expect(await sha256File((await d.path())!)).toBe(expected);
    // It went through OPFS: the file is in the exports folder under the downloaded name.
    const inOpfs = await page.evaluate(
      (name) => navigator.storage.getDirectory().then((r) => r.getDirectoryHandle('exports')).then((x) => x.getFileHandle(name)).then((h) => h.getFile()).then((f) => f.size),
      d.suggestedFilename(),
    );
    expect(inOpfs).toBeGreaterThan(0);
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('exports', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  } finally {
    cleanup();
  }
});
