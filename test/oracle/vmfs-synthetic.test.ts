import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canReadInto, fileVolumeRuns, fsOf, openDatastore, VolumeHoleError, type Datastore } from '../../src/core/vmfs/index.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildVmfs, expectedBytes, MiB, standardBuild, type Manifest, type ManifestEntry } from '../builders/vmfs/index.js';
import { makeTempDir, oracleAvailable, run, runCli } from '../helpers/tools.js';
import { checkEsxiLayout } from '../helpers/esxi-layout.js';

/**
 * Our VMFS reader against the synthetic dumps of test/builders/vmfs. The builder's manifest is the
 * reference; test/oracle/vmfs-builder.test.ts checks the same dumps with debugvmfs/debugvmfs6, so
 * builder and reader cannot share one mistake (except where that test says an oracle is blind:
 * VMFS6 TBZ semantics and the VMFS6 hash table, which come from docs/vmfs-format.md only).
 * Capacity and free space are compared with debugvmfs/debugvmfs6 `df` and `show <resource>` directly.
 */

const CHUNK = 8 * MiB;

async function sha256Of(ds: Datastore, p: string, size: number): Promise<string> {
  const src = await ds.openFile(p);
  expect(src.size, p).toBe(size);
  const h = createHash('sha256');
  for (let off = 0; off < size; off += CHUNK) h.update(await src.read(off, Math.min(CHUNK, size - off)));
  return h.digest('hex');
}

/** Same, through readInto with one reused buffer left dirty (holes must be zero-filled) and an odd chunk size. */
async function sha256Into(ds: Datastore, p: string, size: number): Promise<string> {
  const src = await ds.openFile(p);
  if (!canReadInto(src)) throw new Error(`${p}: file source has no readInto`);
  const chunk = 3 * MiB + 4097;
  const buf = new Uint8Array(chunk).fill(0xa5);
  const h = createHash('sha256');
  for (let off = 0; off < size; off += chunk) {
    const b = buf.subarray(0, Math.min(chunk, size - off));
    await src.readInto(off, b);
    h.update(b);
  }
  return h.digest('hex');
}

const openAll = async (files: string[]): Promise<{ ds: Datastore; close: () => Promise<void> }> => {
  const srcs = await Promise.all(files.map((f) => NodeFileSource.open(f, path.basename(f))));
  return { ds: await openDatastore(srcs), close: async () => void (await Promise.all(srcs.map((s) => s.close()))) };
};

const TYPE: Record<ManifestEntry['type'], string> = { directory: 'directory', file: 'file', system: 'system', symlink: 'symlink', rdm: 'rdm' };
const ADDRESSING: Record<NonNullable<ManifestEntry['addressing']>, string> = {
  resident: 'resident', 'sub-block': 'sub-block', direct: 'direct', 'pointer-block': 'pointer-block', 'double-indirect': 'double-indirect', lfb: 'direct',
};

const oracles = oracleAvailable('debugvmfs', 'debugvmfs6', 'dd');

/** Cuts a GPT LUN's VMFS partition into its own sparse file (the oracles find partitions only in an MBR). */
function extractPartition(lun: Manifest['luns'][number], out: string): string {
  run('dd', [`if=${lun.path}`, `of=${out}`, 'bs=1M', `skip=${lun.partitionOffset / MiB}`, `count=${lun.partitionLength / MiB}`, 'conv=sparse', 'status=none']);
  return out;
}

/** `<tool> <extents> df`: block size and block counts. */
function oracleDf(tool: string, files: string[]): { blockSize: number; total: number; allocated: number; free: number } {
  const out = run(tool, [...files, 'df']);
  const n = (label: string): number => {
    const m = new RegExp(`^${label}\\s*:\\s*(\\d+)`, 'm').exec(out);
    if (!m) throw new Error(`${tool} df: no "${label}" in:\n${out}`);
    return Number(m[1]);
  };
  const r = { blockSize: n('Block size'), total: n('Total blocks'), allocated: n('Allocated blocks'), free: n('Free blocks') };
  expect(r.allocated + r.free).toBe(r.total);
  return r;
}

/** `<tool> <extents> show <fbb|fdc|pbc|sbc>`: the resource file's item counts. */
function oracleShow(tool: string, files: string[], res: string): { total: number; free: number } {
  const out = run(tool, [...files, 'show', res]);
  const n = (label: string): number => {
    const m = new RegExp(`^\\s*${label}:\\s*(\\d+)`, 'm').exec(out);
    if (!m) throw new Error(`${tool} show ${res}: no "${label}" in:\n${out}`);
    return Number(m[1]);
  };
  return { total: n('Total items'), free: n('Free items') };
}

/**
 * Per-item allocation states as the tool prints them (`show <res>.entry[c].item[r]` → "Status:
 * used|free"), all items asked in one `shell` session. Index i = c × (items per bitmap entry) + r.
 */
function oracleItemStates(tool: string, files: string[], res: string): boolean[] {
  const head = run(tool, [...files, 'show', res]);
  const perEntry = Number(/Item per bitmap entry:\s*(\d+)/.exec(head)?.[1]);
  const total = Number(/Total items:\s*(\d+)/.exec(head)?.[1]);
  if (!(perEntry > 0) || !(total >= 0)) throw new Error(`${tool} show ${res}: no geometry in:\n${head}`);
  if (total === 0) return [];
  const cmds = Array.from({ length: total }, (_, i) => `show ${res}.entry[${Math.floor(i / perEntry)}].item[${i % perEntry}]\n`).join('');
  const out = run(tool, [...files, 'shell'], { input: cmds });
  const states = [...out.matchAll(/^Status: (used|free)$/gm)].map((m) => m[1] === 'used');
  if (states.length !== total) throw new Error(`${tool} ${res}: ${states.length} item states for ${total} items`);
  return states;
}

function checkDatastore(label: string, get: () => { m: Manifest; files: string[] }) {
  describe(label, () => {
    let ds: Datastore;
    let m: Manifest;
    let close: () => Promise<void>;
    beforeAll(async () => {
      const g = get();
      m = g.m;
      ({ ds, close } = await openAll(g.files));
    });
    afterAll(async () => close?.());

    it('opens sane metadata without warnings (no resource-geometry complaints for empty .pbc/.pb2/.jbc)', () => {
      expect(ds.info.warnings).toEqual([]);
    });

    it('reports the volume', () => {
      expect(ds.info.version).toBe(m.version);
      expect(ds.info.label).toBe(m.label);
      expect(ds.info.uuid).toBe(m.fsUuid);
      expect(ds.info.lvmUuid).toBe(m.volumeUuid);
      expect(ds.info.blockSize).toBe(m.blockSize);
      expect(ds.info.subBlockSize).toBe(m.subBlockSize);
      expect(ds.info.volumeSize).toBe(m.volumeSize);
      expect(ds.info.holes).toEqual([]);
      expect(ds.info.devices.length).toBe(m.luns.length);
    });

    it('lists every directory with names, types, sizes and FD addresses', async () => {
      for (const d of m.entries.filter((e) => e.type === 'directory')) {
        const got = await ds.readdir(d.path);
        const children = m.entries.filter((e) => e.path !== '/' && path.posix.dirname(e.path) === d.path);
        expect(got.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort(), d.path).toEqual(children.map((c) => c.name).sort());
        for (const c of children) {
          const e = got.find((x) => x.name === c.name)!;
          expect({ type: e.type, size: e.size, fd: e.fdAddress, gen: e.generation }, c.path).toEqual({
            type: TYPE[c.type], size: c.size, fd: c.fdAddress, gen: c.generation,
          });
        }
      }
    });

    it('reads every file with the manifest sha256', async () => {
      for (const f of m.entries.filter((e) => e.type === 'file')) {
        expect(await sha256Of(ds, f.path, f.size), f.path).toBe(f.sha256);
      }
    });

    it('reads every file through readInto into a reused buffer with the manifest sha256', async () => {
      for (const f of m.entries.filter((e) => e.type === 'file')) {
        expect(await sha256Into(ds, f.path, f.size), f.path).toBe(f.sha256);
      }
    });

    it('the batched block map (mapRange) agrees with the per-block one (mapOffset) on every file', async () => {
      // Internal consistency, not an oracle: bulk reads and allocation maps use mapRange.
      const fs = fsOf(ds);
      type Ext = { kind: string; volOffset?: number; length: number };
      const merge = (out: Ext[], e: Ext) => {
        const last = out[out.length - 1];
        if (last && last.kind === e.kind && (e.kind === 'zero' || last.volOffset! + last.length === e.volOffset)) last.length += e.length;
        else out.push({ kind: e.kind, volOffset: e.kind === 'vol' ? e.volOffset : undefined, length: e.length });
      };
      for (const f of m.entries.filter((e) => e.type === 'file' && e.size > 0)) {
        const fd = await fs.fd(f.fdAddress);
        for (const physical of [false, true]) {
          const slow: Ext[] = [];
          for (let off = 0; off < fd.length; ) {
            const e = await fs.mapOffset(fd, off, physical);
            const n = Math.min(e.length, fd.length - off);
            merge(slow, { ...e, length: n });
            off += n;
          }
          const fast: Ext[] = [];
          for (const e of await fs.mapRange(fd, 0, fd.length, physical)) merge(fast, e);
          expect(fast, `${f.path} physical=${physical}`).toEqual(slow);
        }
      }
    });

    it('reports addressing, TBZ and allocation of every file', async () => {
      for (const f of m.entries.filter((e) => e.type === 'file')) {
        const st = await ds.stat(f.path);
        expect(st.addressing, f.path).toBe(ADDRESSING[f.addressing!]);
        expect(st.fdAddress, f.path).toBe(f.fdAddress);
        if (f.tbzBlocks !== undefined) expect(st.tbzBlocks, f.path).toBe(f.tbzBlocks);
      }
    });

    it('reads TBZ blocks with stale bytes as zeros, and unaligned ranges exactly', async () => {
      for (const f of m.entries.filter((e) => e.type === 'file' && e.pieces)) {
        const src = await ds.openFile(f.path);
        for (const p of f.pieces!) {
          for (const [off, len] of [[p.offset - 3, 10], [p.offset + p.length - 5, 9], [p.offset + 1, Math.min(70000, p.length)]] as const) {
            const o = Math.max(0, off);
            const n = Math.min(len, f.size - o);
            if (n <= 0) continue;
            expect(Buffer.from(await src.read(o, n)).equals(expectedBytes(f.pieces!, f.size, o, n)), `${f.path} @${o}+${n}`).toBe(true);
          }
        }
        if ((f.tbzBlocks ?? 0) > 0) {
          // every TBZ block starts at index 1 (vmfs5) / 10 (vmfs6) in the samples and has stale bytes at 4 KiB
          const first = m.version === 5 ? 1 : 10;
          const z = await src.read(first * MiB, 4096);
          expect(z.every((b) => b === 0), `${f.path} TBZ block`).toBe(true);
        }
      }
    });

    it('resolves symlinks', async () => {
      for (const s of m.entries.filter((e) => e.type === 'symlink')) {
        expect(await ds.readlink(s.path)).toBe(s.symlinkTarget);
      }
    });

    it('finds files by FD address', async () => {
      for (const f of m.entries.filter((e) => e.type === 'file').slice(0, 5)) {
        expect(await ds.lookup(`<0x${f.fdAddress.toString(16).padStart(8, '0')}>`)).toBe(f.fdAddress);
      }
    });
  });
}

describe('synthetic VMFS dumps read by our reader', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const built = new Map<string, Manifest>();

  beforeAll(async () => {
    tmp = makeTempDir('vmfs-synth-');
    const d = tmp.dir;
    built.set('vmfs5', await buildVmfs(standardBuild('vmfs5', d, [{ scheme: 'gpt', segments: 12, extraPartition: true }])));
    built.set('vmfs6', await buildVmfs(standardBuild('vmfs6', d)));
    built.set('span5', await buildVmfs(standardBuild('span5', d)));
    built.set('span6', await buildVmfs(standardBuild('span6', d, [{ scheme: 'mbr', segments: 4 }, { scheme: 'gpt', segments: 5 }])));
    const alt = (await buildVmfs({ ...standardBuild('vmfs5', d, [{ scheme: 'gpt', segments: 12, corruptPrimaryGpt: true }]), name: 'vmfs5-badgpt' }));
    built.set('vmfs5-badgpt', alt);
    built.set('vmfs6-bare', await buildVmfs({ ...standardBuild('vmfs6', d, [{ scheme: 'bare', segments: 16 }]), name: 'vmfs6-bare' }));
    built.set('vmfs6-esxi', await buildVmfs({ ...standardBuild('vmfs6', d), name: 'vmfs6-esxi', layout: 'esxi' }));
  });
  afterAll(() => tmp?.cleanup());

  const files = (k: string, order?: number[]) => () => {
    const m = built.get(k)!;
    const luns = m.luns.map((l) => l.path);
    return { m, files: order ? order.map((i) => luns[i]!) : luns };
  };

  describe.skipIf(!oracles)('capacity and free space against debugvmfs / debugvmfs6', () => {
    // The oracles count .fbb.sf the vmfs6-tools way: one header whose items are 1 MiB blocks (on
    // VMFS6, SFBs with 512 per cluster = one LFB slot) and per-cluster total/free counts. The
    // builder writes that layout (childMetaOffset = 0). ESXi, per dissect.vmfs, writes an LFB
    // parent header with an SFB child at childMetaOffset and 'rcmd' cluster metadata instead; that
    // layout (src/core/vmfs/file-blocks.ts) has no oracle here.
    for (const [k, tool] of [['vmfs5', 'debugvmfs'], ['vmfs6', 'debugvmfs6'], ['span6', 'debugvmfs6']] as const) {
      it(`${k}: total, free and per-resource counts equal ${tool}'s`, async () => {
        const m = built.get(k)!;
        const parts = m.luns.map((l, i) => (l.scheme === 'mbr' ? l.path : extractPartition(l, path.join(tmp.dir, `${k}.oracle${i}.img`))));
        const df = oracleDf(tool, parts);
        const { ds, close } = await openAll(m.luns.map((l) => l.path));
        try {
          const u = await ds.usage();
          expect(df.blockSize).toBe(ds.info.blockSize);
          expect({ total: ds.info.totalBlocks, capacity: ds.info.capacity }).toEqual({ total: df.total, capacity: df.total * df.blockSize });
          expect({ total: u.totalBlocks, free: u.freeBlocks, used: u.totalBlocks - u.freeBlocks }).toEqual({ total: df.total, free: df.free, used: df.allocated });
          expect(u.free).toBe(df.free * df.blockSize);
          expect(df.total).toBe(m.totalBlocks); // and the builder agrees
          const map = await ds.allocationMap();
          for (const r of ['fbb', 'fdc', 'pbc', 'sbc']) {
            const o = oracleShow(tool, parts, r);
            const ours = map.resources.find((x) => x.name === `.${r}.sf`);
            expect({ total: ours?.total, free: ours?.free }, `.${r}.sf`).toEqual({ total: o.total, free: o.free });
          }
          // The allocation map's free blocks (from the bitmaps on both) agree too.
          expect(map.freeBlocks).toBe(df.free);
        } finally {
          await close();
        }
      });
    }
  });

  describe.skipIf(!oracles)('allocation state of every item from the bitmaps, against debugvmfs / debugvmfs6', () => {
    // VMFS6 here is the vmfs6-tools layout (cluster metadata at header + H/2 like VMFS3/5's, bitmap
    // 1 = free), which the builder writes and debugvmfs6 reads; ESXi's 'rcmd' layout stays on
    // counts + reachability and has no oracle.
    for (const [k, tool] of [['vmfs5', 'debugvmfs'], ['vmfs6', 'debugvmfs6'], ['span6', 'debugvmfs6']] as const) {
      it(`${k}: every block, FD, pointer block and sub-block state equals ${tool}'s; every file's blocks are allocated`, async () => {
        const m = built.get(k)!;
        const parts = m.luns.map((l, i) => (l.scheme === 'mbr' ? l.path : extractPartition(l, path.join(tmp.dir, `${k}.items${i}.img`))));
        const { ds, close } = await openAll(m.luns.map((l) => l.path));
        try {
          const map = await ds.allocationMap();
          expect(map.basis).toBe('bitmap');
          expect((await ds.usage()).basis).toBe('bitmap');
          for (const r of ['fbb', 'fdc', 'pbc', 'sbc']) {
            const want = oracleItemStates(tool, parts, r);
            const res = map.resources.find((x) => x.name === `.${r}.sf`)!;
            expect(res.total, `.${r}.sf`).toBe(want.length);
            const ours: (boolean | null)[] = [];
            for (let i = 0; i < res.total; i++) ours.push(await res.isAllocated(i));
            expect(ours, `.${r}.sf item states`).toEqual(want);
            expect(res.free, `.${r}.sf free`).toBe(want.filter((u) => !u).length);
            if (r === 'fbb') {
              // The block runs are the .fbb.sf bits, block for block.
              const runStates: boolean[] = [];
              for (const run of map.runs) for (let j = 0; j < run.count; j++) runStates.push(run.state === 'used');
              expect(runStates).toEqual(want.slice(0, map.totalBlocks));
            }
          }

          // Every file's blocks are allocated: the builder's own data blocks (independent of the
          // reader), and every block our block map places a file, directory or system file in
          // (TBZ, LFB and sub-block/resident containers included).
          const used = new Set<number>();
          for (const e of m.entries) for (const b of e.dataBlocks ?? []) used.add(b);
          expect(used.size).toBeGreaterThan(0);
          const fs = fsOf(ds);
          for (const e of m.entries) {
            if (e.type === 'rdm' || e.type === 'symlink') continue;
            await fileVolumeRuns(fs, await fs.fd(e.fdAddress), (v, n) => {
              for (let b = Math.floor(v / map.blockSize); b < Math.ceil((v + n) / map.blockSize); b++) used.add(b);
            });
          }
          const freeIn = (runs: { start: number; count: number; state: string }[]) =>
            [...used].filter((b) => runs.some((r) => r.state === 'free' && b >= r.start && b < r.start + r.count));
          expect(freeIn(map.runs), 'file blocks inside free runs').toEqual([]);
          const fbb = map.resources.find((x) => x.name === '.fbb.sf')!;
          for (const b of used) expect(await fbb.isAllocated(b), `block ${b}`).toBe(true);

          // The CLI map: same basis, free runs clear of every file's blocks.
          const cli = runCli(['map', ...m.luns.flatMap((l) => ['--image', l.path]), '--json']);
          expect(cli.code, cli.stderr).toBe(0);
          const j = JSON.parse(cli.stdout) as { basis: string; freeBlocks: number; runs: { start: number; count: number; state: string }[] };
          expect(j.basis).toBe('bitmap');
          expect(j.freeBlocks).toBe(oracleDf(tool, parts).free);
          expect(freeIn(j.runs), 'file blocks inside CLI free runs').toEqual([]);
        } finally {
          await close();
        }
      }, 120_000);
    }
  });

  checkDatastore('VMFS5 on a GPT LUN with two partitions', files('vmfs5'));
  checkDatastore('VMFS6 on a GPT LUN (hashed dirs, LFB, PB, double indirection)', files('vmfs6'));
  checkDatastore("VMFS6 in ESXi's layout ('rcmd' cluster metadata, two-level .fbb.sf)", files('vmfs6-esxi'));

  it("ESXi layout: the reader's live items and reachable blocks agree with the 'rcmd' counts read as dissect.vmfs reads them", async () => {
    const m = built.get('vmfs6-esxi')!;
    const raw = checkEsxiLayout(m);
    const { ds, close } = await openAll(m.luns.map((l) => l.path));
    try {
      const map = await ds.allocationMap();
      expect(map.basis).toBe('reachability');
      expect(map.warnings).toBeUndefined();
      // Free blocks by reachability (the reader's walk) = free LFB slots × 512 + free SFBs of converted
      // slots, from the 'rcmd' counts (the builder's allocator; the volume is whole LFB slots).
      const rawFree = raw['.fbb.sf']!.free * 512 + raw['.fbb.sf (SFB)']!.free;
      expect(map.freeBlocks).toBe(rawFree);
      expect((await ds.usage()).freeBlocks).toBe(rawFree);
      for (const name of ['.fdc.sf', '.sbc.sf']) {
        const res = map.resources.find((x) => x.name === name)!;
        let live = 0;
        for (let i = 0; i < res.total; i++) if ((await res.isAllocated(i)) === true) live++;
        expect(live, name).toBe(raw[name]!.total - raw[name]!.free);
      }
      // Every file's data blocks lie in used runs.
      const dataBlocks = m.entries.flatMap((e) => e.dataBlocks ?? []);
      expect(dataBlocks.length).toBeGreaterThan(0);
      for (const b of dataBlocks) expect(map.runs.some((r) => r.state === 'used' && b >= r.start && b < r.start + r.count), `block ${b}`).toBe(true);
    } finally {
      await close();
    }
  });
  checkDatastore('VMFS5 spanned, dumps in order', files('span5'));
  checkDatastore('VMFS5 spanned, dumps reversed', files('span5', [1, 0]));
  checkDatastore('VMFS6 spanned (MBR + GPT), dumps reversed', files('span6', [1, 0]));

  it('uses the backup GPT when the primary header CRC is wrong', async () => {
    const m = built.get('vmfs5-badgpt')!;
    const { ds, close } = await openAll([m.luns[0]!.path]);
    try {
      expect(ds.info.partitions[0]?.scheme).toBe('gpt-backup');
      const f = m.entries.find((e) => e.path === '/vm1/vm1.vmx')!;
      expect(await sha256Of(ds, f.path, f.size)).toBe(f.sha256);
    } finally {
      await close();
    }
  });

  it('opens a bare VMFS6 partition dump', async () => {
    const m = built.get('vmfs6-bare')!;
    const { ds, close } = await openAll([m.luns[0]!.path]);
    try {
      expect(ds.info.partitions[0]?.scheme).toBe('bare');
      const f = m.entries.find((e) => e.path === '/vm3/vm3-flat.vmdk')!;
      expect(await sha256Of(ds, f.path, f.size)).toBe(f.sha256);
    } finally {
      await close();
    }
  });

  it('opens a spanned volume with one extent missing, reporting the hole', async () => {
    const m = built.get('span5')!;
    const { ds, close } = await openAll([m.luns[0]!.path]);
    try {
      expect(ds.info.holes.length).toBeGreaterThan(0);
      const big = m.entries.find((e) => e.path === '/span/big-flat.vmdk')!;
      const src = await ds.openFile(big.path);
      // file block 0 is FS block 100 (first extent): readable
      expect(Buffer.from(await src.read(0, 4096)).equals(expectedBytes(big.pieces!, big.size, 0, 4096))).toBe(true);
      // file block 1 is FS block 1500 (second extent): a clear error
      await expect(src.read(MiB, 4096)).rejects.toBeInstanceOf(VolumeHoleError);
    } finally {
      await close();
    }
  });
});
