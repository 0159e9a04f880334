import { closeSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec, type Manifest } from '../vmfs/index.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { flatDescriptor, writeBase } from './deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume } from './volume-io.js';

/**
 * VMFS5: a deleted COWD delta of more than 256 GiB, so its FD addresses its blocks by double
 * indirection (ZLA 4304: FD slot → top pointer block → leaf pointer block → 1 MiB block, 1024
 * entries per 4 KiB PB, as dissect.vmfs reads it on VMFS5), freed but intact with its PBs.
 *
 * Two builds of the same geometry: the pre-revert volume with the delta live (the builder writes
 * its FD and 1 top + 257 leaf PBs in .pbc.sf; the 256 GiB base takes single indirection), and the volume after the revert, into which the
 * delta's FD, its descriptor's FD, its PBs and its blocks with content are copied at the same
 * volume offsets, where the second build left them free.
 *
 * The delta has 1 MiB grains (grainSectors 2048) in LBA order, zeros (holes in the dump) except
 * one patterned grain every 4 GiB of the disk; the disk is 256 GiB (its file, with the tables, just over). Its expected content comes
 * from qemu-img (the pre-revert chain), compared by window: hashing the whole disk would take
 * most of an hour here.
 */
const BS = MiB;
const CAP = 256 * 1024 * MiB;
const GRAIN = MiB;
const FIRST = 300;
const SEGMENTS = 1040; // 260 GiB volume
const DELTA = '/vm1/vm1-000001-delta.vmdk';
const DELTA_DESC = '/vm1/vm1-000001.vmdk';

export interface V5DoubleDump {
  dump: string;
  manifest: Manifest;
  liveManifest: Manifest;
  liveDump: string;
  candidateId: string;
  parentPath: string;
  capacity: number;
  fdAddress: number;
  deltaSize: number;
  /** The pre-revert chain (base + delta descriptors) for qemu-img. */
  chainDescriptor: string;
  /** Disk offsets of the patterned grains (and some zero ones) to compare by window. */
  windows: { offset: number; length: number }[];
  dataGrains: number;
}

export async function buildV5DoubleDump(o: { dir: string; seed: number }): Promise<V5DoubleDump> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  const liveDir = path.join(o.dir, 'live');
  mkdirSync(oracleDir, { recursive: true });
  mkdirSync(liveDir, { recursive: true });
  const g = geometry(5);
  const grains = CAP / GRAIN;
  const runs: GrainRun[] = [];
  const windows: { offset: number; length: number }[] = [];
  for (let at = 0; at < grains; at += 4096) {
    runs.push({ firstGrain: at, count: 1, kind: 'data', fill: sectorPattern(o.seed * 13 + at) });
    runs.push({ firstGrain: at + 1, count: Math.min(4095, grains - at - 1), kind: 'data' });
    windows.push({ offset: at * GRAIN, length: 2 * GRAIN });
  }
  windows.push({ offset: CAP - 3 * GRAIN, length: 3 * GRAIN });
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', CAP);
  const delta = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, grainSectors: GRAIN / 512, runs, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const deltaDesc = readFileSync(delta.descriptorPath, 'latin1');
  const nBlocks = Math.ceil(delta.fileSize / BS);
  if (nBlocks <= 256 * 1024) throw new Error('v5-double builder: the delta must exceed 256 GiB');
  const placement = Array.from({ length: nBlocks }, (_, i) => FIRST + i + Math.floor(i / 211));

  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 4096, 100_000, 200_000].map((index, k) => ({ index, content: 'data', at: 100 + k, dataLength: MiB }));
  const common: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
  ];
  const lm = await buildVmfs({
    version: 5, dir: liveDir, name: 'ds', label: 'recovery-v5-double', seed: o.seed, luns: [{ scheme: 'mbr', segments: SEGMENTS }], hashLimit: 0,
    files: [...common, { path: DELTA_DESC, kind: 'resident', size: deltaDesc.length }, { path: DELTA, kind: 'blocks', size: delta.fileSize, addressing: 'double', blocks: placement.map((at, index) => ({ index, content: 'zero' as const, at })) }],
  });
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'recovery-v5-double', seed: o.seed, luns: [{ scheme: 'mbr', segments: SEGMENTS }], files: common, hashLimit: 0 });
  const dEntry = lm.entries.find((e) => e.path === DELTA)!;
  const descEntry = lm.entries.find((e) => e.path === DELTA_DESC)!;
  if (dEntry.addressing !== 'double-indirect') throw new Error(`v5-double builder: delta built as ${dEntry.addressing}`);
  const { fdVol } = fdcLocator(g, 32, g.fdSize, g.fdcBaseBlock);

  // Everything the delta owns in the first build that the second leaves empty: its FD, its
  // descriptor's FD, and the .pbc.sf items after the base's (the builder allocates in spec order).
  const lio = openVolume(lm);
  const io = openVolume(m);
  const df = openSync(delta.dataPath, 'r');
  try {
    checkRootFd(io, fdVol, 4, 'v5-double');
    for (const [vio, mm] of [[lio, lm], [io, m]] as const) vio.put(fdVol(mm.entries.find((e) => e.path === '/vm1/vm1.vmdk')!.fdAddress) + g.fdData, new TextEncoder().encode(baseDesc));
    lio.put(fdVol(descEntry.fdAddress) + g.fdData, new TextEncoder().encode(deltaDesc));
    const copy = (vol: number, n: number) => {
      if (io.get(vol, n).some((x) => x !== 0)) throw new Error(`v5-double builder: volume 0x${vol.toString(16)} is not empty after the revert`);
      io.put(vol, lio.get(vol, n));
    };
    copy(fdVol(dEntry.fdAddress), g.fdSize);
    copy(fdVol(descEntry.fdAddress), g.fdSize);
    const pbcFd = new DataView(lio.get(fdVol(0x00c00004), g.fdSize).buffer);
    const pbcStart = (pbcFd.getUint32(g.fdSlots, true) >>> 6) * BS;
    const basePbs = m.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!.pointerBlocks!;
    // .pbc.sf items: 16 per cluster, 32 clusters in a group, 4 KiB each after 32 KiB of headers.
    const item = (i: number) => pbcStart + 0x10000 + 32 * 1024 + i * 4096;
    for (let i = basePbs; i < basePbs + dEntry.pointerBlocks!; i++) copy(item(i), 4096);
    // The delta's blocks with content: the metadata (GD, grain tables) and the patterned grains.
    const b = new Uint8Array(BS);
    const withContent = new Set<number>([...delta.gtSectors.values()].map((s) => Math.floor((s * 512) / BS)));
    withContent.add(0);
    for (const i of withContent) {
      readSync(df, b, 0, BS, i * BS);
      lio.put(placement[i]! * BS, b);
      io.put(placement[i]! * BS, b);
    }
    // Patterned grains, found through their grain table (tables interleave: a grain may straddle two blocks).
    const gt = new Uint8Array(16384);
    for (const r of runs) {
      if (!r.fill) continue;
      const t = Math.floor(r.firstGrain / 4096);
      readSync(df, gt, 0, gt.length, delta.gtSectors.get(t)! * 512);
      const sector = new DataView(gt.buffer).getUint32((r.firstGrain % 4096) * 4, true);
      for (const blk of [Math.floor((sector * 512) / BS), Math.floor((sector * 512 + GRAIN - 1) / BS)]) {
        readSync(df, b, 0, BS, blk * BS);
        lio.put(placement[blk]! * BS, b);
        io.put(placement[blk]! * BS, b);
      }
    }
  } finally {
    closeSync(df);
    lio.close();
    io.close();
  }
  writeBase(oracleDir, baseDesc, m.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!.pieces!, CAP);
  return {
    dump: m.luns[0]!.path,
    manifest: m,
    liveManifest: lm,
    liveDump: lm.luns[0]!.path,
    candidateId: `delta-${placement[0]!}`,
    parentPath: '/vm1/vm1.vmdk',
    capacity: CAP,
    fdAddress: dEntry.fdAddress,
    deltaSize: delta.fileSize,
    chainDescriptor: delta.descriptorPath,
    windows,
    dataGrains: delta.dataGrains,
  };
}
