import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { buildSeSparseDelta, writeSeSparse } from '../sesparse.js';
import { deltaDescriptor, randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec, type Manifest } from '../vmfs/index.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { CG_OFFSET, MAGIC, RCMD, Resource, type V6Layout } from '../../../src/core/synth/vmfs/resource.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';
import { deletedDeltaAt, flatDescriptor, spliceLost, writeBase, type DeletedDeltaDump } from './deleted-delta.js';
import { checkRootFd, extractPartition, fdcLocator, openVolume, type VolumeIo } from './volume-io.js';
import { lostFromSeSparse } from './sesparse-v6.js';

/**
 * VMFS6 dumps in which a seSparse delta with NON-contiguous blocks was deleted the way a revert
 * does it, and whose freed metadata survives:
 *   'fd-intact'      the delta's FD (and its descriptor's resident FD) freed but intact;
 *   'pointer-block'  the FD zeroed, the freed 64 KiB sub-block that was its pointer block intact.
 * With `addressing: 'pointer'` the delta's FD lists its blocks through a pointer block (a
 * .sbc.sf sub-block of 8192 u64 entries, as the builder and vmfs6-tools place VMFS6 PBs).
 *
 * How: two builds of the same geometry. The first holds the pre-revert volume with the delta
 * LIVE (its bytes put into its blocks afterwards); debugvmfs6 must list it and `cat` it back
 * byte for byte. The second is the volume after the revert (the FDs that held the deleted files
 * now hold the new delta's, the old delta's FDC items and PB sub-block are free in the bitmaps,
 * no directory entry names it) into which the deleted delta's remnants are copied at the same
 * volume offsets: its non-reused data blocks, its FD items ('fd-intact'), its PB sub-block. Two
 * of its blocks (one holding grain tables, one holding grains) belong to the new live delta.
 *
 * Expected disk: qemu-img converts the pre-revert chain (the base and the delta as written);
 * lost runs (computed here from the seSparse file we wrote) come from the base.
 */

export type V6FreedCase = 'fd-intact' | 'pointer-block';

export interface V6FreedDump extends DeletedDeltaDump {
  /** The pre-revert dump (delta live), and both dumps' VMFS partitions cut out for debugvmfs6 ('' without oracles). */
  liveDump: string;
  livePartition: string;
  partition: string;
  liveManifest: Manifest;
  /** Where the deleted delta's FD and PB lived (volume offsets). */
  fdVolOffset: number;
  pbVolOffset: number | null;
  /** FD address of the deleted delta and of its folder. */
  fdAddress: number;
  dirFdAddress: number;
}

const BS = MiB;
const SECTOR = 512;
const GRAIN = 4096;
const CAP = 1024 * MiB;
const DELTA_PATH = '/vm1/vm1-000001-sesparse.vmdk';
const DELTA_DESC_PATH = '/vm1/vm1-000001.vmdk';
/** vmfs6-tools prints this once per extent before a command's output. */
const BANNER = 'VMFS version: 6\n';

export async function buildVmfs6FreedDump(o: { dir: string; seed: number; case: V6FreedCase; addressing?: 'direct' | 'pointer'; oracle?: boolean; layout?: V6Layout }): Promise<V6FreedDump> {
  const layout = o.layout ?? 'vmfs6-tools';
  const addressing = o.case === 'pointer-block' ? 'pointer' : (o.addressing ?? 'direct');
  const oracleDir = path.join(o.dir, 'pre-revert');
  const liveDir = path.join(o.dir, 'live');
  mkdirSync(oracleDir, { recursive: true });
  mkdirSync(liveDir, { recursive: true });
  const r = rng(o.seed);
  const g = geometry(6);

  // --- the deleted delta (1 GiB disk, > 32 grain tables: the GT area spans two blocks) --------
  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63].map((index, k) => ({ index, content: 'data', at: 150 + k, dataLength: MiB }));
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', CAP);
  const runs: GrainRun[] = [];
  const used = new Set<number>();
  for (let k = 0; k < 90; k++) {
    const g0 = Math.floor(r() * (CAP / 65536)) * 16;
    if (used.has(g0) || (g0 >= 2048 && g0 < 2560)) continue;
    used.add(g0);
    runs.push({ firstGrain: g0, count: 16, kind: 'data', fill: sectorPattern(o.seed * 7 + k) });
  }
  runs.push({ firstGrain: (8 * MiB) / GRAIN, count: 512, kind: 'data', fill: sectorPattern(o.seed + 99) });
  const delta = buildSeSparseDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const deltaBytes = readFileSync(delta.dataPath);
  const deltaDesc = readFileSync(delta.descriptorPath, 'latin1');
  const nBlocks = Math.ceil(deltaBytes.length / BS);
  if (delta.tables <= 32) throw new Error('vmfs6-freed builder: need more than 32 grain tables');
  // Non-contiguous, not in file order: even file blocks ascend from 260, odd ones descend from 420.
  const placement = Array.from({ length: nBlocks }, (_, i) => (i % 2 === 0 ? 260 + i / 2 : 420 - i));
  if (new Set(placement).size !== nBlocks || placement.some((b) => b < 200 || b >= 500)) throw new Error('vmfs6-freed builder: placement collides');
  const gtBlock = Math.floor((delta.layout.gtOffset * SECTOR + 32 * 32768) / BS);
  const grainBlock = Math.floor((delta.layout.grainsOffset * SECTOR) / BS) + 1;
  if (grainBlock >= nBlocks || gtBlock === 0) throw new Error('vmfs6-freed builder: delta too small');
  const reused = [gtBlock, grainBlock];

  // --- build 1: pre-revert, the delta live -----------------------------------------------------
  // Two small files precede the delta's descriptor: the revert deletes them too (change-tracking
  // file, lock), so their FDC items are what the new delta's descriptor and delta get.
  const liveFiles: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000001-ctk.vmdk', kind: 'resident', size: 600 },
    { path: '/vm1/vm1.vmx.lck', kind: 'resident', size: 100 },
    { path: DELTA_DESC_PATH, kind: 'resident', size: deltaDesc.length },
    { path: DELTA_PATH, kind: 'blocks', size: deltaBytes.length, addressing, blocks: placement.map((at, index) => ({ index, content: 'zero' as const, at })) },
  ];
  const lm = await buildVmfs({ version: 6, dir: liveDir, name: 'ds', label: 'recovery-v6-freed', seed: o.seed, luns: [{ scheme: 'gpt', segments: 2 }], files: liveFiles, layout });
  const { fdVol } = fdcLocator(g, 16, g.fdSize, g.fdcBaseBlock);
  const deltaEntry = lm.entries.find((e) => e.path === DELTA_PATH)!;
  const descEntry = lm.entries.find((e) => e.path === DELTA_DESC_PATH)!;
  const dirEntry = lm.entries.find((e) => e.path === '/vm1')!;
  if (deltaEntry.addressing !== (addressing === 'pointer' ? 'pointer-block' : 'direct')) throw new Error(`vmfs6-freed builder: delta built as ${deltaEntry.addressing}`);
  const lio = openVolume(lm);
  let fdBytes: Uint8Array;
  let descFdBytes: Uint8Array;
  let pbVolOffset: number | null = null;
  let pbBytes: Uint8Array | null = null;
  const sbc = sbcOf(lio, fdVol);
  try {
    checkRootFd(lio, fdVol, lm.entries.find((e) => e.path === '/')!.fdAddress, 'vmfs6-freed');
    lio.put(fdVol(lm.entries.find((e) => e.path === '/vm1/vm1.vmdk')!.fdAddress) + g.fdData, new TextEncoder().encode(baseDesc));
    lio.put(fdVol(descEntry.fdAddress) + g.fdData, new TextEncoder().encode(deltaDesc));
    for (let i = 0; i < nBlocks; i++) lio.put(placement[i]! * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
    fdBytes = lio.get(fdVol(deltaEntry.fdAddress), g.fdSize);
    descFdBytes = lio.get(fdVol(descEntry.fdAddress), g.fdSize);
    if (addressing === 'pointer') {
      // Slot 0 of the delta's FD: the SB address of its pointer block (cluster bits 6+, resource 56+).
      const slot = new DataView(fdBytes.buffer, fdBytes.byteOffset).getBigUint64(g.fdSlots, true);
      if ((slot & 7n) !== 2n) throw new Error(`vmfs6-freed builder: PB slot 0x${slot.toString(16)} is not a sub-block address`);
      const item = Number((slot >> 6n) & 0xfffffffffn) * sbc.R + Number(slot >> 56n);
      pbVolOffset = sbc.itemVolOffset(item);
      pbBytes = lio.get(pbVolOffset, g.pbSize);
      const pdv = new DataView(pbBytes.buffer, pbBytes.byteOffset);
      placement.forEach((b, i) => {
        const e = pdv.getBigUint64(i * 8, true);
        if (Number((e >> 15n) & 0x7fffffffn) * 512 + Number(e >> 51n) !== b) throw new Error(`vmfs6-freed builder: PB entry ${i} does not name block ${b}`);
      });
    }
  } finally {
    lio.close();
  }
  const liveDump = lm.luns[0]!.path;
  // Without the oracles (fuzz tests) the live check is skipped: the oracle test runs it.
  const livePartition = o.oracle === false ? '' : extractPartition(lm.luns[0]!, path.join(liveDir, 'vmfs6.part.img'));
  if (o.oracle !== false) checkLiveWithDebugvmfs6(livePartition, deltaBytes, deltaBytes.length);

  // --- build 2: after the revert ---------------------------------------------------------------
  const liveCowd = path.join(oracleDir, 'new-delta.bin');
  const live = writeSeSparse({ dataPath: liveCowd, capacity: CAP, runs: [] });
  const liveBlocks = Math.ceil(live.fileSize / BS);
  const newDesc = deltaDescriptor({ createType: 'seSparse', extentType: 'SESPARSE', capacity: CAP, dataFileName: 'vm1-000002-sesparse.vmdk', cid: randomCid(o.seed + 13), parentCid: baseCid, parentFileNameHint: 'vm1.vmdk' });
  const liveAt = (i: number) => (i < reused.length ? placement[reused[i]!]! : 170 + i);
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000002.vmdk', kind: 'resident', size: newDesc.length },
    {
      path: '/vm1/vm1-000002-sesparse.vmdk', kind: 'blocks', size: live.fileSize,
      blocks: Array.from({ length: liveBlocks }, (_, i) => ({ index: i, content: i === 1 ? ('data' as const) : ('zero' as const), at: liveAt(i), dataLength: MiB })),
    },
  ];
  const m = await buildVmfs({ version: 6, dir: o.dir, name: 'ds', label: 'recovery-v6-freed', seed: o.seed, luns: [{ scheme: 'gpt', segments: 2 }], files, layout });
  if (m.entries.find((e) => e.path === '/vm1')!.fdAddress !== dirEntry.fdAddress) throw new Error('vmfs6-freed builder: the folder moved between builds');
  if (m.entries.some((e) => e.fdAddress === deltaEntry.fdAddress || e.fdAddress === descEntry.fdAddress)) throw new Error('vmfs6-freed builder: the deleted FDs are in use after the revert');
  const io = openVolume(m);
  try {
    checkRootFd(io, fdVol, m.entries.find((e) => e.path === '/')!.fdAddress, 'vmfs6-freed');
    io.put(fdVol(m.entries.find((e) => e.path === '/vm1/vm1.vmdk')!.fdAddress) + g.fdData, new TextEncoder().encode(baseDesc));
    io.put(fdVol(m.entries.find((e) => e.path === '/vm1/vm1-000002.vmdk')!.fdAddress) + g.fdData, new TextEncoder().encode(newDesc));
    io.put(liveAt(0) * BS, readFileSync(liveCowd).subarray(0, BS));
    for (let i = 0; i < nBlocks; i++) if (!reused.includes(i)) io.put(placement[i]! * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
    // Remnants go only where the post-revert volume has nothing: unused FDC items, a free sub-block.
    const fdcItem = (a: number) => ((a >>> 6) & 0xffff) * 16 + (a >>> 22);
    for (const a of [deltaEntry.fdAddress, descEntry.fdAddress]) {
      if (io.get(fdVol(a), g.fdSize).some((x) => x !== 0)) throw new Error(`vmfs6-freed builder: FDC item ${fdcItem(a)} is not empty after the revert`);
      if (!itemFree(io, fdcOf(), fdcItem(a))) throw new Error(`vmfs6-freed builder: FDC item ${fdcItem(a)} is not free after the revert`);
    }
    if (o.case === 'fd-intact') {
      io.put(fdVol(deltaEntry.fdAddress), fdBytes);
      io.put(fdVol(descEntry.fdAddress), descFdBytes);
    }
    if (pbVolOffset !== null && pbBytes) {
      const item = sbcItemAt(sbc, pbVolOffset);
      if (io.get(pbVolOffset, g.pbSize).some((x) => x !== 0) || !itemFree(io, sbc, item)) throw new Error(`vmfs6-freed builder: sub-block ${item} is not free after the revert`);
      io.put(pbVolOffset, pbBytes);
    }
  } finally {
    io.close();
  }

  const { lost, recoverable } = lostFromSeSparse(deltaBytes, reused);
  if (!(lost.some((l) => l.kind === 'table') && lost.some((l) => l.kind === 'data'))) throw new Error('vmfs6-freed builder: reuse must lose a table and a grain');
  const result: V6FreedDump = {
    ...deletedDeltaAt(m, placement[0]!, CAP),
    expectedSha256: '',
    expectedLost: lost,
    expectedRecoverableGrains: recoverable,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    format: 'seSparse',
    deltaFileBlocks: placement,
    gtSectors: new Map([...delta.gtOffsets].map(([t, off]) => [t, off / SECTOR])),
    liveDump,
    livePartition,
    partition: o.oracle === false ? '' : extractPartition(m.luns[0]!, path.join(o.dir, 'vmfs6.part.img')),
    liveManifest: lm,
    fdVolOffset: fdVol(deltaEntry.fdAddress),
    pbVolOffset,
    fdAddress: deltaEntry.fdAddress,
    dirFdAddress: dirEntry.fdAddress,
  };
  if (o.oracle === false) return result;
  writeBase(oracleDir, baseDesc, m.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!.pieces!, CAP);
  const chainRaw = path.join(o.dir, 'chain.raw');
  const baseRaw = path.join(o.dir, 'base.raw');
  run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
  run('qemu-img', ['convert', '-O', 'raw', path.join(oracleDir, 'vm1.vmdk'), baseRaw]);
  const expectedRaw = path.join(o.dir, 'expected.raw');
  spliceLost(chainRaw, baseRaw, lost, expectedRaw);
  return { ...result, expectedSha256: sha256File(expectedRaw) };

  // .fdc.sf of the builder's VMFS6 geometry (R = C = 16, 8 KiB items, one group).
  function fdcOf(): Resource {
    return fdcLocator(g, 16, g.fdSize, g.fdcBaseBlock).fdc;
  }
}

/** The builder's VMFS6 .sbc.sf (R = C = 16, 64 KiB items, one group), placed from its FD's slot 0. */
export function sbcOf(io: VolumeIo, fdVol: (addr: number) => number): Resource {
  const g = geometry(6);
  const fd = io.get(fdVol(0x01000004), g.fdSize);
  const slot = new DataView(fd.buffer, fd.byteOffset).getBigUint64(g.fdSlots, true);
  if ((slot & 7n) !== 1n) throw new Error('vmfs6-freed builder: .sbc.sf slot 0 is not an SFB');
  const sbc = new Resource(g, '.sbc.sf', MAGIC.sbc, 4, 16, 16, 65536, 1, 256);
  sbc.startBlock = Number((slot >> 15n) & 0x7fffffffn) * 512 + Number(slot >> 51n);
  return sbc;
}

function sbcItemAt(sbc: Resource, volOffset: number): number {
  for (let i = 0; i < sbc.total; i++) if (sbc.itemVolOffset(i) === volOffset) return i;
  throw new Error('vmfs6-freed builder: no sub-block there');
}

/**
 * Bitmap bit of an item in the vmfs6-tools layout (cluster header + mdAlignment + 0x10, 1 = free).
 * ESXi's 'rcmd' metadata has counts only: there the cluster must name itself and count a free item
 * (the caller has checked that no live file holds the item).
 */
export function itemFree(io: VolumeIo, res: Resource, item: number): boolean {
  const g = res.g;
  const c = Math.floor(item / res.R);
  const rr = item % res.R;
  const hdr = res.volOffset(CG_OFFSET + c * g.clusterHeader) + g.mdAlignment;
  const md = new DataView(io.get(hdr, 0x28).buffer);
  if (md.getUint32(0x10, true) === RCMD) {
    if (md.getBigUint64(0x18, true) !== BigInt(c)) throw new Error(`vmfs6-freed builder: ${res.name} cluster ${c} 'rcmd' names another cluster`);
    return md.getUint16(0x22, true) > 0;
  }
  const num = new DataView(io.get(hdr, 4).buffer).getUint32(0, true);
  if (num !== c) throw new Error(`vmfs6-freed builder: ${res.name} cluster ${c} metadata says cluster ${num}`);
  return ((io.get(hdr + 0x10 + (rr >> 3), 1)[0]! >> (rr & 7)) & 1) === 1;
}

/** debugvmfs6 lists the live delta with its size and reads it back byte for byte. */
function checkLiveWithDebugvmfs6(dump: string, want: Uint8Array, size: number): void {
  const ls = run('debugvmfs6', [dump, 'ls', '-l', '/vm1']);
  const line = ls.split('\n').find((l) => l.endsWith(` ${path.posix.basename(DELTA_PATH)}`));
  if (!line || !new RegExp(`\\s${size}\\s`).test(line)) throw new Error(`vmfs6-freed builder: debugvmfs6 ls does not show the live delta with ${size} bytes:\n${ls}`);
  const cat = spawnSync('debugvmfs6', [dump, 'cat', DELTA_PATH], { maxBuffer: 512 * 1024 * 1024 });
  if (cat.status !== 0) throw new Error(`vmfs6-freed builder: debugvmfs6 cat failed: ${String(cat.stderr)}`);
  const out = cat.stdout;
  const body = out.subarray(0, BANNER.length).toString('latin1') === BANNER ? out.subarray(BANNER.length) : out;
  const h = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  if (body.length !== want.length || h(body) !== h(want)) throw new Error(`vmfs6-freed builder: debugvmfs6 cat of the live delta differs from what was written (${body.length} vs ${want.length} bytes)`);
}
