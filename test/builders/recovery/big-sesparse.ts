import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildSeSparseDelta, writeSeSparse } from '../sesparse.js';
import { deltaDescriptor, randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { geometry, sfb6 } from '../../../src/core/synth/vmfs/geometry.js';
import type { V6Layout } from '../../../src/core/synth/vmfs/resource.js';
import { run, sha256File } from '../../helpers/tools.js';
import { deletedDeltaAt, flatDescriptor, writeBase, type DeletedDeltaDump } from './deleted-delta.js';
import { checkRootFd, fdcLocator, fileReader, openVolume } from './volume-io.js';
import { itemFree, sbcOf } from './vmfs6-freed.js';

/**
 * A deleted seSparse delta of more than 16 GiB of grains on VMFS6, so three pointer blocks of
 * 8192 × 1 MiB (8 GiB each): its FD is zeroed, its three PBs (64 KiB sub-blocks) are freed but
 * intact, out of item order (head at item 100, piece 1 at 140, piece 2 at 60). Decoy freed PBs of
 * other files sit closer to the head than the real piece 1:
 *   - a full PB of other blocks (8192 entries, no holes): fits the window of piece 1 as well as
 *     the real one by the grain tables; the real one's first block follows piece 0's last;
 *   - piece 1's blocks with every 100th entry a hole: leaves grains of that window unmapped;
 *   - a PB ending where piece 2 ends but with holes where its grains are;
 *   - a full PB of other blocks whose entries run past the file end (not the last piece).
 *
 * The dump is sparse: the delta's grains are zeros (holes in the dump) except 64 KiB of pattern
 * every 16 MiB of the disk, so a piece joined at the wrong place changes the disk's hash. The
 * expected disk is `qemu-img convert` of the pre-deletion chain (base + delta), hashed.
 */
const BS = MiB;
const CAP = 17 * 1024 * MiB;
const GRAINS = 4_350_000;
const SEGMENTS = 112; // 28 GiB volume
const FIRST = 300;
const ITEM = { head: 100, piece1: 140, piece2: 60, full: 101, holes1: 99, holes2: 98, long: 97 };
const DECOY_AT = 20_000;

export interface BigSeSparseDump extends DeletedDeltaDump {
  pieces: number;
  /** Volume offsets of the real pieces' PBs in file order, and of the decoys. */
  pieceVolOffsets: number[];
  decoyVolOffsets: number[];
}

export async function buildBigSeSparseDump(o: { dir: string; seed: number; layout?: V6Layout; oracle?: boolean }): Promise<BigSeSparseDump> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const g = geometry(6);
  const perPb = g.pbEntries;

  // The delta: grains in LBA order, 16 patterned grains every 4096 (16 MiB), zeros between.
  const runs: GrainRun[] = [];
  for (let at = 0; at < GRAINS; at += 4096) {
    const n = Math.min(4096, GRAINS - at);
    runs.push({ firstGrain: at, count: Math.min(16, n), kind: 'data', fill: sectorPattern(o.seed * 31 + at) });
    if (n > 16) runs.push({ firstGrain: at + 16, count: n - 16, kind: 'data' });
  }
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', CAP);
  const delta = buildSeSparseDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const nBlocks = Math.ceil(delta.fileSize / BS);
  const pieces = Math.ceil(nBlocks / perPb);
  if (pieces !== 3) throw new Error(`big-sesparse builder: ${pieces} pieces, want 3`);
  // Ascending with a 2-block gap every 97 blocks (other files' blocks in between).
  const placement = Array.from({ length: nBlocks }, (_, i) => FIRST + i + 2 * Math.floor(i / 97));
  const top = placement[nBlocks - 1]!;
  if (top >= DECOY_AT) throw new Error('big-sesparse builder: placement runs into the decoy area');

  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63, 9000, 17000].map((index, k) => ({ index, content: 'data', at: 150 + k, dataLength: MiB }));
  const live = writeSeSparse({ dataPath: path.join(oracleDir, 'new-delta.bin'), capacity: CAP, runs: [] });
  const newDesc = deltaDescriptor({ createType: 'seSparse', extentType: 'SESPARSE', capacity: CAP, dataFileName: 'vm1-000002-sesparse.vmdk', cid: randomCid(o.seed + 13), parentCid: baseCid, parentFileNameHint: 'vm1.vmdk' });
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000002.vmdk', kind: 'resident', size: newDesc.length },
    { path: '/vm1/vm1-000002-sesparse.vmdk', kind: 'blocks', size: live.fileSize, blocks: Array.from({ length: Math.ceil(live.fileSize / BS) }, (_, i) => ({ index: i, content: 'zero' as const, at: 170 + i })) },
  ];
  const m = await buildVmfs({ version: 6, dir: o.dir, name: 'ds', label: 'recovery-big-sesparse', seed: o.seed, luns: [{ scheme: 'gpt', segments: SEGMENTS }], files, layout: o.layout });
  for (const e of m.entries) for (const b of e.dataBlocks ?? []) if (b >= FIRST) throw new Error(`big-sesparse builder: ${e.path} holds block ${b}`);
  if (170 + Math.ceil(live.fileSize / BS) > FIRST) throw new Error('big-sesparse builder: the new delta runs into the deleted one');

  const io = openVolume(m);
  let pieceVolOffsets: number[] = [];
  let decoyVolOffsets: number[] = [];
  const { fdVol } = fdcLocator(g, 16, g.fdSize, g.fdcBaseBlock);
  const df = fileReader(delta.dataPath);
  const readDelta = df.read;
  try {
    checkRootFd(io, fdVol, m.entries.find((e) => e.path === '/')!.fdAddress, 'big-sesparse');
    io.put(fdVol(m.entries.find((e) => e.path === '/vm1/vm1.vmdk')!.fdAddress) + g.fdData, new TextEncoder().encode(baseDesc));
    io.put(fdVol(m.entries.find((e) => e.path === '/vm1/vm1-000002.vmdk')!.fdAddress) + g.fdData, new TextEncoder().encode(newDesc));
    const liveAt = files[4]!.kind === 'blocks' ? files[4]!.blocks[0]!.at! : -1;
    const lf = fileReader(live.dataPath);
    io.put(liveAt * BS, lf.read(0, BS));
    lf.close();
    // Only blocks with content are copied: the metadata, and the blocks holding patterned grains.
    const withContent = new Set<number>();
    for (let b = 0; b * BS < delta.layout.grainsOffset * 512; b++) withContent.add(b);
    for (const r of runs) if (r.fill) for (const gr of [r.firstGrain, r.firstGrain + r.count - 1]) withContent.add(Math.floor((delta.layout.grainsOffset * 512 + gr * 4096) / BS));
    for (const i of withContent) if (i < nBlocks) io.put(placement[i]! * BS, readDelta(i * BS, Math.min(BS, delta.fileSize - i * BS)));

    const sbc = sbcOf(io, fdVol);
    const writePb = (item: number, list: number[]) => {
      if (io.get(sbc.itemVolOffset(item), g.pbSize).some((x) => x !== 0) || !itemFree(io, sbc, item)) throw new Error(`big-sesparse builder: sub-block ${item} is not free`);
      const pb = new Uint8Array(g.pbSize);
      const dv = new DataView(pb.buffer);
      list.forEach((blk, i) => dv.setBigUint64(i * 8, blk < 0 ? 0n : sfb6(blk), true));
      io.put(sbc.itemVolOffset(item), pb);
    };
    const piece = (k: number) => placement.slice(k * perPb, (k + 1) * perPb);
    writePb(ITEM.head, piece(0));
    writePb(ITEM.piece1, piece(1));
    writePb(ITEM.piece2, piece(2));
    const other = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);
    writePb(ITEM.full, other(perPb, DECOY_AT));
    writePb(ITEM.holes1, piece(1).map((b, i) => (i % 100 === 50 ? -1 : b)));
    writePb(ITEM.holes2, piece(2).map((b, i) => (i % 10 === 5 ? -1 : b)));
    writePb(ITEM.long, other(perPb, DECOY_AT - 9000));
    pieceVolOffsets = [ITEM.head, ITEM.piece1, ITEM.piece2].map((i) => sbc.itemVolOffset(i));
    decoyVolOffsets = [ITEM.full, ITEM.holes1, ITEM.holes2, ITEM.long].map((i) => sbc.itemVolOffset(i));
  } finally {
    df.close();
    io.close();
  }

  let expectedSha256 = '';
  if (o.oracle !== false) {
    writeBase(oracleDir, baseDesc, m.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!.pieces!, CAP);
    const chainRaw = path.join(o.dir, 'chain.raw');
    run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
    expectedSha256 = sha256File(chainRaw);
    rmSync(chainRaw, { force: true });
  }
  for (const f of [delta.dataPath, live.dataPath, path.join(oracleDir, 'vm1-flat.vmdk')]) rmSync(f, { force: true });
  return {
    ...deletedDeltaAt(m, placement[0]!, CAP),
    expectedSha256,
    expectedLost: [],
    expectedRecoverableGrains: delta.dataGrains,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    format: 'seSparse',
    deltaFileBlocks: placement,
    gtSectors: new Map([...delta.gtOffsets].map(([t, off]) => [t, off / 512])),
    pieces,
    pieceVolOffsets,
    decoyVolOffsets,
  };
}
