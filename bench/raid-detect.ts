import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { detectRaid } from '../src/core/raid/detect.js';
import { NodeFileSource } from '../src/platform/node/file-source.js';
import { buildArray, type ArraySpec } from '../test/builders/raid.js';
import { buildVmfs, MiB, SEGMENT } from '../test/builders/vmfs/index.js';
import type { Bench, BenchResult } from './types.js';

/**
 * Detection time per case (Node, in-process, members read through NodeFileSource) on arrays cut
 * from a 4.5 GiB synthetic VMFS5 LUN (64 FDC cluster groups), with 0.5-1 MiB of pseudo-random
 * metadata before each member. The goal case is a 4-member RAID 5 of ~1.5 GiB members (< 10 s).
 * Median of BENCH_RUNS (default 3) runs; the page cache is warm after the first.
 */
export const RAID_BENCH_DIR = process.env.BENCH_RAID_DIR ?? path.join(tmpdir(), 'vmfs-rescue-bench-raid');

export const CASES: { name: string; spec: ArraySpec; drop?: number[] }[] = [
  { name: 'raid5-4x1.5GiB-64K-left-symmetric', spec: { level: 'raid5', disks: 4, stripeBytes: 65536, layout: 'left-symmetric', offsets: [MiB, 512 * 1024, 2048, 0] } },
  { name: 'raid5-4x1.5GiB-256K-right-asymmetric-1-missing', spec: { level: 'raid5', disks: 4, stripeBytes: 262144, layout: 'right-asymmetric', offsets: [0, 4096, MiB, 8192] }, drop: [1] },
  { name: 'raid6-5x1.5GiB-64K-left-symmetric', spec: { level: 'raid6', disks: 5, stripeBytes: 65536, layout: 'left-symmetric', offsets: [0, 512, 1024, 1536, 2048] } },
  { name: 'raid10-4x2.25GiB-64K', spec: { level: 'raid10', disks: 4, stripeBytes: 65536, offsets: [0, 512, 0, 512] } },
  { name: 'raid6-5x1.5GiB-64K-left-symmetric-1-missing', spec: { level: 'raid6', disks: 5, stripeBytes: 65536, layout: 'left-symmetric', offsets: [0, 512, 1024, 1536, 2048] }, drop: [0] },
  { name: 'raid6-6x1.1GiB-32K-right-asymmetric-2-missing', spec: { level: 'raid6', disks: 6, stripeBytes: 32768, layout: 'right-asymmetric', offsets: [4096, 0, 512, 1024, 0, 2048] }, drop: [1, 4] },
];

/** The member files a case gives detection: its dropped disks left out, the rest in reverse order (shuffled). */
export function keptMembers(c: (typeof CASES)[number], files: string[]): string[] {
  return files.filter((_, i) => !c.drop?.includes(i)).reverse();
}

/** The 4.5 GiB LUN the cases are cut from (built once, kept in BENCH_RAID_DIR or the temp folder). */
export async function benchLun(log: (l: string) => void): Promise<string> {
  mkdirSync(RAID_BENCH_DIR, { recursive: true });
  const lun = path.join(RAID_BENCH_DIR, 'bench-raid.lun0.img');
  if (!existsSync(lun)) {
    log('building the 4.5 GiB LUN');
    await buildVmfs({
      version: 5, dir: RAID_BENCH_DIR, name: 'bench-raid', label: 'bench-raid', seed: 99, fdcGroups: 64, luns: [{ scheme: 'gpt', segments: (4.5 * 1024 * MiB) / SEGMENT }],
      files: [
        { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
        { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: 64 * MiB, blocks: Array.from({ length: 64 }, (_, i) => ({ index: i, content: i % 8 ? 'zero' : 'data' })) },
      ],
    });
  }
  return lun;
}

/** One in-process Node detection over the member files (opened and closed around it): seconds and what it found. */
export async function detectOnce(files: string[]): Promise<{ seconds: number; note: string }> {
  const srcs = await Promise.all(files.map((f) => NodeFileSource.open(f)));
  const t = performance.now();
  let note: string;
  try {
    const d = await detectRaid(srcs);
    note = `${d.level} ${d.stripeBytes ?? ''} ${d.layout ?? ''} missing ${d.missing}, confidence ${d.confidence}`;
  } catch (e) {
    note = `refused: ${(e as Error).message}`;
  }
  const seconds = (performance.now() - t) / 1000;
  await Promise.all(srcs.map((s) => s.close()));
  return { seconds, note };
}

export const raidDetectBench: Bench = {
  name: 'raid-detect',
  description: 'RAID detection time per case (4.5 GiB VMFS5 LUN cut into members), Node',
  async run(log) {
    const lun = await benchLun(log);
    const runs = Number(process.env.BENCH_RUNS ?? 3);
    const out: BenchResult[] = [];
    for (const c of CASES) {
      log(`cutting ${c.name}`);
      const files = buildArray(lun, c.spec, RAID_BENCH_DIR, c.name);
      const kept = keptMembers(c, files);
      const secs: number[] = [];
      let note = '';
      for (let r = 0; r < runs; r++) {
        const one = await detectOnce(kept);
        secs.push(one.seconds);
        note = one.note;
      }
      for (const f of files) rmSync(f, { force: true });
      secs.sort((a, b) => a - b);
      out.push({ name: `raid-detect ${c.name}`, seconds: secs[Math.floor(secs.length / 2)]!, reference: null, referenceSeconds: null, ratio: null, peakRssMiB: Math.round(process.memoryUsage().rss / MiB), notes: note });
    }
    return out;
  },
};
