import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta, writeCowd } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { geometry } from '../vmfs/geometry.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';
import { deltaDescriptorText, flatDescriptor, lostFromDelta, mergeRuns, spliceLost, writeBase, type DeletedDeltaDump } from './deleted-delta.js';
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

export async function buildChainDump(o: { dir: string; seed: number }): Promise<DeletedDeltaDump & { middlePath: string }> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63].map((index, k) => ({ index, content: 'data', at: 30 + k, dataLength: MiB }));
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk');
  // d1 and d2 overlap on purpose (d2 must win where both wrote; d1 must show where only it did).
  const d1 = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs: randomWrites(o.seed + 1, 25, [{ firstGrain: (8 * MiB) / 512, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 5) }]), parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const d2 = buildCowdDelta({ dir: oracleDir, name: 'vm1-000002', capacity: CAP, runs: randomWrites(o.seed + 2, 30, [{ firstGrain: (9 * MiB) / 512, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 6) }]), parentFileNameHint: 'vm1-000001.vmdk', parentCid: d1.cid, cid: randomCid(o.seed + 13) });
  const d1Bytes = readFileSync(d1.dataPath);
  const d2Bytes = readFileSync(d2.dataPath);
  const d1Desc = readFileSync(d1.descriptorPath, 'latin1');
  const n1 = Math.ceil(d1Bytes.length / BS);
  const n2 = Math.ceil(d2Bytes.length / BS);
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
