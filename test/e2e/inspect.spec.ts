import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { mbrEntry, noiseBytes } from '../builders/recovery/guest-delta.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';
import { gotoStep, PREVIEW_ORIGIN, watchNetwork, withoutFilePickers } from './helpers.js';

/**
 * "Look inside a disk" end to end: a monolithicFlat VMDK whose raw disk carries an MBR with an
 * ext4 partition (mkfs.ext4 -d) and an NTFS partition (mkntfs + ntfscp) is opened in the page;
 * the inspector lists both, browses them, and a downloaded file hashes like its source.
 */

const MiB = 1024 * 1024;
const SECTOR = 512;
const P1_START = 1 * MiB;
const P1_SIZE = 16 * MiB;
const P2_START = P1_START + P1_SIZE;
const P2_SIZE = 16 * MiB;
const DISK_SIZE = P2_START + P2_SIZE + 1 * MiB;

interface Fixture {
  dir: string;
  files: string[];
  /** Source file placed at /docs/deep/data.bin in the ext4 partition. */
  extFile: string;
  ntfsName: string;
  ntfsSrc: string;
  ntfsSize: number;
  cleanup: () => void;
}

let fx: Fixture | null = null;

/** Copies file `src` into `fd` at `offset` with positional writes. */
function copyInto(fd: number, src: string, offset: number): void {
  const data = readFileSync(src);
  writeSync(fd, data, 0, data.length, offset);
}

test.beforeAll(() => {
  if (!oracleAvailable('qemu-img', 'mkfs.ext4', 'mkntfs', 'ntfscp')) return;
  const { dir, cleanup } = makeTempDir('vmfs-rescue-e2e-inspect-');
  // ext4 content: a nested folder holding the file to download.
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'docs', 'deep'), { recursive: true });
  const extFile = path.join(src, 'docs', 'deep', 'data.bin');
  writeFileSync(extFile, noiseBytes(300_000 + 123, 11));
  writeFileSync(path.join(src, 'readme.txt'), 'hello from ext4\n');
  const img1 = path.join(dir, 'p1.img');
  const img2 = path.join(dir, 'p2.img');
  for (const [img, size] of [[img1, P1_SIZE], [img2, P2_SIZE]] as const) {
    closeSync(openSync(img, 'w'));
    run('truncate', ['-s', String(size), img]);
  }
  run('mkfs.ext4', ['-q', '-F', '-d', src, img1]);
  run('mkntfs', ['-F', '-f', '-q', img2]);
  const ntfsSrc = path.join(dir, 'ntfs-file.bin');
  const ntfsSize = 70_000 + 7;
  writeFileSync(ntfsSrc, noiseBytes(ntfsSize, 22));
  const ntfsName = 'notes.bin';
  run('ntfscp', ['-f', img2, ntfsSrc, ntfsName]);

  // The raw disk (sparse): MBR, then both filesystem images at their partition offsets.
  const flat = path.join(dir, 'disk-flat.vmdk');
  closeSync(openSync(flat, 'w'));
  run('truncate', ['-s', String(DISK_SIZE), flat]);
  const mbr = Buffer.alloc(SECTOR);
  mbr.writeUInt32LE(0x12345678, 0x1b8); // disk signature
  mbrEntry(mbr, 0, 0x83, P1_START, P1_SIZE);
  mbrEntry(mbr, 1, 0x07, P2_START, P2_SIZE);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const fd = openSync(flat, 'r+');
  try {
    writeSync(fd, mbr, 0, SECTOR, 0);
    copyInto(fd, img1, P1_START);
    copyInto(fd, img2, P2_START);
  } finally {
    closeSync(fd);
  }
  const sectors = DISK_SIZE / SECTOR;
  const descriptor = [
    '# Disk DescriptorFile',
    'version=1',
    'CID=1a2b3c4d',
    'parentCID=ffffffff',
    'createType="monolithicFlat"',
    '',
    '# Extent description',
    `RW ${sectors} FLAT "disk-flat.vmdk" 0`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.virtualHWVersion = "8"',
    'ddb.adapterType = "lsilogic"',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'disk.vmdk'), descriptor);
  // The oracle reads the same descriptor: format and size must match what we built.
  const info = JSON.parse(run('qemu-img', ['info', '--output=json', path.join(dir, 'disk.vmdk')])) as { format: string; 'virtual-size': number };
  if (info.format !== 'vmdk' || info['virtual-size'] !== DISK_SIZE) throw new Error(`qemu-img info: ${JSON.stringify(info)}`);
  fx = { dir, files: ['disk.vmdk', 'disk-flat.vmdk'], extFile, ntfsName, ntfsSrc, ntfsSize, cleanup };
});

test.afterAll(() => fx?.cleanup());

test('look inside a disk: list ext4 and NTFS partitions, browse both, download a file', async ({ page, context }) => {
  test.skip(!fx, 'qemu-img / mkfs.ext4 / mkntfs / ntfscp missing');
  const f = fx!;
  const foreign = watchNetwork(context, PREVIEW_ORIGIN);
  await withoutFilePickers(page);
  await page.goto('/');
  await page.getByTestId('file-input').setInputFiles(f.files.map((n) => path.join(f.dir, n)));
  await expect(page.getByTestId('chain-link')).toHaveCount(1, { timeout: 30_000 });
  await gotoStep(page, 'check');

  const inspector = page.getByTestId('disk-inspector');
  const parts = inspector.getByTestId('gi-partitions');
  await expect(parts.locator('caption')).toContainText('MBR', { timeout: 30_000 });
  const rows = parts.locator('tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText('Linux');
  await expect(rows.nth(0).locator('td').nth(2)).toHaveText(/^ext4/);
  await expect(rows.nth(0).locator('td').nth(3)).toHaveText(`0x${P1_START.toString(16)}`);
  await expect(rows.nth(1)).toContainText('NTFS');
  await expect(rows.nth(1).locator('td').nth(2)).toHaveText(/^ntfs/);
  await expect(rows.nth(1).locator('td').nth(3)).toHaveText(`0x${P2_START.toString(16)}`);
  await expect(inspector.getByTestId('gi-error')).toHaveCount(0);

  // ext4: root → docs → deep, then download data.bin.
  await rows.nth(0).getByRole('button', { name: 'Browse' }).click();
  const files = inspector.getByTestId('gi-files');
  await expect(files).toContainText('readme.txt');
  await files.getByRole('button', { name: 'docs/' }).click();
  await expect(inspector.getByTestId('gi-breadcrumb')).toContainText('docs');
  await files.getByRole('button', { name: 'deep/' }).click();
  await expect(inspector.getByTestId('gi-breadcrumb')).toContainText('deep');
  const row = files.locator('tbody tr', { hasText: 'data.bin' });
  await expect(row).toHaveCount(1);
  const download = page.waitForEvent('download', { timeout: 30_000 });
  await row.getByRole('button', { name: 'Download data.bin' }).click();
  const d = await download;
  expect(d.suggestedFilename()).toBe('data.bin');
  const saved = await d.path();
  expect(statSync(saved).size).toBe(statSync(f.extFile).size);
  expect(sha256File(saved)).toBe(sha256File(f.extFile));

  // NTFS: the root lists the file ntfscp wrote, with its size.
  await rows.nth(1).getByRole('button', { name: 'Browse' }).click();
  await expect(inspector.getByTestId('gi-breadcrumb')).toContainText('partition 2');
  const ntfsRow = files.locator('tbody tr', { hasText: f.ntfsName });
  await expect(ntfsRow).toHaveCount(1);
  await expect(ntfsRow.locator('td').nth(1)).toHaveText('file');
  // 70 007 B = 68.37 KiB, shown with one decimal.
  await expect(ntfsRow.locator('td').nth(2)).toHaveText('68.4 KiB');
  // And the exact size: the downloaded content equals what ntfscp copied in.
  const d2 = page.waitForEvent('download', { timeout: 30_000 });
  await ntfsRow.getByRole('button', { name: `Download ${f.ntfsName}` }).click();
  const saved2 = await (await d2).path();
  expect(statSync(saved2).size).toBe(f.ntfsSize);
  expect(sha256File(saved2)).toBe(sha256File(f.ntfsSrc));
  await expect(inspector.getByTestId('gi-error')).toHaveCount(0);

  expect(foreign, 'requests outside the preview server').toEqual([]);
});
