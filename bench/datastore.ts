/**
 * Datastore benches (wired into bench/run.ts by its owner):
 *  1. open + list the root and VM folders of a 64 TiB (apparent) sparse GPT dump, our reader vs
 *     debugvmfs listing the same volume;
 *  2. read a 16 GiB file out of a dump, our reader (in a child process, for its peak RSS) vs a raw
 *     sequential read (`dd`, i.e. cat) of the same byte range of the dump, both on a warm page cache.
 *
 * Notes: /tmp is ext4 (16 TiB file limit), so the 64 TiB dumps go to /dev/shm (tmpfs keeps them
 * sparse: ~40 MiB real). debugvmfs cannot take a partition offset and finds partitions only through
 * an MBR, which cannot describe 64 TiB: the reference run reads the same volume built bare at
 * offset 0 (byte-identical partition content, built by the same deterministic builder).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bulkBuffer, canReadInto, openDatastore, readInto } from '../src/core/vmfs/index.js';
import { NodeFileSource } from '../src/platform/node/file-source.js';
import { buildVmfs, DATA_OFFSET, MiB, SEGMENT, type BuildOptions, type FileSpec } from '../test/builders/vmfs/index.js';

export interface BenchResult {
  name: string;
  seconds: number;
  reference: string;
  referenceSeconds: number;
  ratio: number;
  peakRssMiB: number;
}

const TiB = 1024 * 1024 * MiB;
const GiB = 1024 * MiB;

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function scratchDir(prefix: string, big: boolean): string {
  const base = big && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtempSync(path.join(base, prefix));
}

/** A few VMs, some far up the volume, on a volume of `segments` 256 MiB segments. */
function bigVolumeFiles(totalBlocks: number): FileSpec[] {
  const files: FileSpec[] = [];
  for (let v = 1; v <= 8; v++) {
    const far = Math.floor((totalBlocks / 9) * v);
    files.push({ path: `/vm${v}/vm${v}.vmx`, kind: 'subblock', size: 3000 + v });
    files.push({ path: `/vm${v}/vm${v}.vmdk`, kind: 'resident', size: 500 + v });
    files.push({ path: `/vm${v}/vm${v}.log`, kind: 'resident', size: 800 });
    files.push({
      path: `/vm${v}/vm${v}-flat.vmdk`, kind: 'blocks', size: 100 * GiB, addressing: 'pointer',
      blocks: [{ index: 0, content: 'data', at: far }, { index: 51200, content: 'data', at: far + 1 }],
    });
  }
  return files;
}

/** Bench 1: open + list root and VM folders of a 64 TiB GPT dump. */
export async function benchDatastoreOpenList(): Promise<BenchResult[]> {
  const dir = scratchDir('vmfs-bench-64t-', true);
  try {
    // GPT LUN of exactly 64 TiB: 1 MiB lead, partition, 1 MiB for the backup GPT.
    const segments = Math.floor((64 * TiB - 2 * MiB - DATA_OFFSET) / SEGMENT);
    const totalBlocks = (segments * SEGMENT) / MiB;
    const base: BuildOptions = {
      version: 5, dir, name: 'ds64t', label: 'bench-64t', seed: 64, fbbPerCluster: 2048, hashLimit: 0,
      luns: [{ scheme: 'gpt', segments }], files: bigVolumeFiles(totalBlocks),
    };
    const tb = performance.now();
    const m = await buildVmfs(base);
    const buildSeconds = (performance.now() - tb) / 1000;
    const folders = ['/', ...m.entries.filter((e) => e.type === 'directory' && e.path !== '/').map((e) => e.path)];

    const t0 = performance.now();
    const src = await NodeFileSource.open(m.luns[0]!.path);
    const ds = await openDatastore([src]);
    let listed = 0;
    for (const f of folders) listed += (await ds.readdir(f)).length;
    const seconds = (performance.now() - t0) / 1000;
    await src.close();
    if (listed < folders.length * 3) throw new Error(`bench: listing returned only ${listed} entries`);

    let referenceSeconds = NaN;
    let reference = 'debugvmfs (missing)';
    if (hasTool('debugvmfs')) {
      const bare = await buildVmfs({ ...base, name: 'ds64t-bare', luns: [{ scheme: 'bare', segments }] });
      reference = 'debugvmfs ls -l (bare partition copy)';
      const r0 = performance.now();
      for (const f of folders) {
        const r = spawnSync('debugvmfs', [bare.luns[0]!.path, 'ls', '-l', f], { stdio: ['ignore', 'pipe', 'ignore'] });
        if (r.status !== 0) throw new Error(`debugvmfs ls ${f} failed`);
      }
      referenceSeconds = (performance.now() - r0) / 1000;
    }
    return [{
      name: `datastore open+list 64 TiB GPT dump (${folders.length} folders, build ${buildSeconds.toFixed(1)} s)`,
      seconds, reference, referenceSeconds, ratio: seconds / referenceSeconds,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bench 2: read a 16 GiB file (every block allocated, sparse on the host) vs dd of its byte range. */
export async function benchDatastoreRead(): Promise<BenchResult[]> {
  const dir = scratchDir('vmfs-bench-16g-', false);
  try {
    const fileBlocks = 16 * 1024;
    const blocks = Array.from({ length: fileBlocks }, (_, i) => ({
      index: i, content: (i % 1024 === 0 ? 'data' : 'zero') as 'data' | 'zero', dataLength: 4096,
    }));
    const m = await buildVmfs({
      version: 5, dir, name: 'ds16g', label: 'bench-16g', seed: 16, hashLimit: 0,
      luns: [{ scheme: 'gpt', segments: 70 }],
      files: [{ path: '/vm/big-flat.vmdk', kind: 'blocks', size: 16 * GiB, blocks }],
    });
    const entry = m.entries.find((e) => e.path === '/vm/big-flat.vmdk')!;
    const lun = m.luns[0]!;

    // The file's blocks were allocated in one ascending run: its bytes are one range of the dump.
    const first = entry.dataBlocks![0]!;
    const start = lun.partitionOffset + DATA_OFFSET + first * MiB;
    const ddArgs = [
      `if=${lun.path}`, 'of=/dev/null', 'bs=4M', `skip=${start}`, `count=${entry.size}`, 'iflag=skip_bytes,count_bytes', 'status=none',
    ];
    const runDd = (): number => {
      const r0 = performance.now();
      if (spawnSync('dd', ddArgs).status !== 0) throw new Error('dd failed');
      return (performance.now() - r0) / 1000;
    };
    const runChild = (): { seconds: number; bytes: number; maxRssKiB: number } => {
      const child = spawnSync(process.execPath, [
        ...process.execArgv, fileURLToPath(import.meta.url), '--read-child', lun.path, entry.path,
      ], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (child.status !== 0) throw new Error(`bench child failed: ${child.stderr}`);
      const res = JSON.parse(child.stdout.trim().split('\n').pop()!) as { seconds: number; bytes: number; maxRssKiB: number };
      if (res.bytes !== entry.size) throw new Error(`bench child read ${res.bytes} bytes`);
      return res;
    };
    // Same conditions for both: a first untimed pass fills the page cache (a cold first read of
    // this sparse dump costs ~10x a warm one), then the two alternate and the best of two counts.
    runDd();
    let res = runChild();
    let referenceSeconds = runDd();
    const again = runChild();
    if (again.seconds < res.seconds) res = { ...again, maxRssKiB: Math.max(again.maxRssKiB, res.maxRssKiB) };
    else res.maxRssKiB = Math.max(again.maxRssKiB, res.maxRssKiB);
    referenceSeconds = Math.min(referenceSeconds, runDd());
    return [{
      name: 'datastore read 16 GiB file', seconds: res.seconds, reference: 'dd (cat) of the same byte range',
      referenceSeconds, ratio: res.seconds / referenceSeconds, peakRssMiB: res.maxRssKiB / 1024,
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Child: open the dump and stream the file in 8 MiB reads, then report time and peak RSS as JSON.
 * When the dump source can fill a caller's buffer (readInto), the reads go into one reused
 * buffer, as the CLI cat does; otherwise plain read(), which returns the device's buffer uncopied.
 */
async function readChild(dump: string, file: string): Promise<void> {
  const t0 = performance.now();
  const src = await NodeFileSource.open(dump);
  const ds = await openDatastore([src]);
  const f = await ds.openFile(file);
  const CH = 8 * MiB;
  const buf = canReadInto(src) ? bulkBuffer(CH) : null;
  let bytes = 0;
  for (let off = 0; off < f.size; off += CH) {
    const n = Math.min(CH, f.size - off);
    if (buf) await readInto(f, off, buf.subarray(0, n));
    else if ((await f.read(off, n)).length !== n) throw new Error('short read');
    bytes += n;
  }
  const seconds = (performance.now() - t0) / 1000;
  await src.close();
  process.stdout.write(JSON.stringify({ seconds, bytes, maxRssKiB: process.resourceUsage().maxRSS }) + '\n');
}

if (process.argv[2] === '--read-child') {
  await readChild(process.argv[3]!, process.argv[4]!);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  for (const r of [...(await benchDatastoreOpenList()), ...(await benchDatastoreRead())]) console.log(JSON.stringify(r));
}
