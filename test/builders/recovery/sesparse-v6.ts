import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSeSparseDelta, writeSeSparse } from '../sesparse.js';
import { deltaDescriptor, randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';
import { flatDescriptor, spliceLost, writeBase, type DeletedDeltaDump, type ExpectedLostRun } from './deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume } from './volume-io.js';

/**
 * Case (v): VMFS6 with a deleted seSparse delta. The base (flat) and, after the revert, a new
 * empty seSparse delta are live; the old seSparse delta's blocks are free (VMFS6 free space is
 * what no live file references), contiguous from DELTA_AT, with two of them (the grain-table
 * block and a grain block) reused by the new delta. Expected disk: qemu-img converts the
 * pre-revert chain; the lost runs (computed here from the seSparse file we wrote) come from the base.
 */

const BS = MiB;
const SECTOR = 512;
const DELTA_AT = 200;
const GRAIN = 4096;

/**
 * otherVm: a second VM /vm2 cloned from the same template (its base has vm1's capacity and CID) and
 * reverted too (a live empty seSparse delta over its base): with no descriptor of the deleted delta
 * left, nothing tells the two bases apart, so the scan must leave the parent to the user.
 */
export async function buildSeSparseV6Dump(o: { dir: string; seed: number; reuse: boolean; oracle?: boolean; otherVm?: boolean }): Promise<DeletedDeltaDump> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const r = rng(o.seed);
  const g = geometry(6);
  // With reuse, 1 GiB and writes in > 32 tables: the GT area then spans two blocks, so losing the
  // second one loses some tables, not all (the first block holds GT slots 0..31).
  const CAP = o.reuse ? 1024 * MiB : 64 * MiB;
  const WRITES = o.reuse ? 90 : 30;
  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63].map((index, k) => ({ index, content: 'data', at: 150 + k, dataLength: MiB }));
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', CAP);

  const runs: GrainRun[] = [];
  const used = new Set<number>();
  for (let k = 0; k < WRITES; k++) {
    const g0 = Math.floor(r() * (CAP / 65536)) * 16;
    if (used.has(g0) || (g0 >= 2048 && g0 < 2560)) continue;
    used.add(g0);
    runs.push({ firstGrain: g0, count: 16, kind: 'data', fill: sectorPattern(o.seed * 7 + k) });
  }
  runs.push({ firstGrain: (8 * MiB) / GRAIN, count: 512, kind: 'data', fill: sectorPattern(o.seed + 99) });
  const delta = buildSeSparseDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const deltaBytes = readFileSync(delta.dataPath);
  const nBlocks = Math.ceil(deltaBytes.length / BS);
  if (o.reuse && delta.tables <= 32) throw new Error('sesparse-v6 builder: need more than 32 grain tables');
  const gtBlock = Math.floor((delta.layout.gtOffset * SECTOR + 32 * 32768) / BS);
  const grainBlock = Math.floor((delta.layout.grainsOffset * SECTOR) / BS) + 1;
  if (grainBlock >= nBlocks) throw new Error('sesparse-v6 builder: delta too small');
  const reused = o.reuse ? [gtBlock, grainBlock] : [];

  const liveCowd = path.join(oracleDir, 'live.bin');
  const live = writeSeSparse({ dataPath: liveCowd, capacity: CAP, runs: [] });
  const liveBlocks = Math.ceil(live.fileSize / BS);
  const liveDesc = deltaDescriptor({ createType: 'seSparse', extentType: 'SESPARSE', capacity: CAP, dataFileName: 'vm1-000001-sesparse.vmdk', cid: randomCid(o.seed + 13), parentCid: baseCid, parentFileNameHint: 'vm1.vmdk' });
  const liveAt = (i: number) => (i < reused.length ? DELTA_AT + reused[i]! : 170 + i);
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000001.vmdk', kind: 'resident', size: liveDesc.length },
    {
      path: '/vm1/vm1-000001-sesparse.vmdk', kind: 'blocks', size: live.fileSize,
      blocks: Array.from({ length: liveBlocks }, (_, i) => ({ index: i, content: i === 1 && o.reuse ? ('data' as const) : ('zero' as const), at: liveAt(i), dataLength: MiB })),
    },
  ];
  const vm2Desc = flatDescriptor(baseCid, 'vm2-flat.vmdk', CAP);
  const vm2Leaf = deltaDescriptor({ createType: 'seSparse', extentType: 'SESPARSE', capacity: CAP, dataFileName: 'vm2-000001-sesparse.vmdk', cid: randomCid(o.seed + 14), parentCid: baseCid, parentFileNameHint: 'vm2.vmdk' });
  if (o.otherVm) {
    if (liveBlocks > 10) throw new Error('sesparse-v6 builder: live deltas overlap (170.. and 180..)');
    files.push(
      { path: '/vm2/vm2.vmdk', kind: 'resident', size: vm2Desc.length },
      { path: '/vm2/vm2-flat.vmdk', kind: 'blocks', size: CAP, blocks: [2, 7, 30].map((index, k) => ({ index, content: 'data' as const, at: 140 + k, dataLength: MiB })) },
      { path: '/vm2/vm2-000001.vmdk', kind: 'resident', size: vm2Leaf.length },
      { path: '/vm2/vm2-000001-sesparse.vmdk', kind: 'blocks', size: live.fileSize, blocks: Array.from({ length: liveBlocks }, (_, i) => ({ index: i, content: 'zero' as const, at: 180 + i, dataLength: MiB })) },
    );
  }
  const m = await buildVmfs({ version: 6, dir: o.dir, name: 'ds', label: 'recovery-v6', seed: o.seed, luns: [{ scheme: 'gpt', segments: 2 }], files });
  const io = openVolume(m);
  const { lun, put, get, entry } = io;
  // .fdc.sf on VMFS6: R = C = 16, S = 8 KiB, at the FDC base block (builder geometry, checked below).
  const { fdVol } = fdcLocator(g, 16, g.fdSize, g.fdcBaseBlock);
  try {
    const rootAddr = m.entries.find((e) => e.path === '/')?.fdAddress ?? 4;
    checkRootFd(io, fdVol, rootAddr, 'sesparse-v6');
    put(fdVol(entry('/vm1/vm1.vmdk').fdAddress) + g.fdData, new TextEncoder().encode(baseDesc));
    put(fdVol(entry('/vm1/vm1-000001.vmdk').fdAddress) + g.fdData, new TextEncoder().encode(liveDesc));
    for (let i = 0; i < nBlocks; i++) if (!reused.includes(i)) put((DELTA_AT + i) * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
    put(liveAt(0) * BS, readFileSync(liveCowd).subarray(0, BS));
    if (o.otherVm) {
      put(fdVol(entry('/vm2/vm2.vmdk').fdAddress) + g.fdData, new TextEncoder().encode(vm2Desc));
      put(fdVol(entry('/vm2/vm2-000001.vmdk').fdAddress) + g.fdData, new TextEncoder().encode(vm2Leaf));
      put(180 * BS, readFileSync(liveCowd).subarray(0, BS));
    }
  } finally {
    io.close();
  }

  const { lost, recoverable } = lostFromSeSparse(deltaBytes, reused);
  if (o.reuse && !(lost.some((l) => l.kind === 'table') && lost.some((l) => l.kind === 'data'))) throw new Error('sesparse-v6 builder: reuse must lose a table and a grain');
  const result: DeletedDeltaDump = {
    dump: lun.path,
    manifest: m,
    headerBlock: DELTA_AT,
    candidateId: `delta-${DELTA_AT}`,
    parentPath: '/vm1/vm1.vmdk',
    capacity: CAP,
    expectedSha256: '',
    expectedLost: lost,
    expectedRecoverableGrains: recoverable,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    format: 'seSparse',
    deltaFileBlocks: Array.from({ length: nBlocks }, (_, i) => DELTA_AT + i),
    gtSectors: new Map([...delta.gtOffsets].map(([t, off]) => [t, off / SECTOR])),
  };
  if (o.oracle === false) return result;
  writeBase(oracleDir, baseDesc, entry('/vm1/vm1-flat.vmdk').pieces!, CAP);
  const chainRaw = path.join(o.dir, 'chain.raw');
  const baseRaw = path.join(o.dir, 'base.raw');
  run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
  run('qemu-img', ['convert', '-O', 'raw', path.join(oracleDir, 'vm1.vmdk'), baseRaw]);
  spliceLost(chainRaw, baseRaw, lost, chainRaw);
  return { ...result, expectedSha256: sha256File(chainRaw) };
}

/**
 * Lost sectors of a seSparse delta whose blocks `reused` are gone (format doc §5, read here
 * independently of the reader): a GT in a reused block loses its table's whole 16 MiB range; a
 * data grain (type 3) in a reused block loses its 8 sectors.
 */
export function lostFromSeSparse(d: Uint8Array, reused: readonly number[]): { lost: ExpectedLostRun[]; recoverable: number } {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const u64 = (at: number) => Number(dv.getBigUint64(at, true));
  const capSectors = u64(0x10);
  const gdOff = u64(0x80) * SECTOR;
  const gtOff = u64(0x90) * SECTOR;
  const grainsOff = u64(0xc0) * SECTOR;
  const tables = Math.ceil(capSectors / (8 * 4096));
  const inReused = (off: number, len: number) => reused.some((b) => off < (b + 1) * BS && off + len > b * BS);
  const marks = new Map<number, 'table' | 'data'>(); // by grain
  let recoverable = 0;
  for (let t = 0; t < tables; t++) {
    const lo = dv.getUint32(gdOff + t * 8, true);
    const hi = dv.getUint32(gdOff + t * 8 + 4, true);
    if (hi !== 0x10000000) continue;
    const gtAt = gtOff + lo * 32768;
    if (inReused(gtAt, 32768)) {
      for (let i = 0; i < 4096; i++) marks.set(t * 4096 + i, 'table');
      continue;
    }
    for (let i = 0; i < 4096; i++) {
      const elo = dv.getUint32(gtAt + i * 8, true);
      const ehi = dv.getUint32(gtAt + i * 8 + 4, true);
      if (ehi >>> 28 !== 3) continue;
      const index = ((ehi & 0xffff) * 2 ** 32 + elo) * 4096 + ((ehi >>> 16) & 0xfff);
      if (inReused(grainsOff + index * GRAIN, GRAIN)) marks.set(t * 4096 + i, 'data');
      else recoverable++;
    }
  }
  const lost: ExpectedLostRun[] = [];
  for (const gi of [...marks.keys()].sort((a, b) => a - b)) {
    if (gi * 8 >= capSectors) continue;
    const k = marks.get(gi)!;
    const prev = lost[lost.length - 1];
    if (prev && prev.kind === k && prev.sector + prev.sectors === gi * 8) prev.sectors += 8;
    else lost.push({ sector: gi * 8, sectors: 8, kind: k });
  }
  return { lost, recoverable };
}
