import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { buildDeletedChainDump, type DeletedChainDump } from '../builders/recovery/chain.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { buildTwoVmDump, type TwoVmDump } from '../builders/recovery/two-vms.js';
import { makeTempDir, oracleAvailable, runCli, sha256File } from '../helpers/tools.js';
import { gotoStep, hashOpfsFile, openDumpFiles, saveIntoOpfs, watchNetwork } from './helpers.js';
import { union } from '../helpers/lost-runs.js';

/**
 * "Find lost snapshots" end to end, against the production build: a synthetic VMFS5 dump in which
 * a COWD delta was deleted by a revert (two of its blocks reused by the new delta, garbage and
 * another VM's delta in free space) is opened through the fallback file input and scanned; the
 * real delta must rank first with the builder's lost runs, and its raw export must hash to what
 * qemu-img gives for the pre-revert chain (lost grains from the base), computed by the builder.
 */

const haveOracle = oracleAvailable('qemu-img');

async function openDump(page: Page, dump: string, query = ''): Promise<void> {
  await page.goto('/' + query);
  await pickDump(page, dump);
}

/** Opens the dump on the page as it is (after a reload, the URL and its test hooks stay). */
async function pickDump(page: Page, dump: string): Promise<void> {
  const view = await openDumpFiles(page, dump);
  await expect(view.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
  await expect(page.getByTestId('rec-find')).toBeEnabled();
}

/**
 * Raw export of the selected candidate through the (overridden) save dialog into OPFS `folder`:
 * the page's SHA-256 and the saved file's must both be `sha256`. Returns the saved file's size and hash.
 */
async function exportRawChecked(page: Page, folder: string, sha256: string): Promise<{ size: number; sha256: string }> {
  const sel = page.getByTestId('rec-selected');
  await gotoStep(page, 'export');
  await sel.getByTestId('rec-format').selectOption('raw');
  await sel.getByTestId('rec-export').click();
  await expect(sel.getByTestId('rec-sha256')).toHaveText(/^[0-9a-f]{64}$/, { timeout: 180_000 });
  await expect(page.getByTestId('rec-error')).toHaveCount(0);
  expect(await sel.getByTestId('rec-sha256').textContent()).toBe(sha256);
  const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
  const out = await hashOpfsFile(page, folder, saved);
  expect(out.sha256).toBe(sha256);
  return out;
}

test.describe('find lost snapshots', () => {
  test.skip(!haveOracle, 'qemu-img missing');
  // Made in beforeAll: the describe body also runs when tests are only being listed.
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedDeltaDump;

  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('recovery-e2e-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'contiguous', seed: 44, reuse: true, noise: true });
  });
  test.afterAll(() => tmp?.cleanup());

  test('scan, rank the real delta first, show its lost runs, export raw with the pre-revert sha256, report', async ({ page, context, baseURL }) => {
    test.setTimeout(240_000);
    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    await saveIntoOpfs(page, 'output', 'out.bin');
    await openDump(page, d.dump);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));

    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const rows = page.getByTestId('rec-candidate');
    await expect(rows.first()).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('rec-error')).toHaveCount(0);

    // Best first: the real delta, then the others ranked no higher (identity, then completeness); the other VM's delta is listed too.
    const ids = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')));
    expect(ids[0]).toBe(d.candidateId);
    if (d.foreignHeaderBlock !== null) expect(ids).toContain(`delta-${d.foreignHeaderBlock}`);
    const pcts = async (id: string) => (await page.getByTestId(id).allTextContents()).map((t) => parseInt(t, 10));
    const [identity, completeness] = [await pcts('rec-identity'), await pcts('rec-completeness')];
    for (let i = 1; i < identity.length; i++) expect(identity[i]! < identity[0]! || (identity[i] === identity[0] && completeness[i]! <= completeness[0]!)).toBe(true);
    const sel = page.getByTestId('rec-selected');
    await expect(sel).toHaveAttribute('data-id', d.candidateId);
    await expect(sel.getByTestId('rec-evidence').locator('li[data-kind="carved-header"]')).not.toHaveCount(0);
    // FD zeroed: the blocks after the header are placed by contiguity, their grains shown as guessed.
    const guessed = d.expectedGuessedGrains!;
    expect(guessed).toBeGreaterThan(0);
    await expect(rows.first().getByTestId('rec-recoverable')).toHaveText(String(d.expectedRecoverableGrains - guessed));
    await expect(rows.first().getByTestId('rec-guessed')).toHaveText(String(guessed));
    await gotoStep(page, 'check');
    await expect(sel.getByTestId('rec-map-canvas')).toBeVisible();
    await expect(sel.getByTestId('rec-map')).toContainText(`guessed: from blocks placed by contiguity, no FD or pointer block lists them (${guessed})`);
    await expect(sel.getByTestId('rec-guessed-run').first()).toBeVisible();
    // The map as a table carries the same counts: its recovered and guessed grains add up to the builder's.
    await sel.getByTestId('rec-map-table').locator('summary').click();
    const sumOf = (attr: string) => sel.getByTestId('rec-map-row').evaluateAll((rs, a) => rs.reduce((n, r) => n + Number(r.getAttribute(a)), 0), attr);
    expect(await sumOf('data-recovered')).toBe(d.expectedRecoverableGrains - guessed);
    expect(await sumOf('data-guessed')).toBe(guessed);

    // The lost runs shown are exactly the builder's, each with its cause.
    const shown = await sel.getByTestId('rec-lost-run').evaluateAll((rs) =>
      rs.map((r) => ({ sector: Number(r.getAttribute('data-sector')), sectors: Number(r.getAttribute('data-sectors')), reason: r.querySelector('[data-testid="rec-lost-reason"]')!.textContent ?? '' })),
    );
    expect(union(shown)).toEqual(union(d.expectedLost));
    for (const l of d.expectedLost) {
      const hit = shown.find((r) => r.sector <= l.sector && l.sector < r.sector + r.sectors)!;
      expect(hit.reason).toMatch(l.kind === 'table' ? /grain table/ : /grain data/);
    }

    // The guessed parent is preselected; export raw through the (overridden) save dialog.
    await expect(sel.getByTestId('rec-parent')).toHaveValue(d.parentPath);
    const out = await exportRawChecked(page, 'output', d.expectedSha256);
    await expect(sel.getByTestId('rec-verified')).toContainText('yes');
    expect(out.size).toBe(d.capacity);

    // The report: the same lost runs, parent and hash.
    const download = page.waitForEvent('download', { timeout: 30_000 });
    await sel.getByTestId('rec-report').click();
    const dl = await download;
    const rep = JSON.parse(readFileSync(await dl.path(), 'utf8')) as { parent: string; lostRuns: { sector: number; sectors: number }[]; hashes: { logicalSha256: string }; totals: { recoverableGrains: number; guessedGrains: number }; candidate: { evidence: unknown[] } };
    expect(rep.hashes.logicalSha256).toBe(d.expectedSha256);
    expect(rep.parent).toBe(d.parentPath);
    expect(union(rep.lostRuns)).toEqual(union(d.expectedLost));
    expect(rep.totals.recoverableGrains).toBe(d.expectedRecoverableGrains - guessed);
    expect(rep.totals.guessedGrains).toBe(guessed);
    expect(rep.candidate.evidence.length).toBeGreaterThan(0);

    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  });

  test('a scan can be cancelled, and runs again afterwards', async ({ page, context, baseURL }) => {
    test.setTimeout(120_000);
    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    await openDump(page, d.dump);
    // Click Find and Cancel in one go: the cancel reaches the worker while the scan reads the dump.
    await page.evaluate(async () => {
      (document.querySelector('[data-testid="rec-find"]') as HTMLButtonElement).click();
      for (let i = 0; i < 200; i++) {
        const c = document.querySelector('[data-testid="rec-cancel"]') as HTMLButtonElement | null;
        if (c) return c.click();
        await new Promise((r) => setTimeout(r, 0));
      }
      throw new Error('no Cancel button while scanning');
    });
    await expect(page.getByTestId('rec-notice')).toHaveText('Scan cancelled.', { timeout: 30_000 });
    await expect(page.getByTestId('rec-candidate')).toHaveCount(0);
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    expect(foreign).toEqual([]);
  });

  /** Candidate rows as the table shows them (id, confidence, recoverable and lost grains). */
  async function candidateRows(page: Page): Promise<string[]> {
    return page.getByTestId('rec-candidate').evaluateAll((rs) => rs.map((r) => [...r.querySelectorAll('td')].slice(1).map((t) => t.textContent?.trim()).join(' | ')));
  }

  /**
   * Test hooks (query parameters the app reads, see recovery.svelte.ts): scanWorkers = carve
   * worker count, scanRanges = range count of a fresh scan, scanRangeDelayMs = extra time per
   * range so a reload lands mid-scan.
   */
  test('a scan split across several workers gives the same candidates as one worker', async ({ page }) => {
    test.setTimeout(180_000);
    await openDump(page, d.dump, '?scanWorkers=1&scanRanges=1');
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await expect(page.getByTestId('rec-ranges')).toHaveAttribute('data-workers', '1');
    const one = await candidateRows(page);

    await openDump(page, d.dump, '?scanWorkers=3&scanRanges=13');
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    const g = page.getByTestId('rec-ranges');
    await expect(g).toHaveAttribute('data-workers', '3');
    await expect(g).toHaveAttribute('data-total', '13');
    await expect(g).toHaveAttribute('data-done', '13');
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(await candidateRows(page)).toEqual(one);
    expect(one.length).toBeGreaterThan(1);
  });

  test('a scan interrupted by a page reload resumes on reopening the same dump and ends with the same candidates', async ({ page }) => {
    test.setTimeout(240_000);
    await openDump(page, d.dump, '?scanWorkers=1&scanRanges=1');
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    const reference = await candidateRows(page);

    const TOTAL = 16;
    await openDump(page, d.dump, `?scanWorkers=2&scanRanges=${TOTAL}&scanRangeDelayMs=500`);
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const g = page.getByTestId('rec-ranges');
    await expect(g).toHaveAttribute('data-done', /^([3-9]|1[0-2])$/, { timeout: 60_000 });
    const seen = Number(await g.getAttribute('data-done'));
    await page.reload();
    await pickDump(page, d.dump);
    // No click: a started scan of the same image continues by itself, saying how far it had got.
    const resumed = page.getByTestId('rec-resumed');
    await gotoStep(page, 'find');
    await expect(resumed).toBeVisible({ timeout: 60_000 });
    const from = Number(await g.getAttribute('data-resumed'));
    expect(from).toBeGreaterThanOrEqual(seen);
    expect(from).toBeLessThan(TOTAL);
    await expect(resumed).toContainText(`${from} of ${TOTAL} ranges were already done`);
    await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await expect(g).toHaveAttribute('data-done', String(TOTAL));
    await expect(page.getByTestId('rec-error')).toHaveCount(0);
    expect(await candidateRows(page)).toEqual(reference);

    // Finished scans are forgotten: reopening again starts nothing by itself.
    await page.reload();
    await pickDump(page, d.dump);
    await page.waitForTimeout(1500);
    await expect(page.getByTestId('rec-ranges')).toHaveCount(0);
    await expect(page.getByTestId('rec-candidate')).toHaveCount(0);
  });

  test('the candidate saved as a delta for use in place: descriptor names the parent by CID, same disk hash as the CLI gives', async ({ page }) => {
    test.setTimeout(180_000);
    await page.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      // The folder picker hands back an OPFS folder: the same type (FileSystemDirectoryHandle) the real one returns.
      w.showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('delta-out', { create: true });
    });
    await openDump(page, d.dump);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('delta-out', { recursive: true }).catch(() => {})));
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const sel = page.getByTestId('rec-selected');
    await expect(sel).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    await expect(sel.getByTestId('rec-parent')).toHaveValue(d.parentPath);
    await gotoStep(page, 'export');
    await sel.getByTestId('rec-export-delta').click();
    await expect(sel.getByTestId('rec-delta-sha256')).toHaveText(/^[0-9a-f]{64}$/, { timeout: 120_000 });
    await expect(page.getByTestId('rec-error')).toHaveCount(0);

    // The CLI's `recover --format delta` (checked against qemu-img in the oracle tests) gives the same disk hash and CID.
    const out = path.join(tmp!.dir, 'cli-delta', 'x.vmdk');
    mkdirSync(path.dirname(out), { recursive: true });
    const cli = runCli(['recover', '--image', d.dump, '--candidate', d.candidateId, '--out', out, '--format', 'delta']);
    expect(cli.code, cli.stderr).toBe(0);
    const lines = cli.stdout.trim().split('\n');
    expect(await sel.getByTestId('rec-delta-sha256').textContent()).toBe(lines[lines.length - 1]);
    const parentCid = /^parentCID=([0-9a-f]{8})$/m.exec(readFileSync(out, 'latin1'))![1]!;
    await expect(sel.getByTestId('rec-delta-parentcid')).toHaveText(parentCid);

    const name = `${d.candidateId}-restored.vmdk`;
    const text = await page.evaluate(async (n) => (await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('delta-out')).getFileHandle(n)).getFile()).text(), name);
    expect(text).toMatch(new RegExp(`^parentCID=${parentCid}$`, 'm'));
    expect(text).toContain(`parentFileNameHint="${path.basename(d.parentPath)}"`);
    expect(text).toContain(`VMFSSPARSE "${d.candidateId}-restored-delta.vmdk"`);
    const data = await hashOpfsFile(page, 'delta-out', `${d.candidateId}-restored-delta.vmdk`);
    expect(data.sha256).toBe(sha256File(lines[lines.length - 2]!));
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('delta-out', { recursive: true }).catch(() => {})));
  });
});

test.describe('find lost snapshots: a deleted two-level chain (case iv)', () => {
  test.skip(!haveOracle, 'qemu-img missing');
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: DeletedChainDump;
  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('recovery-e2e-chain2-');
    d = await buildDeletedChainDump({ dir: tmp.dir, seed: 74 });
  });
  test.afterAll(() => tmp?.cleanup());

  test('the newest deleted delta ranks first with the older one as parent; raw export hashes to the pre-revert chain', async ({ page, context, baseURL }) => {
    test.setTimeout(240_000);
    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    await saveIntoOpfs(page, 'output-chain', 'out.bin');
    await openDump(page, d.dump, '?scanWorkers=2');
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const rows = page.getByTestId('rec-candidate');
    await expect(rows.first()).toHaveAttribute('data-id', d.candidateId, { timeout: 120_000 });
    expect(await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')))).toEqual([d.candidateId, d.middle.candidateId]);
    const sel = page.getByTestId('rec-selected');
    await expect(sel.getByTestId('rec-parent')).toHaveValue(d.parentPath);
    const shown = await sel.getByTestId('rec-lost-run').evaluateAll((rs) => rs.map((r) => ({ sector: Number(r.getAttribute('data-sector')), sectors: Number(r.getAttribute('data-sectors')) })));
    expect(union(shown)).toEqual(union(d.expectedLost));
    await exportRawChecked(page, 'output-chain', d.expectedSha256);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output-chain', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  });
});

test.describe('find lost snapshots: two VMs with same-capacity disks, parent not decided by evidence', () => {
  test.skip(!haveOracle, 'qemu-img missing');
  let tmp: { dir: string; cleanup: () => void } | null = null;
  let d: TwoVmDump;
  test.beforeAll(async () => {
    test.setTimeout(180_000);
    tmp = makeTempDir('recovery-e2e-twovm-');
    d = await buildTwoVmDump({ dir: tmp.dir, seed: 25, evidence: 'none' });
  });
  test.afterAll(() => tmp?.cleanup());

  test('the parent is shown ambiguous with both bases; nothing is built until one is chosen; vm1\'s base gives the pre-revert disk', async ({ page, context, baseURL }) => {
    test.setTimeout(240_000);
    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    await saveIntoOpfs(page, 'output-twovm', 'out.bin');
    await openDump(page, d.dump);
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    const row = page.locator(`[data-testid="rec-candidate"][data-id="${d.candidateId}"]`);
    await expect(row).toBeVisible({ timeout: 120_000 });
    await expect(row.getByTestId('rec-parent-guess')).toContainText('ambiguous');
    await row.locator('input[type="radio"]').check();
    const sel = page.getByTestId('rec-selected');
    await expect(sel).toHaveAttribute('data-id', d.candidateId);
    const amb = sel.getByTestId('rec-parent-ambiguous');
    await gotoStep(page, 'check');
    await expect(amb).toBeVisible();
    const alts = await amb.getByTestId('rec-parent-alternatives').locator('li').evaluateAll((ls) => ls.map((l) => ({ path: l.getAttribute('data-path'), score: Number(l.getAttribute('data-score')) })));
    const top = alts.filter((a) => a.score === alts[0]!.score).map((a) => a.path).sort();
    expect(top).toEqual([d.parentPath, d.otherBase].sort());
    // No silent pick: look inside and export wait for the choice.
    await expect(sel.getByTestId('rec-export')).toBeDisabled();
    await expect(sel.getByTestId('rec-look')).toBeDisabled();
    await expect(sel.getByTestId('rec-export-delta')).toBeDisabled();

    await sel.getByTestId('rec-parent').selectOption(d.parentPath);
    await expect(sel.getByTestId('rec-export')).toBeEnabled();
    await exportRawChecked(page, 'output-twovm', d.expectedSha256);
    await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('output-twovm', { recursive: true }).catch(() => {})));
    expect(foreign).toEqual([]);
  });
});
