import { createHash } from 'node:crypto';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';

/**
 * The built-in demo end to end, against the production build: "Try the demo" generates a datastore
 * dump in the tab (no file, no network), the user finds the deleted snapshot delta and exports it
 * raw; the exported disk must hash to what the demo generator predicts (shown in its guide,
 * computed from the generator's own inputs, never by the recovery code), all within a minute.
 */

const CHUNK = 4 * 1024 * 1024;

function watchNetwork(context: BrowserContext, origin: string): string[] {
  const foreign: string[] = [];
  context.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('blob:') || url.startsWith('data:')) return;
    if (new URL(url).origin !== origin) foreign.push(url);
  });
  return foreign;
}

/** SHA-256 of an OPFS file, read back in chunks (all-zero chunks are only reported, not sent). */
async function hashOpfsFile(page: Page, folder: string, name: string): Promise<{ sha256: string; size: number }> {
  const size = await page.evaluate(
    async ({ folder, name }) => (await (await (await navigator.storage.getDirectory()).getDirectoryHandle(folder)).getFileHandle(name)).getFile().then((f) => f.size),
    { folder, name },
  );
  const h = createHash('sha256');
  for (let off = 0; off < size; off += CHUNK) {
    const len = Math.min(CHUNK, size - off);
    const b64 = await page.evaluate(
      async ({ folder, name, off, len }) => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
        const f = await (await dir.getFileHandle(name)).getFile();
        const bytes = new Uint8Array(await f.slice(off, off + len).arrayBuffer());
        if (bytes.length !== len) throw new Error(`short read at ${off}`);
        if (bytes.every((b) => b === 0)) return null;
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      },
      { folder, name, off, len },
    );
    h.update(b64 === null ? Buffer.alloc(len) : Buffer.from(b64, 'base64'));
  }
  return { sha256: h.digest('hex'), size };
}

test('try the demo: find the deleted delta and export it with the predicted sha256, in under a minute', async ({ page, context, baseURL }) => {
  test.setTimeout(120_000);
  const origin = new URL(baseURL ?? 'http://127.0.0.1:4173').origin;
  const foreign = watchNetwork(context, origin);
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    // The save dialog hands back an OPFS file: the same type (FileSystemFileHandle) the real one returns.
    w.showSaveFilePicker = async (o?: { suggestedName?: string }) => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('demo-output', { create: true });
      w.__savedName = o?.suggestedName ?? 'out.bin';
      return dir.getFileHandle(String(w.__savedName), { create: true });
    };
  });
  await page.goto('/');
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('demo-output', { recursive: true }).catch(() => {})));

  const t0 = Date.now();
  await page.getByTestId('try-demo').click();
  const guide = page.getByTestId('demo-guide');
  await expect(guide).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('ds-version')).toContainText('VMFS-5');
  const expected = (await guide.getAttribute('data-expected-sha256'))!;
  const candidate = (await guide.getAttribute('data-candidate'))!;
  expect(expected).toMatch(/^[0-9a-f]{64}$/);
  await expect(page.getByTestId('demo-expected-sha256')).toHaveText(expected);
  // The VM folder is there, as a newcomer would browse it.
  await expect(page.getByTestId('ds-view')).toContainText('demo-vm');

  await page.getByTestId('rec-find').click();
  const rows = page.getByTestId('rec-candidate');
  await expect(rows.first()).toHaveAttribute('data-id', candidate, { timeout: 30_000 });
  await expect(page.getByTestId('rec-error')).toHaveCount(0);
  const sel = page.getByTestId('rec-selected');
  await expect(sel).toHaveAttribute('data-id', candidate);
  await expect(sel.getByTestId('rec-lost-run')).not.toHaveCount(0);
  await sel.getByTestId('rec-format').selectOption('raw');
  await sel.getByTestId('rec-export').click();
  await expect(sel.getByTestId('rec-sha256')).toHaveText(/^[0-9a-f]{64}$/, { timeout: 40_000 });
  expect(await sel.getByTestId('rec-sha256').textContent()).toBe(expected);
  const elapsed = Date.now() - t0;
  expect(elapsed).toBeLessThan(60_000);

  const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
  const out = await hashOpfsFile(page, 'demo-output', saved);
  expect(out.sha256).toBe(expected);
  await page.evaluate(() => navigator.storage.getDirectory().then((r) => r.removeEntry('demo-output', { recursive: true }).catch(() => {})));
  expect(foreign).toEqual([]);
  console.log(`demo end to end in ${elapsed} ms`);
});
