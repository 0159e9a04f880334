import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { buildScanBenchDump, type ScanBenchDump } from '../../bench/recovery-scan.js';
import { gotoStep, openDumpFiles, traceMainThread, watchNetwork } from './helpers.js';

/**
 * During a scan of a LARGE dump, no main-thread task uses over 200 ms of CPU. A sparse VMFS5 dump
 * of 3 GiB (the bench's builder: a live flat disk, random garbage at the head of most free blocks,
 * three deleted COWD deltas, one with its freed FD; ~0.3 GiB really written) is opened through the file input and scanned
 * with the worker pool under a Chromium trace (thread CPU per task, not wall time, so the check
 * holds on a busy machine); the scan must find every delta the builder wrote.
 */

const LIMIT_MS = 200;
const SEGMENTS = 12; // 12 × 256 MiB

let dir = '';
let dump: ScanBenchDump;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dir = mkdtempSync(path.join(tmpdir(), 'large-scan-e2e-'));
  dump = await buildScanBenchDump(dir, () => {}, SEGMENTS);
});

test.afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('no main-thread task over 200 ms while a 3 GiB dump is scanned; every deleted delta is found', async ({ page, context, baseURL, browser }) => {
  test.setTimeout(240_000);
  expect(dump.size).toBeGreaterThan(2.9 * 1024 ** 3);
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  // Two carve workers whatever the machine, eight ranges each (the app's default split).
  await page.goto('/?scanWorkers=2');
  await openDumpFiles(page, dump.path);
  await expect(page.getByTestId('ds-version')).toContainText('VMFS-5', { timeout: 60_000 });
  await expect(page.getByTestId('rec-find')).toBeEnabled({ timeout: 60_000 });

  const from = Date.now();
  const { tasks } = await traceMainThread(browser, page, async () => {
    await gotoStep(page, 'find');
    await page.getByTestId('rec-find').click();
    await expect(page.locator('[data-testid="rec-candidate"], [data-testid="rec-none"], [data-testid="rec-error"]').first()).toBeVisible({ timeout: 180_000 });
  });
  const wall = Date.now() - from;
  await expect(page.getByTestId('rec-error')).toHaveCount(0);
  const ids = await page.getByTestId('rec-candidate').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')));
  expect(ids.sort()).toEqual(dump.deltaBlocks.map((b) => `delta-${b}`).sort());
  await expect(page.getByTestId('rec-ranges')).toHaveAttribute('data-workers', '2');

  const heavy = tasks.filter((t) => t.cpuMs > 50).map((t) => `${Math.round(t.cpuMs)} ms CPU (${Math.round(t.wallMs)} ms wall)`);
  console.log(`scan of ${(dump.size / 1024 ** 3).toFixed(2)} GiB (${dump.freeBlocks} free blocks) in ${wall} ms; main-thread tasks over 50 ms CPU: ${heavy.join(', ') || 'none'}`);
  expect(tasks.length, 'main-thread tasks traced').toBeGreaterThan(0);
  expect(tasks.filter((t) => t.cpuMs > LIMIT_MS)).toEqual([]);
  expect(foreign).toEqual([]);
});
