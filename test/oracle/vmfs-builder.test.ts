import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVmfs, standardBuild, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';
import { checkEsxiLayout } from '../helpers/esxi-layout.js';

/**
 * The synthetic VMFS builder checked by independent readers: debugvmfs (vmfs-tools 0.2.5, VMFS5)
 * and debugvmfs6 (vmfs6-tools 0.2.1, VMFS6). Every manifest entry must be listed by `ls -l` with
 * its size, and every file must `cat` to the manifest's sha256.
 *
 * What the oracles cannot confirm (so the manifest, not the oracle, is the reference there):
 * - debugvmfs finds a partition only through an MBR 0xFB entry: GPT LUNs are handed over as the
 *   partition, cut out with `dd conv=sparse`.
 * - debugvmfs6 ignores the VMFS6 TBZ mask (it tests bit 5, the COW bit on VMFS6), so for VMFS6 TBZ
 *   files it is compared with rawSha256 (stale bytes under the TBZ blocks): that confirms their
 *   addressing, not the TBZ semantics (those come from dissect.vmfs, docs §8).
 * - debugvmfs6 lists hashed directories by walking dirent blocks; it never uses the hash table,
 *   so the builder's hash-table placement is confirmed only by the doc's test vectors.
 * - debugvmfs6 stops reading an FD's slot array at the first zero slot: VMFS6 direct files keep
 *   holes at the end only (holes inside are covered through pointer blocks).
 * - On VMFS6 in ESXi's layout ('rcmd' cluster metadata, two-level .fbb.sf) debugvmfs6 lists and
 *   reads the files, but takes the LFB header for the block bitmap (its `df` is wrong there): the
 *   resource structure is checked from raw bytes as dissect.vmfs reads it (test/helpers/esxi-layout.ts).
 */
const ok = oracleAvailable('debugvmfs', 'debugvmfs6', 'dd');

interface Built {
  manifest: Manifest;
  /** Files to hand the oracle: partitions (extracted) or MBR LUNs. */
  oracleFiles: string[];
}

const PREFIX6 = 'VMFS version: 6\n';

/** Cuts a GPT LUN's VMFS partition into its own sparse file, as a user would with dd. */
function extractPartition(lun: Manifest['luns'][number], out: string): string {
  const MiB = 1 << 20;
  run('dd', [
    `if=${lun.path}`, `of=${out}`, 'bs=1M', `skip=${lun.partitionOffset / MiB}`, `count=${lun.partitionLength / MiB}`,
    'conv=sparse', 'status=none',
  ]);
  return out;
}

/** Runs the oracle, returns the sha256 of its stdout (debugvmfs6's banner lines, one per extent, stripped). */
function oracleCat(tool: string, files: string[], p: string): Promise<string> {
  const banner = PREFIX6.repeat(files.length);
  return new Promise((resolve, reject) => {
    const child = spawn(tool, [...files, 'cat', p], { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = createHash('sha256');
    let head = Buffer.alloc(0);
    let headDone = tool !== 'debugvmfs6';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (headDone) return void h.update(chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length >= banner.length) {
        if (head.subarray(0, banner.length).toString() !== banner) reject(new Error(`${tool}: unexpected banner`));
        h.update(head.subarray(banner.length));
        headDone = true;
      }
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => {
      if (!headDone) h.update(head.subarray(Math.min(head.length, banner.length)));
      if (code !== 0) reject(new Error(`${tool} cat ${p} failed (${code}): ${err}`));
      else resolve(h.digest('hex'));
    });
  });
}

interface LsLine {
  mode: string;
  size: number;
  name: string;
}

function oracleLs(tool: string, files: string[], dir: string): LsLine[] {
  const out = run(tool, [...files, 'ls', '-l', dir]);
  const lines: LsLine[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (.+)$/.exec(line);
    if (m) lines.push({ mode: m[1]!, size: Number(m[2]), name: m[3]! });
  }
  return lines;
}

function checkVolume(label: string, tool: string, build: () => Built) {
  describe(label, () => {
    let b: Built;
    beforeAll(() => {
      b = build();
    });

    it('lists every directory with the manifest names and sizes', () => {
      const dirs = b.manifest.entries.filter((e) => e.type === 'directory');
      expect(dirs.length).toBeGreaterThan(1);
      for (const d of dirs) {
        const listed = oracleLs(tool, b.oracleFiles, d.path);
        const children = b.manifest.entries.filter((e) => e.path !== '/' && path.posix.dirname(e.path) === d.path);
        const names = listed.map((l) => l.name).filter((n) => n !== '.' && n !== '..');
        expect(names.sort(), d.path).toEqual(children.map((c) => c.name).sort());
        for (const c of children) {
          const l = listed.find((x) => x.name === c.name)!;
          expect(l.size, c.path).toBe(c.size);
          const kind = { directory: 'd', symlink: 'l', file: '-', system: '-', rdm: '-' }[c.type];
          expect(l.mode[0], c.path).toBe(kind);
        }
        const dot = listed.find((l) => l.name === '.');
        expect(dot?.size, `${d.path}/.`).toBe(d.size);
      }
    });

    it('reads every file back with the manifest sha256', async () => {
      const files = b.manifest.entries.filter((e) => e.type === 'file');
      expect(files.length).toBeGreaterThan(2);
      for (const f of files) {
        const want = tool === 'debugvmfs6' && f.rawSha256 ? f.rawSha256 : f.sha256;
        expect(await oracleCat(tool, b.oracleFiles, f.path), f.path).toBe(want);
      }
    });

    it('follows symlinks to their target content', async () => {
      for (const s of b.manifest.entries.filter((e) => e.type === 'symlink')) {
        const target = b.manifest.entries.find((e) => e.path === s.symlinkTarget)!;
        expect(await oracleCat(tool, b.oracleFiles, s.path), s.path).toBe(target.sha256);
      }
    });
  });
}

describe.skipIf(!ok)('synthetic VMFS dumps read by debugvmfs / debugvmfs6', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const built = new Map<string, Built>();

  beforeAll(async () => {
    tmp = makeTempDir('vmfs-builder-');
    const d = tmp.dir;
    // VMFS5 on a GPT LUN with a Linux partition before the VMFS one: the oracle gets the partition.
    const m5 = await buildVmfs(standardBuild('vmfs5', d, [{ scheme: 'gpt', segments: 12, extraPartition: true }]));
    built.set('vmfs5', { manifest: m5, oracleFiles: [extractPartition(m5.luns[0]!, path.join(d, 'vmfs5.part.img'))] });
    const m6 = await buildVmfs(standardBuild('vmfs6', d));
    built.set('vmfs6', { manifest: m6, oracleFiles: [extractPartition(m6.luns[0]!, path.join(d, 'vmfs6.part.img'))] });
    const e6 = await buildVmfs({ ...standardBuild('vmfs6', d), name: 'vmfs6-esxi', layout: 'esxi' });
    built.set('vmfs6-esxi', { manifest: e6, oracleFiles: [extractPartition(e6.luns[0]!, path.join(d, 'vmfs6-esxi.part.img'))] });
    // Spanned: extent 0 on an MBR LUN (read as is), extent 1 on a GPT LUN (partition cut out).
    const s5 = await buildVmfs(standardBuild('span5', d, [{ scheme: 'mbr', segments: 4 }, { scheme: 'gpt', segments: 5 }]));
    built.set('span5', { manifest: s5, oracleFiles: [s5.luns[0]!.path, extractPartition(s5.luns[1]!, path.join(d, 'span5.p1.img'))] });
    const s6 = await buildVmfs(standardBuild('span6', d, [{ scheme: 'gpt', segments: 4 }, { scheme: 'mbr', segments: 5 }]));
    // extents given in reverse order: the oracle sorts them by first segment
    built.set('span6', { manifest: s6, oracleFiles: [s6.luns[1]!.path, extractPartition(s6.luns[0]!, path.join(d, 'span6.p0.img'))] });
  });
  afterAll(() => tmp?.cleanup());

  checkVolume('VMFS5 (GPT LUN, two partitions)', 'debugvmfs', () => built.get('vmfs5')!);
  checkVolume('VMFS6 (GPT LUN)', 'debugvmfs6', () => built.get('vmfs6')!);
  checkVolume("VMFS6 in ESXi's layout ('rcmd', two-level .fbb.sf)", 'debugvmfs6', () => built.get('vmfs6-esxi')!);

  it("writes ESXi's resource layout as dissect.vmfs reads it, with counts that match the manifest", () => {
    const m = built.get('vmfs6-esxi')!.manifest;
    const r = checkEsxiLayout(m);
    // One SFB cluster per 512 MiB LFB slot, every SFB of the volume counted.
    expect(r['.fbb.sf (SFB)']).toMatchObject({ total: m.totalBlocks, clusters: Math.ceil(m.totalBlocks / 512) });
    expect(r['.fbb.sf']!.total).toBe(Math.ceil(m.totalBlocks / 512));
    // Every manifest entry (root, system files, files, directories) holds one FD.
    expect(r['.fdc.sf']!.total - r['.fdc.sf']!.free).toBe(m.entries.length);
    // Sub-blocks: one per sub-block file, one per pointer block (VMFS6 PBs are sub-blocks).
    const sbs = m.entries.filter((e) => e.addressing === 'sub-block').length + m.entries.reduce((n, e) => n + (e.pointerBlocks ?? 0), 0);
    expect(r['.sbc.sf']!.total - r['.sbc.sf']!.free).toBe(sbs);
    // The LFB file's two slots and every converted slot are not free; whole free slots are.
    expect(r['.fbb.sf']!.free).toBeGreaterThan(0);
    expect(r['.fbb.sf']!.free).toBeLessThan(r['.fbb.sf']!.total - 2);
  });
  checkVolume('VMFS5 spanned over two LUNs', 'debugvmfs', () => built.get('span5')!);
  checkVolume('VMFS6 spanned over two LUNs', 'debugvmfs6', () => built.get('span6')!);

  it('puts data of the spanned volumes on both extents', () => {
    for (const k of ['span5', 'span6']) {
      const m = built.get(k)!.manifest;
      const big = m.entries.find((e) => e.path === '/span/big-flat.vmdk')!;
      const firstExtentBlocks = (m.luns[0]!.numSegments * 256 * 1024 * 1024) / m.blockSize;
      expect(big.dataBlocks!.some((b) => b < firstExtentBlocks)).toBe(true);
      expect(big.dataBlocks!.some((b) => b >= firstExtentBlocks)).toBe(true);
    }
  });

  it('exercises every addressing mode the oracles can confirm', () => {
    const modes = (k: string) => new Set(built.get(k)!.manifest.entries.map((e) => e.addressing).filter(Boolean));
    expect([...modes('vmfs5')].sort()).toEqual(['direct', 'pointer-block', 'resident', 'sub-block']);
    expect([...modes('vmfs6')].sort()).toEqual(['direct', 'double-indirect', 'lfb', 'pointer-block', 'resident', 'sub-block']);
    const tbz5 = built.get('vmfs5')!.manifest.entries.find((e) => (e.tbzBlocks ?? 0) > 0);
    expect(tbz5?.tbzBlocks).toBe(300);
  });
});
