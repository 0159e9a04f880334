import { readFileSync, statSync } from 'node:fs';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { buildGuestDeltaDump, P1_START, P2_START, type GuestDeltaDump } from '../builders/recovery/guest-delta.js';
import { makeTempDir, oracleAvailable, sha256File } from '../helpers/tools.js';
import { gotoStep, openDumpFiles, PREVIEW_ORIGIN, watchNetwork } from './helpers.js';

/**
 * Look inside a recovered disk: a VMFS5 dump whose VM disk holds an ext4 and an NTFS partition
 * (mke2fs -d, mkntfs + ntfscp) and whose snapshot delta, deleted by a revert, changed files in
 * both (debugfs -w, ntfscp; the delta is the sector difference, cross-checked with qemu-img by
 * the builder). After "Find lost snapshots", the inspector over candidate + parent must list both
 * filesystems and hand out the snapshot's (new) file content, not the base's.
 */

const tools = ['qemu-img', 'mke2fs', 'mkntfs', 'ntfscp', 'debugfs'];

test.describe('look inside a recovered disk', () => {
  // In CI (REQUIRE_ORACLES=1) a missing tool fails here instead of skipping.
  const have = oracleAvailable(...tools);
  test.skip(!have, `one of ${tools.join(', ')} is missing`);
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: GuestDeltaDump;

  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('look-inside-e2e-');
    d = await buildGuestDeltaDump({ dir: tmp.dir, seed: 61 });
  });
  test.afterAll(() => tmp?.cleanup());

  async function download(page: Page, files: Locator, name: string): Promise<string> {
    const row = files.locator('tbody tr', { hasText: name });
    await expect(row).toHaveCount(1, { timeout: 30_000 });
    const dl = page.waitForEvent('download', { timeout: 30_000 });
    await row.getByRole('button', { name: `Download ${name}` }).click();
    const got = await dl;
    expect(got.suggestedFilename()).toBe(name);
    return got.path();
  }

  test('ext4 and NTFS of the recovered disk list, and changed files download with the snapshot content', async ({ page, context }) => {
    test.setTimeout(240_000);
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await page.goto('/');
    const view = await openDumpFiles(page, d.dump);
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });

    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const sel = page.getByTestId('rec-selected');
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await page.getByTestId('rec-candidate').first().getByRole('radio').check();
    await expect(sel).toHaveAttribute('data-id', d.candidateId);
    await gotoStep(page, 'check');
    await sel.getByTestId('rec-parent').selectOption(d.parentPath);
    await expect(page.getByTestId('rec-error')).toHaveCount(0);

    await sel.getByTestId('rec-look').click();
    const inspector = sel.getByTestId('rec-look-inside').getByTestId('disk-inspector');
    const parts = inspector.getByTestId('gi-partitions');
    await expect(parts.locator('caption')).toContainText('MBR', { timeout: 60_000 });
    const rows = parts.locator('tbody tr');
    await expect(rows).toHaveCount(2, { timeout: 30_000 });
    await expect(rows.nth(0).locator('td').nth(2)).toHaveText(/^ext4/);
    await expect(rows.nth(0).locator('td').nth(3)).toHaveText(`0x${P1_START.toString(16)}`);
    await expect(rows.nth(1).locator('td').nth(2)).toHaveText(/^ntfs/);
    await expect(rows.nth(1).locator('td').nth(3)).toHaveText(`0x${P2_START.toString(16)}`);

    // The sector hex view of the recovered disk: the NTFS boot sector's OEM id at the start of
    // partition 2, and the ext4 superblock magic (0xEF53 at 0x438) reached by sector number.
    await rows.nth(1).getByTestId('gi-part-bytes').click();
    const hexView = inspector.getByTestId('disk-hex');
    await expect(hexView.locator('h4')).toContainText(`sector ${P2_START / 512}`);
    const ntfsRow = hexView.locator(`[data-testid="disk-hex-row"][data-offset="${P2_START}"]`);
    await expect(ntfsRow.getByTestId('disk-hex-bytes')).toContainText('4e 54 46 53 20', { timeout: 30_000 });
    await hexView.getByTestId('disk-hex-unit').selectOption('block');
    await hexView.getByTestId('disk-hex-jump').fill(String(P1_START / 512 + 2));
    await hexView.getByTestId('disk-hex-jump').press('Enter');
    const sbRow = hexView.locator(`[data-testid="disk-hex-row"][data-offset="${P1_START + 0x430}"]`);
    await expect(sbRow.getByTestId('disk-hex-bytes')).toContainText('  53 ef', { timeout: 30_000 });

    // ext4: the untouched file, the added one, and the replaced one with its new content.
    await rows.nth(0).getByRole('button', { name: 'Browse' }).click();
    const files = inspector.getByTestId('gi-files');
    await expect(files).toContainText('readme.txt', { timeout: 30_000 });
    await files.getByRole('button', { name: 'docs/' }).click();
    await expect(inspector.getByTestId('gi-breadcrumb')).toContainText('docs', { timeout: 30_000 });
    await expect(files).toContainText('added.txt', { timeout: 30_000 });
    const ext = await download(page, files, 'report.bin');
    expect(statSync(ext).size).toBe(statSync(d.ext4Changed.newFile).size);
    expect(sha256File(ext)).toBe(sha256File(d.ext4Changed.newFile));
    expect(sha256File(ext)).not.toBe(sha256File(d.ext4Changed.oldFile));
    const added = await download(page, files, 'added.txt');
    expect(readFileSync(added)).toEqual(readFileSync(d.ext4Added.file));

    // NTFS: the overwritten file reads as the snapshot wrote it.
    await rows.nth(1).getByRole('button', { name: 'Browse' }).click();
    await expect(inspector.getByTestId('gi-breadcrumb')).toContainText('partition 2', { timeout: 30_000 });
    const ntfs = await download(page, files, 'notes.bin');
    expect(statSync(ntfs).size).toBe(statSync(d.ntfsChanged.newFile).size);
    expect(sha256File(ntfs)).toBe(sha256File(d.ntfsChanged.newFile));
    expect(sha256File(ntfs)).not.toBe(sha256File(d.ntfsChanged.oldFile));
    await expect(inspector.getByTestId('gi-error')).toHaveCount(0);

    // Without the parent the base's sectors read as zeros: the inspector reopens on the new choice.
    await sel.getByTestId('rec-parent').selectOption('');
    await expect(sel.getByTestId('rec-look-inside')).toHaveCount(0);
    await expect(sel.getByTestId('rec-look')).toHaveText(/Look inside/);

    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(foreign, 'requests outside the preview server').toEqual([]);
  });
});
