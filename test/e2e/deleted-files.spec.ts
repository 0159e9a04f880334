import { expect, test } from '@playwright/test';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir } from '../helpers/tools.js';
import { openDumpFiles, PREVIEW_ORIGIN, watchNetwork } from './helpers.js';

/**
 * The datastore view's "Deleted files": on a VMFS5 dump where a delta and its descriptor were
 * deleted (FDs freed but intact), a folder was deleted (its freed FD still names both files) and
 * one FD is allocated but in no folder, exactly those are listed, with the names, folders, sizes
 * and FD addresses the builder wrote (not what our CLI says: the builder is the oracle here).
 */

test.describe('deleted files', () => {
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    tmp = makeTempDir('deleted-e2e-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'fd-intact', seed: 33, reuse: false, noise: false, extras: true, oracle: false });
  });
  test.afterAll(() => tmp?.cleanup());

  test('freed and orphan file descriptors are listed with the names a freed folder still gives', async ({ page, context }) => {
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await page.goto('/');
    const view = await openDumpFiles(page, d.dump);
    await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });

    const panel = page.getByTestId('deleted');
    await panel.getByTestId('deleted-list').click();
    const rows = panel.getByTestId('deleted-row');
    await expect(rows).toHaveCount(d.expectedDeleted.length, { timeout: 60_000 });
    const got = await rows.evaluateAll((trs) =>
      trs.map((tr) => {
        const el = tr as HTMLElement;
        const size = el.querySelector<HTMLElement>('[data-size]')!.dataset.size!;
        return { name: el.dataset.name || null, dir: el.dataset.dir || null, type: el.dataset.type!, size: Number(size), fdAddress: Number(el.dataset.fd), state: el.dataset.state! };
      }),
    );
    const byFd = (a: { fdAddress: number }, b: { fdAddress: number }) => a.fdAddress - b.fdAddress;
    expect(got.sort(byFd)).toEqual([...d.expectedDeleted].sort(byFd));
    await expect(panel.getByText('/vm1', { exact: true }).first()).toBeVisible();
    expect(foreign).toEqual([]);
  });
});
