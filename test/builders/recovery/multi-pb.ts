import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta, writeCowd } from '../cowd.js';
import { randomCid, sectorPattern, type Fill, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { geometry, fb5 } from '../../../src/core/synth/vmfs/geometry.js';
import { Resource, MAGIC } from '../../../src/core/synth/vmfs/resource.js';
import { rng } from '../../helpers/fuzz.js';
import { sha256File } from '../../helpers/tools.js';
import { deltaDescriptorText, flatDescriptor, lostFromDeltaFile, writeBase, type DeletedDeltaDump } from './deleted-delta.js';
import { checkRootFd, fdcLocator, fileReader, openVolume } from './volume-io.js';

/**
 * Case (iii): a COWD delta of more than 1024 FS blocks (so two VMFS5 pointer blocks of 1024 x
 * 1 MiB), in many fragments, FD zeroed, both pointer blocks freed but intact in .pbc.sf (the
 * second at a LOWER item than the first), decoy freed PBs next to the first one (one listing
 * the second piece's blocks rotated by one, one listing blocks of the right count that hold no
 * grain tables), and three blocks reused by the new live delta (a grain-table block in each piece
 * and a data block in the second).
 *
 * The dump is sparse: the delta writes every MiB of the first 1100 MiB of the disk, 32 KiB of
 * per-sector pattern then zeros, so the delta file is ~1109 MiB but only ~70 MiB of it is
 * non-zero; all-zero blocks are left as holes in the dump (they read as zeros, which is their
 * content). The expected disk is built from the writes themselves over the base, with the lost
 * runs (computed here from the delta file we wrote) taken from the base; sha256sum hashes it.
 */

const BS = MiB;
const CAP = 1152 * MiB;
const WRITTEN_MIB = 1100;
const PATTERN_SECTORS = 64;
const SECTOR = 512;
const FD_SIZE = 2048;
const FIRST = 100;
const PB_HEAD_ITEM = 300;
const PB_TAIL_ITEM = 120;

export interface MultiPbDump extends DeletedDeltaDump {
  /** Number of pointer blocks the delta needs. */
  pieces: number;
  reusedFileBlocks: number[];
}

export async function buildMultiPbDump(o: { dir: string; seed: number }): Promise<MultiPbDump> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const r = rng(o.seed);
  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63, 500, 1100, 1150].map((index, k) => ({ index, content: 'data', at: 30 + k, dataLength: MiB }));
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', CAP);

  // The deleted delta: every MiB gets a patterned head and a zero tail, in LBA order (so grain
  // tables are spread through the whole file, one every ~2 MiB).
  const pat = sectorPattern(o.seed * 7 + 1);
  const zero: Fill = () => {};
  const runs: GrainRun[] = [];
  for (let m = 0; m < WRITTEN_MIB; m++) {
    runs.push({ firstGrain: m * 2048, count: PATTERN_SECTORS, kind: 'data', fill: pat });
    runs.push({ firstGrain: m * 2048 + PATTERN_SECTORS, count: 2048 - PATTERN_SECTORS, kind: 'data', fill: zero });
  }
  const T = Date.now();
  const lap = (what: string) => process.env.E2_TIME && console.log(what, Date.now() - T);
  const delta = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const nBlocks = Math.ceil(delta.fileSize / BS);
  lap('delta');
  const perPb = 1024;
  const pieces = Math.ceil(nBlocks / perPb);
  if (pieces < 2) throw new Error('multi-pb builder: delta too small for two pointer blocks');

  // Fragments of 1..20 blocks with small gaps, in shuffled order.
  const frags: number[][] = [];
  let at = FIRST;
  let have = 0;
  while (have < nBlocks) {
    const len = Math.min(nBlocks - have, 1 + Math.floor(r() * 20));
    frags.push(Array.from({ length: len }, (_, i) => at + i));
    at += len + Math.floor(r() * 3);
    have += len;
  }
  for (let i = frags.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [frags[i], frags[j]] = [frags[j]!, frags[i]!];
  }
  const placement = frags.flat();
  const top = at;

  // Reused: a GT block of piece 0 (not block 0), a GT block of piece 1, a non-GT block of piece 1.
  const gtBlocks = new Set([...delta.gtSectors.values()].flatMap((s) => [Math.floor((s * SECTOR) / BS), Math.floor((s * SECTOR + 16383) / BS)]));
  const gt0 = [...gtBlocks].filter((b) => b > 0 && b < perPb).sort((a, b) => a - b)[200]!;
  const gt1 = [...gtBlocks].filter((b) => b >= perPb).sort((a, b) => a - b)[10]!;
  const plain1 = [...Array(nBlocks).keys()].filter((b) => b >= perPb && !gtBlocks.has(b))[20] ?? [...Array(nBlocks).keys()].filter((b) => b >= perPb && b !== gt1)[20]!;
  const reused = [gt0, gt1, plain1];

  const liveDeltaCowd = path.join(oracleDir, 'live-delta.bin');
  writeCowd({ dataPath: liveDeltaCowd, capacity: CAP, runs: [] });
  const liveDesc = deltaDescriptorText(randomCid(o.seed + 13), baseCid, 'vm1-000001-delta.vmdk', CAP);
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000001.vmdk', kind: 'resident', size: liveDesc.length },
    {
      path: '/vm1/vm1-000001-delta.vmdk', kind: 'blocks', size: 3 * BS,
      blocks: [{ index: 0, content: 'zero', at: placement[gt0]! }, { index: 1, content: 'data', at: placement[gt1]!, dataLength: MiB }, { index: 2, content: 'data', at: placement[plain1]!, dataLength: MiB }],
    },
  ];
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'recovery-multipb', seed: o.seed, luns: [{ scheme: 'gpt', segments: 6 }], files });
  lap('vmfs');
  if (top + 4 >= m.totalBlocks) throw new Error(`multi-pb builder: placement up to ${top} does not fit ${m.totalBlocks} blocks`);
  const io = openVolume(m);
  const { lun, put, get, entry } = io;
  const { fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, 4);
  const df = fileReader(delta.dataPath);
  const readDelta = df.read;
  try {
    checkRootFd(io, fdVol, 4, 'multi-pb');
    put(fdVol(entry('/vm1/vm1.vmdk').fdAddress) + 0x400, new TextEncoder().encode(baseDesc));
    put(fdVol(entry('/vm1/vm1-000001.vmdk').fdAddress) + 0x400, new TextEncoder().encode(liveDesc));
    for (let i = 0; i < nBlocks; i++) {
      if (reused.includes(i)) continue;
      const b = readDelta(i * BS, BS);
      if (b.some((x) => x !== 0)) put(placement[i]! * BS, b);
    }
    put(placement[gt0]! * BS, readDeltaFile(liveDeltaCowd));

    // .pbc.sf items (R = 16, C = 32, S = 4 KiB, one group: builder geometry).
    const pbcFd = new DataView(get(fdVol(0x00c00004), FD_SIZE).buffer);
    const pbc = new Resource(geometry(5), '.pbc.sf', MAGIC.pbc, 3, 16, 32, 4096, 1, 512);
    pbc.startBlock = pbcFd.getUint32(0x400, true) >>> 6;
    const writePb = (item: number, list: number[]) => {
      if (get(pbc.itemVolOffset(item), 4096).some((x) => x !== 0)) throw new Error(`multi-pb builder: PB item ${item} is not empty`);
      const pb = new Uint8Array(4096);
      const dv = new DataView(pb.buffer);
      list.forEach((blk, i) => dv.setUint32(i * 4, fb5(blk, false), true));
      put(pbc.itemVolOffset(item), pb);
    };
    for (let k = 0; k < pieces; k++) writePb(k === 0 ? PB_HEAD_ITEM : PB_TAIL_ITEM + k - 1, placement.slice(k * perPb, (k + 1) * perPb));
    const tail = placement.slice(perPb, 2 * perPb);
    // Decoys, closer to the first PB than the real second one: the same blocks rotated by one,
    // and blocks of the first piece holding no table where the second piece's tables must be.
    writePb(PB_HEAD_ITEM - 1, [...tail.slice(1), tail[0]!]);
    writePb(PB_HEAD_ITEM + 1, placement.slice(0, tail.length).reverse());
  } finally {
    io.close();
  }

  lap('post-writes');
  const { lost, recoverable } = lostFromDeltaFile(readDelta, reused);
  lap('lost');
  df.close();
  const flat = entry('/vm1/vm1-flat.vmdk');
  writeBase(oracleDir, baseDesc, flat.pieces!, CAP);
  // Expected disk by construction (qemu-img reads 1-sector grains one by one: 30+ s here; the COWD
  // writer itself is judged by qemu-img in the smaller cases): the base, with every written MiB's
  // content over it, then the lost runs back from the base. Written sparse, hashed by sha256sum.
  const expectedRaw = path.join(o.dir, 'expected.raw');
  const baseFlat = openSync(path.join(oracleDir, 'vm1-flat.vmdk'), 'r');
  const ef = openSync(expectedRaw, 'w');
  try {
    ftruncateSync(ef, CAP);
    const lostBy = lost.map((l) => [l.sector * SECTOR, (l.sector + l.sectors) * SECTOR] as const);
    for (let off = 0; off < CAP; off += BS) {
      const chunk = new Uint8Array(BS);
      readSync(baseFlat, chunk, 0, BS, off);
      if (off / BS < WRITTEN_MIB) {
        const base = chunk.slice();
        chunk.fill(0);
        pat(chunk.subarray(0, PATTERN_SECTORS * SECTOR), off);
        for (const [s, e] of lostBy) if (s < off + BS && e > off) chunk.set(base.subarray(Math.max(s, off) - off, Math.min(e, off + BS) - off), Math.max(s, off) - off);
      }
      if (chunk.some((x) => x !== 0)) writeSync(ef, chunk, 0, BS, off);
    }
  } finally {
    closeSync(baseFlat);
    closeSync(ef);
  }
  const expectedSha256 = sha256File(expectedRaw);
  lap('expected');
  for (const f of [expectedRaw, delta.dataPath]) rmSync(f, { force: true });
  writeFileSync(path.join(o.dir, 'expected.sha256'), expectedSha256 + '\n');
  return {
    dump: lun.path,
    manifest: m,
    headerBlock: placement[0]!,
    candidateId: `delta-${placement[0]!}`,
    parentPath: '/vm1/vm1.vmdk',
    capacity: CAP,
    expectedSha256,
    expectedLost: lost,
    expectedRecoverableGrains: recoverable,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    deltaFileBlocks: placement,
    gtSectors: delta.gtSectors,
    pieces,
    reusedFileBlocks: reused,
  };
}

function readDeltaFile(p: string): Uint8Array {
  const f = openSync(p, 'r');
  try {
    const b = new Uint8Array(64 * 1024);
    const n = readSync(f, b, 0, b.length, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(f);
  }
}
