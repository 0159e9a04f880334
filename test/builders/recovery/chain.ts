import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta, writeCowd } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';
import { fdRecord, freeFdAddress } from '../../../src/core/synth/vmfs/freed-fd.js';
import { deltaDescriptorText, flatDescriptor, lostFromDelta, mergeRuns, spliceLost, writeBase, type DeletedDeltaDump, type ExpectedLostRun } from './deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume } from './volume-io.js';

/**
 * Case (iv): a two-level snapshot chain base <- d1 <- d2 where "revert to snapshot" threw d2 away
 * (FD zeroed, blocks contiguous and free, two of them reused by the new delta d3) and made a new
 * empty d3 over the surviving middle link d1. The candidate is d2; its right parent is d1 (not
 * the base, which has the same capacity), and the recovered disk is d2 over d1 over the base.
 *
 * Expected disk: qemu-img converts the pre-revert chain (d2 -> d1 -> base); the lost runs of d2
 * are taken from qemu-img's conversion of d1 (its parent chain).
 */

const BS = MiB;
const CAP = 64 * MiB;
const D1_AT = 60;
const D2_AT = 100;
const FD_SIZE = 2048;

function randomWrites(seed: number, n: number, extra: GrainRun[] = []): GrainRun[] {
  const r = rng(seed);
  const used = new Set<number>();
  const runs: GrainRun[] = [...extra];
  for (let k = 0; k < n; k++) {
    const g0 = Math.floor(r() * (CAP / 65536)) * 128;
    if (used.has(g0)) continue;
    used.add(g0);
    runs.push({ firstGrain: g0, count: 128, kind: 'data', fill: sectorPattern(seed * 7 + k) });
  }
  runs.sort((a, b) => a.firstGrain - b.firstGrain);
  return mergeRuns(runs);
}

/**
 * The pre-revert chain both chain cases start from, written as ordinary files in `<dir>/pre-revert`
 * (the qemu-img oracle reads them there): a flat base and two COWD deltas, d1 and d2 overlapping on
 * purpose (d2 must win where both wrote; d1 must show where only it did).
 */
function preRevertChain(o: { dir: string; seed: number }) {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63].map((index, k) => ({ index, content: 'data', at: 30 + k, dataLength: MiB }));
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk');
  const d1 = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs: randomWrites(o.seed + 1, 25, [{ firstGrain: (8 * MiB) / 512, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 5) }]), parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const d2 = buildCowdDelta({ dir: oracleDir, name: 'vm1-000002', capacity: CAP, runs: randomWrites(o.seed + 2, 30, [{ firstGrain: (9 * MiB) / 512, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 6) }]), parentFileNameHint: 'vm1-000001.vmdk', parentCid: d1.cid, cid: randomCid(o.seed + 13) });
  const d1Bytes = readFileSync(d1.dataPath);
  const d2Bytes = readFileSync(d2.dataPath);
  const d1Desc = readFileSync(d1.descriptorPath, 'latin1');
  const d2Desc = readFileSync(d2.descriptorPath, 'latin1');
  const n1 = Math.ceil(d1Bytes.length / BS);
  const n2 = Math.ceil(d2Bytes.length / BS);
  return { oracleDir, baseBlocks, baseCid, baseDesc, d1, d2, d1Bytes, d2Bytes, d1Desc, d2Desc, n1, n2 };
}

export async function buildChainDump(o: { dir: string; seed: number }): Promise<DeletedDeltaDump & { middlePath: string }> {
  const { oracleDir, baseBlocks, baseCid, baseDesc, d1, d2, d1Bytes, d2Bytes, d1Desc, n1, n2 } = preRevertChain(o);
  // Reused by d3: a d2 block holding a grain table (not block 0), and one other.
  const gtBlocks = [...d2.gtSectors.values()].map((s) => Math.floor((s * 512) / BS)).filter((b) => b > 0);
  const gtBlock = gtBlocks[Math.floor(gtBlocks.length / 2)]!;
  const other = [...Array(n2).keys()].filter((b) => b > 0 && !gtBlocks.includes(b))[0] ?? [...Array(n2).keys()].filter((b) => b > 0 && b !== gtBlock)[0]!;
  const reused = [gtBlock, other];

  const d3Cowd = path.join(oracleDir, 'd3.bin');
  writeCowd({ dataPath: d3Cowd, capacity: CAP, runs: [] });
  const d3Desc = deltaDescriptorText(randomCid(o.seed + 14), d1.cid, 'vm1-000003-delta.vmdk', CAP, 'vm1-000001.vmdk');
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000001.vmdk', kind: 'resident', size: d1Desc.length },
    { path: '/vm1/vm1-000001-delta.vmdk', kind: 'blocks', size: d1Bytes.length, blocks: Array.from({ length: n1 }, (_, i) => ({ index: i, content: 'zero' as const, at: D1_AT + i })) },
    { path: '/vm1/vm1-000003.vmdk', kind: 'resident', size: d3Desc.length },
    { path: '/vm1/vm1-000003-delta.vmdk', kind: 'blocks', size: 2 * BS, blocks: [{ index: 0, content: 'zero', at: D2_AT + reused[0]! }, { index: 1, content: 'data', at: D2_AT + reused[1]!, dataLength: MiB }] },
  ];
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'recovery-chain', seed: o.seed, luns: [{ scheme: 'gpt', segments: 1 }], files });
  const io = openVolume(m);
  const { lun, put, entry } = io;
  const { fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, 4);
  try {
    checkRootFd(io, fdVol, 4, 'chain');
    put(fdVol(entry('/vm1/vm1.vmdk').fdAddress) + 0x400, new TextEncoder().encode(baseDesc));
    put(fdVol(entry('/vm1/vm1-000001.vmdk').fdAddress) + 0x400, new TextEncoder().encode(d1Desc));
    put(fdVol(entry('/vm1/vm1-000003.vmdk').fdAddress) + 0x400, new TextEncoder().encode(d3Desc));
    put(D1_AT * BS, d1Bytes);
    for (let i = 0; i < n2; i++) if (!reused.includes(i)) put((D2_AT + i) * BS, d2Bytes.subarray(i * BS, (i + 1) * BS));
    put((D2_AT + reused[0]!) * BS, readFileSync(d3Cowd));
  } finally {
    io.close();
  }

  const { lost, recoverable } = lostFromDelta(d2Bytes, reused);
  writeBase(oracleDir, baseDesc, entry('/vm1/vm1-flat.vmdk').pieces!);
  const chainRaw = path.join(o.dir, 'chain.raw');
  const parentRaw = path.join(o.dir, 'parent.raw');
  run('qemu-img', ['convert', '-O', 'raw', d2.descriptorPath, chainRaw]);
  run('qemu-img', ['convert', '-O', 'raw', d1.descriptorPath, parentRaw]);
  spliceLost(chainRaw, parentRaw, lost, chainRaw);
  return {
    dump: lun.path,
    manifest: m,
    headerBlock: D2_AT,
    candidateId: `delta-${D2_AT}`,
    parentPath: '/vm1/vm1-000001.vmdk',
    middlePath: '/vm1/vm1-000001.vmdk',
    capacity: CAP,
    expectedSha256: sha256File(chainRaw),
    expectedLost: lost,
    expectedRecoverableGrains: recoverable,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    deltaFileBlocks: Array.from({ length: n2 }, (_, i) => D2_AT + i),
    gtSectors: d2.gtSectors,
  };
}

/** The older deleted link of a deleted two-level chain, as the scan must report it. */
export interface DeletedChainDump extends DeletedDeltaDump {
  middle: { candidateId: string; parentPath: string; expectedLost: ExpectedLostRun[]; expectedRecoverableGrains: number; expectedSha256: string };
}

/**
 * How the two deleted links sit on the volume. contiguous: FDs zeroed, each delta in its own run
 * of free blocks. interleaved: freed blocks were reused, so d1's and d2's blocks alternate (d2's
 * header block comes FIRST, the wrong order for a guess by position); both delta FDs survive
 * freed with their block lists and, with `dated`, their modification times (d1 frozen before d2
 * was last written).
 */
export type ChainLayout = { kind: 'contiguous' } | { kind: 'interleaved'; dated: boolean };

const DEL1_AT = 100;
const DEL2_AT = 130;

/** Allocated sectors of a COWD file we wrote (GT entries > 1), as merged runs. */
function allocatedRuns(delta: Uint8Array): { sector: number; sectors: number }[] {
  const dv = new DataView(delta.buffer, delta.byteOffset, delta.byteLength);
  const numSectors = dv.getUint32(0x0c, true);
  const gd = dv.getUint32(0x14, true) * 512;
  const numGd = dv.getUint32(0x18, true);
  const out: { sector: number; sectors: number }[] = [];
  for (let t = 0; t < numGd; t++) {
    const gde = dv.getUint32(gd + t * 4, true);
    if (gde <= 1) continue;
    for (let i = 0; i < 4096 && t * 4096 + i < numSectors; i++) {
      if (dv.getUint32(gde * 512 + i * 4, true) <= 1) continue;
      const s = t * 4096 + i;
      const prev = out[out.length - 1];
      if (prev && prev.sector + prev.sectors === s) prev.sectors++;
      else out.push({ sector: s, sectors: 1 });
    }
  }
  return out;
}

/** Runs of `a` minus the sectors of `b`. */
function minusRuns(a: { sector: number; sectors: number }[], b: { sector: number; sectors: number }[]): { sector: number; sectors: number; kind: 'data' }[] {
  const gone = new Set<number>();
  for (const r of b) for (let s = r.sector; s < r.sector + r.sectors; s++) gone.add(s);
  const out: { sector: number; sectors: number; kind: 'data' }[] = [];
  for (const r of a)
    for (let s = r.sector; s < r.sector + r.sectors; s++) {
      if (gone.has(s)) continue;
      const prev = out[out.length - 1];
      if (prev && prev.sector + prev.sectors === s) prev.sectors++;
      else out.push({ sector: s, sectors: 1, kind: 'data' });
    }
  return out;
}

/**
 * Case (iv), both links deleted: base <- d1 <- d2, and "revert to snapshot" (to the base's
 * snapshot) threw away d1 AND d2 (FDs zeroed, blocks contiguous and free) and made a new empty d3
 * over the base that reuses a grain-table block of d1, and a grain-table block and another block
 * of d2. The descriptors of d1 and d2 survive in freed resident FDs (d2's parentCID = d1's CID,
 * its parentFileNameHint names d1's descriptor). The candidate is d2, its parent the candidate d1,
 * whose parent is the base.
 *
 * Expected disk, independent of the recovery code: d1' = qemu-img of (d1 -> base) with d1's lost
 * runs from qemu-img of the base; then the sectors d2 holds and did not lose come from qemu-img of
 * (d2 -> d1 -> base), every other sector from d1'.
 */
export async function buildDeletedChainDump(o: { dir: string; seed: number; layout?: ChainLayout }): Promise<DeletedChainDump> {
  const { oracleDir, baseBlocks, baseCid, baseDesc, d1, d2, d1Bytes, d2Bytes, d1Desc, d2Desc, n1, n2 } = preRevertChain(o);
  const layout = o.layout ?? { kind: 'contiguous' };
  const inter = layout.kind === 'interleaved';
  // File block i of d1 / d2 -> FS block.
  const at1 = (i: number) => (inter ? DEL1_AT + 2 * i + 1 : DEL1_AT + i);
  const at2 = (i: number) => (inter ? DEL1_AT + 2 * i : DEL2_AT + i);
  if (inter ? DEL1_AT + 2 * Math.max(n1, n2) > 200 : DEL1_AT + n1 > DEL2_AT || DEL2_AT + n2 > 200) throw new Error('deleted-chain builder: deltas do not fit their block ranges');
  const gtBlocksOf = (gt: Map<number, number>) => [...gt.values()].map((s) => Math.floor((s * 512) / BS)).filter((b) => b > 0);
  const gt1 = gtBlocksOf(d1.gtSectors);
  const gt2 = gtBlocksOf(d2.gtSectors);
  const reused1 = [gt1[Math.floor(gt1.length / 2)]!];
  const gt2Block = gt2[Math.floor(gt2.length / 2)]!;
  const reused2 = [gt2Block, [...Array(n2).keys()].filter((b) => b > 0 && !gt2.includes(b))[0] ?? [...Array(n2).keys()].filter((b) => b > 0 && b !== gt2Block)[0]!];

  const d3Cowd = path.join(oracleDir, 'd3.bin');
  writeCowd({ dataPath: d3Cowd, capacity: CAP, runs: [] });
  const d3Desc = deltaDescriptorText(randomCid(o.seed + 14), baseCid, 'vm1-000003-delta.vmdk', CAP, 'vm1.vmdk');
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000003.vmdk', kind: 'resident', size: d3Desc.length },
    {
      path: '/vm1/vm1-000003-delta.vmdk', kind: 'blocks', size: 3 * BS,
      blocks: [
        { index: 0, content: 'zero', at: at2(reused2[0]!) },
        { index: 1, content: 'data', at: at1(reused1[0]!), dataLength: MiB },
        { index: 2, content: 'data', at: at2(reused2[1]!), dataLength: MiB },
      ],
    },
  ];
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'recovery-chain2', seed: o.seed, luns: [{ scheme: 'gpt', segments: 1 }], files });
  const io = openVolume(m);
  const { lun, put, entry } = io;
  const { fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, 4);
  try {
    checkRootFd(io, fdVol, 4, 'deleted-chain');
    put(fdVol(entry('/vm1/vm1.vmdk').fdAddress) + 0x400, new TextEncoder().encode(baseDesc));
    put(fdVol(entry('/vm1/vm1-000003.vmdk').fdAddress) + 0x400, new TextEncoder().encode(d3Desc));
    for (let i = 0; i < n1; i++) if (!reused1.includes(i)) put(at1(i) * BS, d1Bytes.subarray(i * BS, (i + 1) * BS));
    for (let i = 0; i < n2; i++) if (!reused2.includes(i)) put(at2(i) * BS, d2Bytes.subarray(i * BS, (i + 1) * BS));
    put(at2(reused2[0]!) * BS, readFileSync(d3Cowd));
    // The two deleted descriptors, in freed resident FDs of the folder (d2's first: scan order must not matter).
    const dirFd = entry('/vm1').fdAddress;
    ([[d2Desc, 3], [d1Desc, 4]] as const).forEach(([text, r]) => {
      const slot = freeFdAddress(m, r);
      const bytes = new TextEncoder().encode(text);
      put(fdVol(slot), fdRecord(slot, fdVol(slot), dirFd, { length: bytes.length, resident: bytes }));
    });
    if (layout.kind === 'interleaved') {
      // The delta FDs, freed with their block lists (d2's first again); d1 last written a day before d2.
      const t0 = 1_700_000_000;
      ([[d2Bytes, n2, at2, 5, t0 + 86_400], [d1Bytes, n1, at1, 6, t0]] as const).forEach(([bytes, n, at, r, mtime]) => {
        const slot = freeFdAddress(m, r);
        put(fdVol(slot), fdRecord(slot, fdVol(slot), dirFd, { length: bytes.length, blocks: Array.from({ length: n }, (_, i) => at(i)), ...(layout.dated ? { mtime } : {}) }));
      });
    }
  } finally {
    io.close();
  }

  const l1 = lostFromDelta(d1Bytes, reused1);
  const l2 = lostFromDelta(d2Bytes, reused2);
  writeBase(oracleDir, baseDesc, entry('/vm1/vm1-flat.vmdk').pieces!);
  const baseRaw = path.join(o.dir, 'base.raw');
  const d1Raw = path.join(o.dir, 'd1.raw');
  const chainRaw = path.join(o.dir, 'chain.raw');
  const expectedRaw = path.join(o.dir, 'expected.raw');
  run('qemu-img', ['convert', '-O', 'raw', path.join(oracleDir, 'vm1.vmdk'), baseRaw]);
  run('qemu-img', ['convert', '-O', 'raw', d1.descriptorPath, d1Raw]);
  run('qemu-img', ['convert', '-O', 'raw', d2.descriptorPath, chainRaw]);
  spliceLost(d1Raw, baseRaw, l1.lost, d1Raw);
  spliceLost(d1Raw, chainRaw, minusRuns(allocatedRuns(d2Bytes), l2.lost), expectedRaw);
  return {
    dump: lun.path,
    manifest: m,
    headerBlock: at2(0),
    candidateId: `delta-${at2(0)}`,
    parentPath: `candidate:delta-${at1(0)}`,
    capacity: CAP,
    expectedSha256: sha256File(expectedRaw),
    expectedLost: l2.lost,
    expectedRecoverableGrains: l2.recoverable,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    deltaFileBlocks: Array.from({ length: n2 }, (_, i) => at2(i)),
    gtSectors: d2.gtSectors,
    middle: { candidateId: `delta-${at1(0)}`, parentPath: '/vm1/vm1.vmdk', expectedLost: l1.lost, expectedRecoverableGrains: l1.recoverable, expectedSha256: sha256File(d1Raw) },
  };
}
