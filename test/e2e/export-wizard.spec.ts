import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir, oracleAvailable, sha256File } from '../helpers/tools.js';
import { gotoStep, openDumpFiles, pickDirectoryInOpfs, PREVIEW_ORIGIN, saveIntoOpfs, watchNetwork } from './helpers.js';

/**
 * The export wizard of a recovered disk: format, destination, progress with ETA, cancel, the
 * verify pass with its SHA-256, the JSON report. The dump is recovery.spec's (a COWD delta deleted
 * by a revert, two of its blocks reused); the expected disk hash comes from qemu-img over the
 * pre-revert chain (builder), never from our code.
 */

const haveOracle = oracleAvailable('qemu-img');

/** OPFS files under `folder` (none if it does not exist), with sizes. */
async function opfsFiles(page: Page, folder: string): Promise<{ name: string; size: number }[]> {
  return page.evaluate(async (folder) => {
    const root = await navigator.storage.getDirectory();
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await root.getDirectoryHandle(folder);
    } catch {
      return [];
    }
    const out: { name: string; size: number }[] = [];
    for await (const [name, h] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (h.kind === 'file') out.push({ name, size: (await (h as FileSystemFileHandle).getFile()).size });
    }
    return out;
  }, folder);
}

/**
 * Clicks Export, then Cancel once the write has made progress (in the page, so no round trip
 * separates the two): the cancel lands mid-export, not before it began.
 */
async function exportThenCancel(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const q = (id: string) => document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
    q('rec-export')!.click();
    for (let i = 0; i < 20000; i++) {
      const p = q('rec-export-progress');
      const c = q('rec-export-cancel') as HTMLButtonElement | null;
      if (p && c && Number(p.dataset.done) > 0) {
        const phase = p.dataset.phase ?? '';
        c.click();
        return phase;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    throw new Error('the export made no visible progress');
  });
}

test.describe('export wizard', () => {
  test.skip(!haveOracle, 'qemu-img missing');
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;

  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('export-wizard-e2e-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 45, reuse: true, noise: false });
  });
  test.afterAll(() => tmp?.cleanup());

  async function openAndScan(page: Page): Promise<void> {
    await page.goto('/');
    const view = await openDumpFiles(page, d.dump);
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-selected')).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await expect(page.getByTestId('rec-parent')).toHaveValue(d.parentPath);
    await gotoStep(page, 'export');
  }

  test('cancel mid-export leaves no output file, to a picked file or to browser storage', async ({ page, context }) => {
    test.setTimeout(240_000);
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await saveIntoOpfs(page, 'wizard-out', 'out.bin');
    await openAndScan(page);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('wizard-out', { recursive: true }).catch(() => {})));
    const wiz = page.getByTestId('rec-wizard');
    await wiz.getByTestId('rec-format').selectOption('raw');

    // 1. Into the file the save dialog gave.
    await wiz.getByTestId('rec-dest-pick').check();
    await expect(wiz.getByTestId('rec-export')).toHaveAttribute('data-destination', 'pick');
    const phase1 = await exportThenCancel(page);
    expect(phase1).toMatch(/^(export|verify)$/);
    await expect(wiz.getByTestId('rec-outcome')).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(await opfsFiles(page, 'wizard-out')).toEqual([]);

    // 2. Into browser storage: nothing kept there and no download offered.
    let downloads = 0;
    page.on('download', () => downloads++);
    await wiz.getByTestId('rec-dest-download').check();
    await expect(wiz.getByTestId('rec-export')).toHaveAttribute('data-destination', 'download');
    await exportThenCancel(page);
    await expect(wiz.getByTestId('rec-outcome')).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
    expect(await opfsFiles(page, 'exports')).toEqual([]);
    await page.waitForTimeout(500);
    expect(downloads).toBe(0);
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(foreign).toEqual([]);
  });

  test('cancel mid-export into a picked folder leaves no new file there (flat: descriptor and data file)', async ({ page }) => {
    test.setTimeout(240_000);
    await pickDirectoryInOpfs(page, 'picked');
    await openAndScan(page);
    // The folder the user picks already holds a file of theirs, which must stay as it is.
    await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked', { create: true });
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) await dir.removeEntry(name);
      const w = await (await dir.getFileHandle('mine.txt', { create: true })).createWritable();
      await w.write('kept');
      await w.close();
    });
    const wiz = page.getByTestId('rec-wizard');
    await wiz.getByTestId('rec-format').selectOption('flat');
    await wiz.getByTestId('rec-dest-pick').check();
    await expect(wiz.getByTestId('rec-export')).toHaveAttribute('data-destination', 'pick');
    const phase = await exportThenCancel(page);
    expect(phase).toMatch(/^(export|verify)$/);
    await expect(wiz.getByTestId('rec-outcome')).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(await opfsFiles(page, 'picked')).toEqual([{ name: 'mine.txt', size: 4 }]);
  });

  test('a full run: progress with ETA, verify shows the expected SHA-256, download and report carry it', async ({ page, context }) => {
    test.setTimeout(240_000);
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await openAndScan(page);
    const wiz = page.getByTestId('rec-wizard');
    await expect(wiz).toHaveAttribute('data-step', '1');
    await wiz.getByTestId('rec-format').selectOption('raw');
    await wiz.getByTestId('rec-dest-download').check();

    // The progress line: bytes done of total, and (once measurable) a rate and time left.
    const seen = page.evaluate(async () => {
      const texts: string[] = [];
      for (let i = 0; i < 60000; i++) {
        const t = document.querySelector('[data-testid="rec-export-eta"]')?.textContent;
        if (t && !texts.includes(t)) texts.push(t);
        if (document.querySelector('[data-testid="rec-outcome"]')) return texts;
        await new Promise((r) => setTimeout(r, 1));
      }
      return texts;
    });
    const dl = page.waitForEvent('download', { timeout: 180_000 });
    await wiz.getByTestId('rec-export').click();
    const disk = await dl;
    expect(disk.suggestedFilename()).toBe(`${d.candidateId}-recovered.img`);
    await expect(wiz.getByTestId('rec-outcome')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
    await expect(wiz).toHaveAttribute('data-step', '5');
    await expect(wiz.getByTestId('rec-verified')).toContainText('yes');
    await expect(wiz.getByTestId('rec-sha256')).toHaveText(d.expectedSha256);
    expect(sha256File(await disk.path())).toBe(d.expectedSha256);
    const texts = await seen;
    expect(texts.some((t) => / \/ /.test(t)), texts.join(' | ')).toBe(true);

    // The JSON report, from the wizard's last step, has the same hash.
    const rep = page.waitForEvent('download', { timeout: 30_000 });
    await wiz.getByTestId('rec-report').click();
    const report = await rep;
    expect(report.suggestedFilename()).toBe(`${d.candidateId}-report.json`);
    const json = JSON.parse(readFileSync(await report.path(), 'utf8')) as { hashes: { logicalSha256: string }; parent: string; output: { verified: boolean } };
    expect(json.hashes.logicalSha256).toBe(d.expectedSha256);
    expect(json.parent).toBe(d.parentPath);
    expect(json.output.verified).toBe(true);
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(foreign).toEqual([]);
  });
});
