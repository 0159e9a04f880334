import { expect, test, type Page } from '@playwright/test';
import { buildArray, rowMap, type ArraySpec } from '../builders/raid.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir, oracleAvailable } from '../helpers/tools.js';
import { copyIntoOpfs, gotoStep, hashOpfsFile, pickerFromOpfs, saveIntoOpfs, watchNetwork } from './helpers.js';
import { axeSerious, SCREENSHOT_DIR } from './ui-checks.js';
import path from 'node:path';

/**
 * "Open RAID members" end to end, against the production build: the recovery test's VMFS5 LUN (a
 * COWD delta deleted by a revert) is cut into RAID 5 members by the test builder (md's reverse
 * mapping, pseudo-random controller metadata before each member's data) and the members are given
 * shuffled. The page must detect exactly the parameters the array was cut with, show a stripe map
 * that follows an overridden layout (cells from the builder's own row map), open the array's LUN as
 * the datastore, list it, scan it and export the deleted delta with the pre-revert chain's SHA-256
 * the builder computed (qemu-img), one member missing included.
 */

const haveOracle = oracleAvailable('qemu-img');
const KiB = 1024;

test.describe('open RAID members', () => {
  test.skip(!haveOracle, 'qemu-img missing');
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;
  const spec: ArraySpec = { level: 'raid5', disks: 4, stripeBytes: 64 * KiB, layout: 'left-symmetric', offsets: [0, 512 * KiB, 64 * KiB, 1024 * KiB], seed: 5 };
  const missingSpec: ArraySpec = { level: 'raid5', disks: 4, stripeBytes: 128 * KiB, layout: 'right-asymmetric', parityDelay: 2, offsets: [4 * KiB, 0, 256 * KiB, 32 * KiB], seed: 9 };
  let members: string[] = [];
  let membersMissing: string[] = [];

  test.beforeAll(async () => {
    test.setTimeout(240_000);
    tmp = makeTempDir('raid-e2e-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 44, reuse: true, noise: true });
    members = buildArray(d.dump, spec, tmp.dir, 'r5');
    membersMissing = buildArray(d.dump, missingSpec, tmp.dir, 'r5m');
  });
  test.afterAll(() => tmp?.cleanup());

  /** Picks `paths` in the RAID card through the classic input; returns the detected section. */
  async function openMembers(page: Page, paths: string[]) {
    await page.getByTestId('raid-file-input').setInputFiles(paths);
    const found = page.getByTestId('raid-detected');
    await expect(found.or(page.getByTestId('raid-undecided')).or(page.getByTestId('raid-error'))).toBeVisible({ timeout: 90_000 });
    await expect(page.getByTestId('raid-error')).toHaveCount(0);
    await expect(page.getByTestId('raid-undecided')).toHaveCount(0);
    return found;
  }

  /** The detected section says exactly what the array was cut with; members listed in the order picked. */
  async function expectDetected(page: Page, s: ArraySpec, picked: string[], all: string[]): Promise<void> {
    const found = page.getByTestId('raid-detected');
    await expect(found).toHaveAttribute('data-level', s.level);
    await expect(found).toHaveAttribute('data-disks', String(s.disks));
    await expect(found).toHaveAttribute('data-stripe', String(s.stripeBytes));
    await expect(found).toHaveAttribute('data-layout', s.layout!);
    await expect(found).toHaveAttribute('data-delay', String(s.parityDelay ?? 1));
    await expect(found).toHaveAttribute('data-missing', String(s.disks - picked.length));
    const rows = found.getByTestId('raid-member');
    await expect(rows).toHaveCount(picked.length);
    for (let k = 0; k < picked.length; k++) {
      const disk = all.indexOf(picked[k]!); // buildArray names member i after md raid_disk i
      await expect(rows.nth(k)).toHaveAttribute('data-name', picked[k]!.split('/').pop()!);
      await expect(rows.nth(k)).toHaveAttribute('data-role', String(disk));
      await expect(rows.nth(k)).toHaveAttribute('data-offset', String(s.offsets[disk]));
    }
  }

  /** The stripe map's first rows: what each disk holds by the builder's row map of `s`. */
  async function expectMap(page: Page, s: ArraySpec, rowsToCheck: number): Promise<void> {
    const nd = s.disks - 1;
    for (let r = 0; r < rowsToCheck; r++) {
      const m = rowMap(s, r);
      for (let disk = 0; disk < s.disks; disk++) {
        const dd = m.ddOfDisk[disk]!;
        const cell = page.locator(`[data-testid="raid-map-cell"][data-row="${r}"][data-disk="${disk}"]`);
        await expect(cell).toContainText(dd < 0 ? 'P' : `D${r * nd + dd}`);
      }
    }
  }

  /** Opens the datastore, lists it, scans it, exports the deleted delta raw: the builder's SHA-256. */
  async function openScanExport(page: Page): Promise<void> {
    await page.getByTestId('raid-open-datastore').click();
    const view = page.getByTestId('ds-view');
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await expect(view.locator('[data-testid="ds-entry"][data-name="vm1"]')).toBeVisible({ timeout: 60_000 });
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const rows = page.getByTestId('rec-candidate');
    await expect(rows.first()).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    const sel = page.getByTestId('rec-selected');
    await expect(sel).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await gotoStep(page, 'check');
    await expect(sel.getByTestId('rec-parent')).toHaveValue(d.parentPath);
    await gotoStep(page, 'export');
    await sel.getByTestId('rec-format').selectOption('raw');
    await sel.getByTestId('rec-export').click();
    await expect(sel.getByTestId('rec-sha256')).toHaveText(/^[0-9a-f]{64}$/, { timeout: 180_000 });
    expect(await sel.getByTestId('rec-sha256').textContent()).toBe(d.expectedSha256);
    const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
    const out = await hashOpfsFile(page, 'output', saved);
    expect(out.sha256).toBe(d.expectedSha256);
    expect(out.size).toBe(d.capacity);
  }

  test('RAID 5 of 4, members shuffled: detected exactly, a changed layout redraws the map, the LUN opens, scans and exports the deleted delta', async ({ page, context, baseURL }) => {
    test.setTimeout(300_000);
    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    await saveIntoOpfs(page, 'output', 'out.bin');
    await page.goto('/');
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));
    const picked = [members[2]!, members[0]!, members[3]!, members[1]!];
    await openMembers(page, picked);
    await expectDetected(page, spec, picked, members);
    await expectMap(page, spec, 4);
    expect(await axeSerious(page), 'axe serious/critical on the RAID view').toEqual([]);
    await page.getByTestId('raid-detected').screenshot({ path: path.join(SCREENSHOT_DIR, 'raid-detected.png') });

    // Override the layout: the map follows it at once, and the array is not opened unchecked.
    await page.getByTestId('raid-set-layout').selectOption('left-asymmetric');
    await expectMap(page, { ...spec, layout: 'left-asymmetric' }, 4);
    await expect(page.getByTestId('raid-open-datastore')).toBeDisabled();
    await expect(page.getByTestId('raid-unchecked')).toBeVisible();
    // Taken as given, the user's array is what opens (nothing detected, every parameter as entered).
    await page.getByTestId('raid-use-given').click();
    await expect(page.getByTestId('raid-open-datastore')).toBeEnabled();
    // Back to the real layout, checked again with it fixed: detection agrees.
    await page.getByTestId('raid-set-layout').selectOption('left-symmetric');
    await page.getByTestId('raid-recheck').click();
    await expect(page.getByTestId('raid-open-datastore')).toBeEnabled({ timeout: 90_000 });
    await expectDetected(page, spec, picked, members);

    await openScanExport(page);
    expect(foreign).toEqual([]);
  });

  test('RAID 5 with one member missing and delayed parity: detected, rebuilt, scanned and exported', async ({ page }) => {
    test.setTimeout(300_000);
    await saveIntoOpfs(page, 'output', 'out.bin');
    await page.goto('/');
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));
    const picked = [membersMissing[3]!, membersMissing[1]!, membersMissing[0]!]; // member 2 is missing
    await openMembers(page, picked);
    await expectDetected(page, missingSpec, picked, membersMissing);
    await expect(page.locator('[data-testid="raid-map-disk"].missing')).toHaveCount(1);
    await expect(page.getByTestId('raid-map-disk').nth(2)).toContainText('missing');
    await expectMap(page, missingSpec, 4);
    await openScanExport(page);
  });

  test('nothing to go on: the refusal is shown with what was found; a cancelled detection leaves the parameters to enter, and the array opens as given', async ({ page }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    // All-zero members: no landmark, so detection refuses and says why.
    const zero = (name: string) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.alloc(1024 * KiB) });
    await page.getByTestId('raid-file-input').setInputFiles([zero('a.img'), zero('b.img'), zero('c.img')]);
    await expect(page.getByTestId('raid-undecided')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('raid-reason')).toContainText('no VMFS or GPT landmark');
    await expect(page.getByTestId('raid-reason')).not.toContainText('--'); // the app has no flags: the form's fields are named instead
    await expect(page.getByTestId('raid-params')).toBeVisible();
    await expect(page.getByTestId('raid-open-datastore')).toBeDisabled();
    expect(await axeSerious(page), 'axe serious/critical on the refused RAID view').toEqual([]);
    await page.getByTestId('raid-undecided').screenshot({ path: path.join(SCREENSHOT_DIR, 'raid-undecided.png') });

    // Real members, detection held by the test hook and cancelled: the user enters the array.
    await page.goto('/?raidHoldMs=60000');
    const picked = [members[1]!, members[3]!, members[0]!, members[2]!];
    await page.getByTestId('raid-file-input').setInputFiles(picked);
    await expect(page.getByTestId('raid-status')).toBeVisible();
    await page.getByTestId('raid-cancel').click();
    await expect(page.getByTestId('raid-notice')).toHaveText('Detection cancelled.', { timeout: 30_000 });
    await expect(page.getByTestId('raid-detected')).toHaveCount(0);
    await page.getByTestId('raid-set-level').selectOption('raid5');
    await page.getByTestId('raid-set-disks').fill(String(spec.disks));
    await page.getByTestId('raid-set-disks').dispatchEvent('change');
    await page.getByTestId('raid-set-stripe').selectOption(String(spec.stripeBytes));
    await page.getByTestId('raid-set-layout').selectOption(spec.layout!);
    for (let k = 0; k < picked.length; k++) {
      const disk = members.indexOf(picked[k]!);
      await page.getByTestId('raid-set-role').nth(k).selectOption(String(disk));
      const off = page.getByTestId('raid-set-offset').nth(k);
      await off.fill(String(spec.offsets[disk]));
      await off.dispatchEvent('change');
    }
    await expectMap(page, spec, 4);
    await page.getByTestId('raid-map').screenshot({ path: path.join(SCREENSHOT_DIR, 'raid-map.png') });
    await page.getByTestId('raid-use-given').click();
    await expect(page.getByTestId('raid-open-datastore')).toBeEnabled();
    await page.getByTestId('raid-open-datastore').click();
    const view = page.getByTestId('ds-view');
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await expect(view.locator('[data-testid="ds-entry"][data-name="vm1"]')).toBeVisible({ timeout: 60_000 });
  });

  test('picked with the open picker (handles), the array is a recent session that reopens as the same array after a reload', async ({ page }) => {
    test.setTimeout(300_000);
    await pickerFromOpfs(page, 'raid-in', members.map((m) => path.basename(m)));
    await page.goto('/');
    await copyIntoOpfs(page, 'raid-in', members);
    await page.goto('/');
    await page.getByTestId('raid-open').click();
    await expect(page.getByTestId('raid-detected')).toBeVisible({ timeout: 90_000 });
    await expectDetected(page, spec, members.map((m) => path.basename(m)), members.map((m) => path.basename(m)));
    await page.getByTestId('raid-open-datastore').click();
    await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await expect(page.getByTestId('recent-session').first()).toContainText('RAID members (raid5)');
    await page.reload();
    await expect(page.getByTestId('ds-version')).toHaveCount(0);
    const entry = page.getByTestId('recent-session').first();
    await expect(entry).toContainText('RAID members (raid5)');
    await entry.getByTestId('recent-reopen').click();
    const view = page.getByTestId('ds-view');
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
    await expect(view.locator('[data-testid="ds-entry"][data-name="vm1"]')).toBeVisible({ timeout: 60_000 });
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('raid-in', { recursive: true }).catch(() => {})));
  });
});
