import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { buildCowdDelta } from '../builders/cowd.js';
import { buildFlatBaseQemu } from '../builders/delta-common.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';
import { gotoStep, hashOpfsFile, readOpfsFile, saveIntoOpfs, watchNetwork, withoutFilePickers, PREVIEW_ORIGIN } from './helpers.js';

/**
 * The browser slice end to end, against the production build served by `vite preview`:
 * a COWD delta over a qemu-made flat base is opened in the page, exported, and the output's
 * SHA-256 is compared with `qemu-img convert -O raw` of the same chain (the oracle).
 */

const MiB = 1024 * 1024;
const CAPACITY = 8 * MiB;
/** Bytes per page.evaluate round trip when copying fixtures in (base64 inside a JSON message). */
const CHUNK = 1 * MiB;

interface Fixture {
  dir: string;
  files: string[];
  top: string;
  expectedSha256: string;
  cleanup: () => void;
}

let fx: Fixture | null = null;

test.beforeAll(() => {
  if (!oracleAvailable('qemu-img', 'qemu-io')) return;
  const { dir, cleanup } = makeTempDir('vmfs-rescue-e2e-');
  // Base: qemu's own monolithicFlat disk with three patterned regions.
  const base = buildFlatBaseQemu(dir, 'base', CAPACITY, [
    { offset: 0, length: 1 * MiB, pattern: 0x11 },
    { offset: 3 * MiB, length: 512 * 1024, pattern: 0x22 },
    { offset: 6 * MiB, length: 2 * MiB, pattern: 0x33 },
  ]);
  // Delta: ESXi-style COWD (512-byte grains) overwriting parts of the base and some empty areas,
  // with unaligned run lengths so grain tables fill partly.
  const bytes = (n: number, seed: number): Uint8Array => {
    const b = new Uint8Array(n);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  };
  const top = buildCowdDelta({
    dir,
    name: 'base-000001',
    capacity: CAPACITY,
    writes: [
      { offset: 512, data: bytes(3 * 512, 7) },
      { offset: 2 * MiB + 4096, data: bytes(100 * 512, 8) },
      { offset: 3 * MiB + 256 * 1024, length: 512 * 1024, pattern: 0x44 },
      { offset: 8 * MiB - 1024, data: bytes(1024, 9) },
    ],
    parentFileNameHint: 'base.vmdk',
    parentCid: base.cid,
  });
  const raw = path.join(dir, 'expected.raw');
  run('qemu-img', ['convert', '-O', 'raw', top.descriptorPath, raw]);
  const expectedSha256 = sha256File(raw);
  fx = {
    dir,
    files: readdirSync(dir).filter((f) => f.endsWith('.vmdk')),
    top: path.basename(top.descriptorPath),
    expectedSha256,
    cleanup,
  };
});

test.afterAll(() => fx?.cleanup());

async function expectCsp(page: Page): Promise<void> {
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(csp).toBeTruthy();
  expect(csp).toContain("connect-src 'none'");
  expect(csp).toContain("default-src 'none'");
  // And the browser enforces it: even a same-origin fetch is refused before any request is made.
  const outcome = await page.evaluate(() => fetch('./index.html').then(() => 'fetched', () => 'blocked'));
  expect(outcome).toBe('blocked');
}

/** Copies the fixture files into OPFS folder `folder` inside the page, in chunks; `edit` may rewrite a file first. */
async function copyIntoOpfs(page: Page, f: Fixture, folder = 'input', edit?: (name: string, b: Buffer) => Buffer): Promise<void> {
  for (const name of f.files) {
    const file = path.join(f.dir, name);
    const data = edit ? edit(name, readFileSync(file)) : readFileSync(file);
    const size = data.length;
    const write = async ({ folder, n, off, b64 }: { folder: string; n: string; off: number; b64: string }) => {
      let dir = await navigator.storage.getDirectory();
      for (const seg of folder.split('/')) dir = await dir.getDirectoryHandle(seg, { create: true });
      const h = await dir.getFileHandle(n, { create: true });
      const w = await h.createWritable({ keepExistingData: off > 0 });
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      await w.write({ type: 'write', position: off, data: bytes });
      await w.close();
    };
    for (let off = 0; off === 0 || off < size; off += CHUNK) {
      const b64 = data.subarray(off, Math.min(size, off + CHUNK)).toString('base64');
      await page.evaluate(write, { folder, n: name, off, b64 });
    }
    const got = await page.evaluate(
      async ({ folder, n }) => {
        let dir = await navigator.storage.getDirectory();
        for (const seg of folder.split('/')) dir = await dir.getDirectoryHandle(seg);
        return (await (await dir.getFileHandle(n)).getFile()).size;
      },
      { folder, n: name },
    );
    expect(got, `OPFS copy of ${name}`).toBe(size);
  }
}

/** Writes an OPFS file to `dest` on disk. */
async function copyOutOfOpfs(page: Page, folder: string, name: string, dest: string): Promise<void> {
  const parts: Buffer[] = [];
  await readOpfsFile(page, folder, name, (c) => parts.push(c));
  writeFileSync(dest, Buffer.concat(parts));
}

async function clearOpfs(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    for (const n of ['input', 'output', 'exports']) await root.removeEntry(n, { recursive: true }).catch(() => {});
  });
}

async function expectChain(page: Page, f: Fixture): Promise<void> {
  const links = page.getByTestId('chain-link');
  await expect(links).toHaveCount(2, { timeout: 30_000 });
  await expect(links.nth(0)).toContainText(f.top);
  await expect(links.nth(0)).toContainText('vmfsSparse');
  await expect(links.nth(0).getByTestId('cid-status')).toHaveText('ok');
  await expect(links.nth(1)).toContainText('base.vmdk');
  await expect(links.nth(1).getByTestId('cid-status')).toHaveText('base');
  await expect(page.getByTestId('chain-diagram').getByTestId('chain-edge')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('top-select')).toHaveValue(f.top);
  await expect(page.getByTestId('grain-summary')).toContainText('stored in this layer');
  // The canvas as a table: the columns where the top layer stores data are listed.
  await expect(page.getByTestId('grain-table').getByTestId('grain-table-row')).not.toHaveCount(0);
  await expect(page.getByTestId('error')).toHaveCount(0);
}

test('open a COWD-over-flat chain through showOpenFilePicker, export raw through showSaveFilePicker', async ({ page, context }) => {
  test.skip(!fx, 'qemu-img / qemu-io missing');
  const f = fx!;
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  // The pickers hand back OPFS handles: same type (FileSystemFileHandle) as the real dialogs return.
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.showOpenFilePicker = async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('input');
      const out: FileSystemHandle[] = [];
      for await (const h of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) out.push(h);
      return out;
    };
  });
  await saveIntoOpfs(page, 'output', 'out.img');
  await page.goto('/');
  await expectCsp(page);
  await clearOpfs(page);
  await copyIntoOpfs(page, f);

  await page.getByTestId('pick-files').click();
  await expectChain(page, f);

  await gotoStep(page, 'export');
  await page.getByTestId('export-format').selectOption('raw');
  await page.getByTestId('export').click();
  await expect(page.getByTestId('result-sha256')).toHaveText(f.expectedSha256, { timeout: 60_000 });
  await expect(page.getByTestId('result-verified')).toContainText('yes');

  const saved = String(await page.evaluate(() => (window as unknown as Record<string, unknown>).__savedName));
  expect(saved).toMatch(/\.img$/);
  const out = await hashOpfsFile(page, 'output', saved);
  expect(out.size).toBe(CAPACITY);
  expect(out.sha256).toBe(f.expectedSha256);

  await clearOpfs(page);
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

test('open through the fallback file input, export raw to browser storage and download it', async ({ page, context }) => {
  test.skip(!fx, 'qemu-img / qemu-io missing');
  const f = fx!;
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  await withoutFilePickers(page);
  await page.goto('/');
  await expectCsp(page);
  await expect(page.getByTestId('pick-files')).toHaveCount(0);

  await page.getByTestId('file-input').setInputFiles(f.files.map((n) => path.join(f.dir, n)));
  await expectChain(page, f);

  await gotoStep(page, 'export');
  await page.getByTestId('export-format').selectOption('raw');
  const download = page.waitForEvent('download', { timeout: 60_000 });
  await page.getByTestId('export').click();
  const d = await download;
  expect(d.suggestedFilename()).toMatch(/\.img$/);
  await expect(page.getByTestId('result-sha256')).toHaveText(f.expectedSha256);
  await expect(page.getByTestId('result-verified')).toContainText('yes');
  const file = await d.path();
  expect(statSync(file).size).toBe(CAPACITY);
  expect(sha256File(file)).toBe(f.expectedSha256);

  await clearOpfs(page);
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

// The VMDK outputs are judged by qemu-img: converted back to raw, they must hash like the chain.
for (const format of ['sparse', 'stream', 'flat'] as const) {
  test(`export ${format} and read it back with qemu-img`, async ({ page, context }) => {
    test.skip(!fx, 'qemu-img / qemu-io missing');
    const f = fx!;
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await page.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      const out = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('output', { create: true });
      w.showSaveFilePicker = async (o?: { suggestedName?: string }) => {
        w.__savedName = o?.suggestedName ?? 'out.vmdk';
        return (await out()).getFileHandle(String(w.__savedName), { create: true });
      };
      // Flat exports write two files, so the app asks for a folder.
      w.showDirectoryPicker = async () => out();
    });
    await page.goto('/');
    await clearOpfs(page);
    await page.getByTestId('file-input').setInputFiles(f.files.map((n) => path.join(f.dir, n)));
    await expectChain(page, f);
    await gotoStep(page, 'export');
    await page.getByTestId('export-format').selectOption(format);
    await page.getByTestId('export').click();
    await expect(page.getByTestId('result-sha256')).toHaveText(f.expectedSha256, { timeout: 60_000 });
    await expect(page.getByTestId('result-verified')).toContainText('yes');

    const names = await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('output');
      const out: string[] = [];
      for await (const h of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) out.push(h.name);
      return out.sort();
    });
    expect(names.some((n) => n.endsWith('.partial')), `leftover partial files: ${names.join(', ')}`).toBe(false);
    expect(names.length).toBe(format === 'flat' ? 2 : 1);
    const outDir = path.join(f.dir, `out-${format}`);
    run('mkdir', ['-p', outDir]);
    for (const n of names) await copyOutOfOpfs(page, 'output', n, path.join(outDir, n));
    const main = names.find((n) => !n.endsWith('-flat.vmdk'))!;
    const raw = path.join(outDir, 'back.raw');
    run('qemu-img', ['convert', '-O', 'raw', path.join(outDir, main), raw]);
    expect(sha256File(raw)).toBe(f.expectedSha256);

    await clearOpfs(page);
    expect(foreign, 'requests outside the preview server').toEqual([]);
  });
}

test('a parentCID mismatch is reported in one line and can be overridden', async ({ page, context }) => {
  test.skip(!fx, 'qemu-img / qemu-io missing');
  const f = fx!;
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  await page.goto('/');
  const files = f.files.map((n) => {
    let buffer = readFileSync(path.join(f.dir, n));
    if (n === f.top) buffer = Buffer.from(buffer.toString('latin1').replace(/^parentCID=[0-9a-f]+$/m, 'parentCID=0badc1d0'), 'latin1');
    return { name: n, mimeType: 'application/octet-stream', buffer };
  });
  await page.getByTestId('file-input').setInputFiles(files);
  const error = page.getByTestId('error');
  await expect(error).toContainText('CID mismatch', { timeout: 30_000 });
  await expect(error).toContainText('0badc1d0');
  expect((await error.innerText()).trim().split('\n').length).toBe(1);
  await page.getByTestId('ignore-cid').click({ timeout: 10_000 });
  const links = page.getByTestId('chain-link');
  await expect(links).toHaveCount(2, { timeout: 30_000 });
  await expect(links.nth(0).getByTestId('cid-status')).toHaveText('BROKEN');
  // The diagram says the same: one edge, broken, naming the parentCID the top carries.
  const edge = page.getByTestId('chain-diagram').getByTestId('chain-edge');
  await expect(edge).toHaveCount(1);
  await expect(edge).toHaveAttribute('data-ok', 'false');
  await expect(edge).toContainText('0badc1d0');
  await expect(error).toHaveCount(0);
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

test('open a picked folder whose descriptor names its parent by an absolute datastore path', async ({ page, context }) => {
  test.skip(!fx, 'qemu-img / qemu-io missing');
  const f = fx!;
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('input');
  });
  await page.goto('/');
  await clearOpfs(page);
  // As copied off an ESXi host: a VM folder, and the hint as ESXi writes it (absolute). The folder
  // also holds an unrelated file, which the scan must pass over.
  await copyIntoOpfs(page, f, 'input/vm', (name, b) =>
    name === f.top ? Buffer.from(b.toString('latin1').replace(/parentFileNameHint="[^"]*"/, 'parentFileNameHint="/vmfs/volumes/5f0c1e2a-11aa22bb-3c4d-001122334455/vm/base.vmdk"'), 'latin1') : b,
  );
  await page.evaluate(async () => {
    const d = await (await navigator.storage.getDirectory()).getDirectoryHandle('input');
    const w = await (await d.getFileHandle('vm.vmx', { create: true })).createWritable();
    await w.write('displayName = "vm"\n');
    await w.close();
  });
  await page.getByTestId('pick-folder').click();
  const links = page.getByTestId('chain-link');
  await expect(links).toHaveCount(2, { timeout: 30_000 });
  await expect(links.nth(0)).toContainText(`vm/${f.top}`);
  await expect(links.nth(1)).toContainText('vm/base.vmdk');
  await expect(page.getByTestId('top-select')).toHaveValue(`vm/${f.top}`);
  await expect(page.getByTestId('picked-summary')).toContainText('5 files picked, 4 VMDK files');
  await expect(page.getByTestId('error')).toHaveCount(0);
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

test('open by dropping the files onto the page', async ({ page, context }) => {
  test.skip(!fx, 'qemu-img / qemu-io missing');
  const f = fx!;
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  await page.goto('/');
  await clearOpfs(page);
  await copyIntoOpfs(page, f);
  const dataTransfer = await page.evaluateHandle(async () => {
    const dt = new DataTransfer();
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('input');
    for await (const h of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
      dt.items.add(await (h as FileSystemFileHandle).getFile());
    }
    return dt;
  });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expectChain(page, f);
  await clearOpfs(page);
  expect(foreign, 'requests outside the preview server').toEqual([]);
});

test('a long export shows progress and can be cancelled without leaving a file behind', async ({ page, context }) => {
  test.skip(!oracleAvailable('qemu-img', 'qemu-io'), 'qemu-img / qemu-io missing');
  // 4 GiB of mostly holes: hashing alone takes many seconds, long enough to press Cancel.
  const big = 4 * 1024 * MiB;
  const { dir, cleanup } = makeTempDir('vmfs-rescue-e2e-big-');
  try {
    const base = buildFlatBaseQemu(dir, 'big', big, [{ offset: 0, length: MiB, pattern: 0x5a }]);
    const top = buildCowdDelta({ dir, name: 'big-000001', capacity: big, writes: [{ offset: 2 * MiB, length: 64 * 1024, pattern: 0xa5 }], parentFileNameHint: 'big.vmdk', parentCid: base.cid });
    const foreign = watchNetwork(context, PREVIEW_ORIGIN);
    await page.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      w.showSaveFilePicker = async (o?: { suggestedName?: string }) =>
        (await (await navigator.storage.getDirectory()).getDirectoryHandle('output', { create: true })).getFileHandle(o?.suggestedName ?? 'x', { create: true });
    });
    await page.goto('/');
    await clearOpfs(page);
    const names = readdirSync(dir).filter((n) => n.endsWith('.vmdk'));
    await page.getByTestId('file-input').setInputFiles(names.map((n) => path.join(dir, n)));
    await expect(page.getByTestId('chain-link')).toHaveCount(2, { timeout: 30_000 });
    await expect(page.getByTestId('top-select')).toHaveValue(path.basename(top.descriptorPath));
    await gotoStep(page, 'export');
    await page.getByTestId('export').click();
    await expect(page.getByTestId('progress')).toBeVisible();
    await expect(page.getByTestId('progress').locator('progress')).toHaveAttribute('max', String(big), { timeout: 10_000 });
    await page.getByTestId('cancel').click();
    await expect(page.getByText('Cancelled.')).toBeVisible({ timeout: 20_000 });
    await expect(page.getByTestId('result')).toHaveCount(0);
    await expect(page.getByTestId('error')).toHaveCount(0);
    // The writable stream was aborted: the picked file never received data (no half-written disk).
    const sizes = await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('output');
      const out: number[] = [];
      for await (const h of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
        if (h.kind === 'file') out.push((await (h as FileSystemFileHandle).getFile()).size);
      }
      return out;
    });
    expect(sizes.every((s) => s === 0)).toBe(true);
    await clearOpfs(page);
    expect(foreign, 'requests outside the preview server').toEqual([]);
  } finally {
    cleanup();
  }
});
