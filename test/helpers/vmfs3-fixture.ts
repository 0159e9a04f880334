import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** The real ESX VMFS3 fixture (../shared/fixtures/vmfs3-esx beside the clone). */
const repoRoot = path.resolve(import.meta.dirname, '../..');
export const FIXTURE_DIR = path.resolve(repoRoot, '../shared/fixtures/vmfs3-esx');
const GZ = path.join(FIXTURE_DIR, 'test-vmfs3.img.gz');

/** The raw image's sha256, as the fixture's README states it (not computed by our code). */
export function expectedSha(): string {
  const m = /sha256 of raw \| `([0-9a-f]{64})`/.exec(readFileSync(path.join(FIXTURE_DIR, 'README.md'), 'utf8'));
  if (!m) throw new Error('fixture README has no sha256');
  return m[1]!;
}

/**
 * Gunzips once into os.tmpdir() keyed by the sha256, writing holes for all-zero chunks (the image
 * is 1.2 GB, almost all zeros), and checks the hash before first use.
 */
export async function fixtureImage(): Promise<string> {
  const sha = expectedSha();
  const dir = path.join(tmpdir(), `vmfs-rescue-fixture-${sha}`);
  const img = path.join(dir, 'test-vmfs3.img');
  if (existsSync(img)) return img;
  mkdirSync(dir, { recursive: true });
  const part = `${img}.part-${process.pid}`;
  const fh = await open(part, 'w');
  const hash = createHash('sha256');
  let pos = 0;
  const writer = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      const at = pos;
      pos += chunk.length;
      if (chunk.every((b) => b === 0)) return cb(); // leave a hole
      fh.write(chunk, 0, chunk.length, at).then(() => cb(), cb);
    },
  });
  await pipeline(createReadStream(GZ), createGunzip({ chunkSize: 1 << 16 }), writer);
  await fh.truncate(pos);
  await fh.close();
  const got = hash.digest('hex');
  if (got !== sha) {
    rmSync(part, { force: true });
    throw new Error(`fixture sha256 ${got} != README ${sha}`);
  }
  renameSync(part, img);
  return img;
}

