import { openSync, readSync, closeSync } from 'node:fs';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { buildVmfs, DATA_OFFSET, expectedBytes, standardBuild, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir } from '../helpers/tools.js';
import { openDumpFiles, watchNetwork } from './helpers.js';

/**
 * Inspector views on a synthetic VMFS5 dump (test/builders/vmfs; the block each file's data sits in
 * comes from the build inputs): the zoomable allocation map tells a block's owner, the hex view
 * shows the dump's bytes at that block, the theme toggle, and the layout at 1024 px.
 */

const FILE = '/vm1/vm1-flat.vmdk';

/** `len` bytes of the dump file at `offset`, read in Node. */
function dumpBytes(path: string, offset: number, len: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(len);
    const n = readSync(fd, b, 0, len, offset);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The bytes the hex view shows in its first `rows` rows, and the offset of the first row. */
async function shownBytes(hex: Locator, rows: number): Promise<{ first: number; bytes: Buffer }> {
  const rowEls = hex.getByTestId('hex-view-row');
  await expect(rowEls.first().getByTestId('hex-view-bytes')).toBeVisible({ timeout: 20_000 });
  const first = Number(await rowEls.first().getAttribute('data-offset'));
  const texts = await rowEls.evaluateAll((els, n) => els.slice(0, n).map((e) => e.querySelector('[data-testid="hex-view-bytes"]')?.textContent ?? ''), rows);
  const bytes = Buffer.from(texts.join(' ').match(/[0-9a-f]{2}/g)!.map((h) => parseInt(h, 16)));
  return { first, bytes };
}

async function bgColor(page: Page): Promise<string> {
  return page.evaluate(() => getComputedStyle(document.body).backgroundColor);
}

test('allocation map zoom and owner, hex view at a block, theme toggle, 1024 px layout', async ({ page, context, baseURL }) => {
  test.setTimeout(240_000);
  const { dir, cleanup } = makeTempDir('vmfs-rescue-e2e-inspector-');
  try {
    const m: Manifest = await buildVmfs(standardBuild('vmfs5', dir));
    const entry = m.entries.find((e) => e.path === FILE)!;
    const block = entry.dataBlocks![0]!; // file block 0: its data is the pattern the manifest describes
    const lun = m.luns[0]!;
    const volByte = block * m.blockSize;

    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto('/');
    await page.evaluate(() => localStorage.removeItem('vmfs-rescue-theme'));
    const view = await openDumpFiles(page, lun.path);
    await expect(view.getByTestId('ds-label')).toHaveText(m.label, { timeout: 60_000 });
    const canvas = view.getByTestId('ds-alloc-canvas');
    await expect(canvas).toBeVisible({ timeout: 30_000 });

    // The owner as the file listing gives it: the path and the FD column of the row.
    await view.locator('[data-testid="ds-entry"][data-name="vm1"]').getByTestId('ds-enter').click();
    const row = view.locator('[data-testid="ds-entry"][data-name="vm1-flat.vmdk"]');
    await expect(row).toBeVisible({ timeout: 30_000 });
    const fdText = (await row.locator('td code').innerText()).trim();
    expect(fdText).toMatch(/^<0x[0-9a-f]+>$/);

    // Zoom in to one block per cell (buttons), then move the window until the block is on it.
    const zoom = view.getByTestId('ds-alloc-zoom');
    const zoomIn = view.getByTestId('ds-alloc-zoom-in');
    for (let k = 0; k < 10 && (await zoom.getAttribute('data-per-cell')) !== '1'; k++) await zoomIn.click();
    await expect(zoom).toHaveAttribute('data-per-cell', '1');
    await expect(zoomIn).toBeDisabled();
    for (let k = 0; k < 20; k++) {
      const first = Number(await zoom.getAttribute('data-first'));
      if (block >= first + 1024) await view.getByTestId('ds-alloc-next').click();
      else if (block < first) await view.getByTestId('ds-alloc-prev').click();
      else break;
    }
    const first = Number(await zoom.getAttribute('data-first'));
    expect(block - first).toBeGreaterThanOrEqual(0);
    expect(block - first).toBeLessThan(1024);

    // Hover the block's cell (64 cells of 8 px + 1 px gap per row).
    const i = block - first;
    // Where the cell is on screen now: the map sits in a scrolling pane, which other clicks may move.
    const cellAt = async () => {
      await canvas.scrollIntoViewIfNeeded();
      const box = (await canvas.boundingBox())!;
      const size = await canvas.evaluate((c: HTMLCanvasElement) => ({ w: c.width, h: c.height }));
      const rel = { x: (((i % 64) * 9 + 4) * box.width) / size.w, y: ((Math.floor(i / 64) * 9 + 4) * box.height) / size.h };
      return { x: box.x + rel.x, y: box.y + rel.y, rel };
    };
    const at = await cellAt();
    await page.mouse.move(at.x, at.y);
    const tip = view.getByTestId('ds-alloc-tooltip');
    await expect(tip).toHaveText(`Block ${block}: ${FILE} ${fdText}`, { timeout: 30_000 });
    // The text alternative carries the same cells (in pages of 256 rows, on the hovered cell's page).
    await view.getByTestId('ds-alloc-toggle').click();
    const cellRows = view.getByTestId('ds-alloc-cell-row');
    const pageFrom = Math.floor(i / 256) * 256;
    await expect(cellRows).toHaveCount(Math.min(256, Math.min(1024, m.totalBlocks - first) - pageFrom));
    const cellRow = cellRows.nth(i - pageFrom);
    await expect(cellRow.locator('td').nth(0)).toHaveText(String(i));
    await expect(cellRow.locator('td').nth(1)).toHaveText(String(block));
    await expect(cellRow.locator('td').nth(2)).toHaveText('used');
    await expect(cellRow.locator('td').nth(3)).toHaveText('1');

    // Click: the hex view opens at the block; its bytes are the dump's bytes there, read in Node.
    const again = await cellAt();
    await page.mouse.click(again.x, again.y);
    const hex = view.getByTestId('hex-view');
    await expect(hex).toBeVisible();
    const shown = await shownBytes(hex, 16);
    expect(shown.first).toBe(volByte);
    const fromDump = dumpBytes(lun.path, lun.partitionOffset + DATA_OFFSET + volByte, shown.bytes.length);
    expect(shown.bytes.equals(fromDump)).toBe(true);
    // ... and the file's content by the build inputs (so the offset mapping is not trusted blindly).
    expect(shown.bytes.equals(Buffer.from(expectedBytes(entry.pieces!, entry.size, 0, shown.bytes.length)))).toBe(true);
    expect(shown.bytes.some((b) => b !== 0)).toBe(true);

    // Keyboard scroll and the jump box (hex offset).
    await hex.getByTestId('hex-view-rows').focus();
    await page.keyboard.press('ArrowDown');
    await expect(hex.getByTestId('hex-view-row').first()).toHaveAttribute('data-offset', String(volByte + 16));
    const target = volByte + 0x1230;
    await hex.getByTestId('hex-view-jump').fill(`0x${target.toString(16)}`);
    await hex.getByTestId('hex-view-jump').press('Enter');
    const jumped = await shownBytes(hex, 4);
    expect(jumped.first).toBe(target);
    expect(jumped.bytes.equals(dumpBytes(lun.path, lun.partitionOffset + DATA_OFFSET + target, jumped.bytes.length))).toBe(true);
    // A block number.
    await hex.getByTestId('hex-view-unit').selectOption('block');
    await hex.getByTestId('hex-view-jump').fill(String(block + 1));
    await hex.getByTestId('hex-view-jump').press('Enter');
    await expect(hex.getByTestId('hex-view-row').first()).toHaveAttribute('data-offset', String((block + 1) * m.blockSize));

    // From the file browser: the file's first block.
    await row.getByTestId('ds-hex').click();
    await expect(hex).toContainText(`first block of ${FILE}`);
    await expect(hex.getByTestId('hex-view-row').first()).toHaveAttribute('data-offset', String(volByte));

    // Keyboard on the map: focus, move, zoom out with '-'.
    await canvas.focus();
    await page.mouse.move(0, 0);
    await page.keyboard.press('ArrowRight');
    await expect(view.getByTestId('ds-alloc-info')).toContainText('Block ');
    await page.keyboard.press('-');
    await expect(zoom).not.toHaveAttribute('data-per-cell', '1');
    // Ctrl + wheel zooms in again around the pointer.
    await canvas.hover({ position: at.rel });
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -100);
    await page.keyboard.up('Control');
    await expect(zoom).toHaveAttribute('data-per-cell', '1');

    // Theme: the system's choice by default, then the toggle switches the page background and
    // the choice survives a reload.
    const before = await bgColor(page);
    await page.emulateMedia({ colorScheme: 'dark' });
    const systemDark = await bgColor(page);
    expect(systemDark).not.toBe(before);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await bgColor(page)).toBe(before);
    await page.getByTestId('theme-toggle').click();
    const after = await bgColor(page);
    expect(after).toBe(systemDark);
    await page.reload();
    expect(await bgColor(page)).toBe(after);
    await page.getByTestId('theme-toggle').click();
    expect(await bgColor(page)).toBe(before);
    await page.evaluate(() => localStorage.removeItem('vmfs-rescue-theme'));

    // 1024 × 768: no horizontal page scroll, with the dump open, the table and the hex view shown.
    await page.setViewportSize({ width: 1024, height: 768 });
    await openDumpFiles(page, lun.path);
    await expect(canvas).toBeVisible({ timeout: 30_000 });
    await view.locator('[data-testid="ds-entry"][data-name="vm1"]').getByTestId('ds-enter').click();
    await view.locator('[data-testid="ds-entry"][data-name="vm1-flat.vmdk"]').getByTestId('ds-hex').click();
    await expect(hex.getByTestId('hex-view-bytes').first()).toBeVisible({ timeout: 20_000 });
    await view.getByTestId('ds-alloc-toggle').click();
    await expect(view.getByTestId('ds-alloc-table')).toBeVisible();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(1024);

    await expect(view.getByTestId('ds-error')).toHaveCount(0);
    expect(foreign, 'requests outside the preview server').toEqual([]);
  } finally {
    cleanup();
  }
});
