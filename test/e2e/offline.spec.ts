import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { gotoStep, watchNetwork } from './helpers.js';

/**
 * Offline use, against the production build: after the first load the service worker controls the
 * page and holds every file of the build, so with the network cut a reload still brings the app up
 * and the built-in demo still runs to its candidate list. The manifest makes the app installable
 * (Chromium's own installability check, through the DevTools protocol, must report nothing; it only
 * runs outside incognito, so that test uses a persistent profile).
 */

/** Resolves once a service worker controls the page (the first visit: after clients.claim()). */
async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) return;
    await new Promise<void>((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }));
  });
}

test('after the first load the app works offline: reload, then the demo finds the lost snapshot', async ({ page, context, baseURL }) => {
  test.setTimeout(120_000);
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));

  await page.goto('/');
  await waitForServiceWorker(page);

  // The manifest is linked and parses, with what installing needs.
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const manifestUrl = new URL(href!, page.url()).href;
  const res = await page.request.get(manifestUrl);
  expect(res.ok()).toBe(true);
  const manifest = (await res.json()) as { name?: string; start_url?: string; display?: string; icons?: { src: string; sizes: string; type: string }[] };
  expect(manifest.name).toBe('vmfs-rescue');
  expect(manifest.display).toBe('standalone');
  expect(new URL(manifest.start_url!, manifestUrl).href).toBe(new URL('./', manifestUrl).href);
  const pngSizes = (manifest.icons ?? []).filter((i) => i.type === 'image/png').map((i) => i.sizes);
  expect(pngSizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
  for (const icon of manifest.icons ?? []) {
    const r = await page.request.get(new URL(icon.src, manifestUrl).href);
    expect(r.ok(), icon.src).toBe(true);
    const body = await r.body();
    if (icon.type === 'image/png') {
      // IHDR width and height match the declared size.
      expect(body.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(`${body.readUInt32BE(16)}x${body.readUInt32BE(20)}`).toBe(icon.sizes);
    } else {
      expect(body.toString('utf8')).toContain('<svg');
    }
  }
  // Chromium's own view: the manifest parses without errors and nothing blocks installing.
  const cdp = await context.newCDPSession(page);
  const parsed = (await cdp.send('Page.getAppManifest')) as { url: string; errors: { message: string; critical: number }[] };
  expect(parsed.url).toBe(manifestUrl);
  expect(parsed.errors).toEqual([]);

  // Every file of the build is in the cache, worker chunks included.
  const cached = await page.evaluate(async () => {
    const urls: string[] = [];
    for (const key of await caches.keys()) for (const req of await (await caches.open(key)).keys()) urls.push(new URL(req.url).pathname);
    return { keys: await caches.keys(), urls };
  });
  expect(cached.keys).toHaveLength(1);
  expect(cached.keys[0]).toMatch(/^vmfs-rescue-[0-9a-f]+$/);
  const scripts = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
  for (const p of ['/index.html', '/manifest.webmanifest', '/icon-192.png', ...scripts.filter((s) => s.endsWith('.js') || s.endsWith('.css'))]) {
    expect(cached.urls, p).toContain(p);
  }
  expect(cached.urls.filter((u) => /\.worker-[\w-]+\.js$/.test(u)).length).toBeGreaterThanOrEqual(2);

  // Cut the network: the reload comes from the service worker.
  await context.setOffline(true);
  const reload = await page.reload();
  expect(reload?.fromServiceWorker()).toBe(true);
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

  // The demo runs end to end to the candidate list with no network at all.
  await page.getByTestId('try-demo').click();
  const guide = page.getByTestId('demo-guide');
  await expect(guide).toBeVisible({ timeout: 30_000 });
  const candidate = (await guide.getAttribute('data-candidate'))!;
  await gotoStep(page, 'find');
  await page.getByTestId('rec-find').click();
  await expect(page.getByTestId('rec-candidate').first()).toHaveAttribute('data-id', candidate, { timeout: 30_000 });
  await expect(page.getByTestId('rec-error')).toHaveCount(0);

  // The network really is cut: what the cache lacks does not load.
  const probe = await context.newPage();
  await expect(probe.goto('/not-in-the-build.txt')).rejects.toThrow(/ERR_INTERNET_DISCONNECTED|ERR_FAILED/);
  await probe.close();

  await context.setOffline(false);
  expect(failed).toEqual([]);
  expect(foreign).toEqual([]);
});

test('the app is installable: Chromium reports no installability error', async ({ playwright, launchOptions, baseURL }) => {
  const profile = mkdtempSync(join(tmpdir(), 'vmfs-rescue-pwa-'));
  const context = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions, baseURL });
  try {
    const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
    const foreign = watchNetwork(context, origin);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto('/');
    await waitForServiceWorker(page);
    const cdp = await context.newCDPSession(page);
    const install = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    expect(install.installabilityErrors).toEqual([]);
    expect(foreign).toEqual([]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
