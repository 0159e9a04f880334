import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta } from '../builders/cowd.js';
import { randomCid, sectorPattern } from '../builders/delta-common.js';
import { deltaDescriptorText, flatDescriptor } from '../builders/recovery/deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume } from '../builders/recovery/volume-io.js';
import { geometry } from '../../src/core/synth/vmfs/geometry.js';
import { buildVmfs, MiB } from '../builders/vmfs/index.js';

/**
 * A VMFS5 dump of a few MiB on disk whose disks are big and sparse, for commands that must be
 * interrupted half-way, and for commands aimed at their own input: `/vm1/vm1-flat.vmdk` is a `capacity`-byte file with three data blocks
 * (the rest holes, read as zeros), and a deleted COWD delta of the same capacity lies in
 * consecutive free blocks (FD gone), so `recover` rebuilds and exports a `capacity`-byte disk.
 * The same geometry as the recovery builders (FDC at block 4, 2 KiB FDs).
 */
export async function buildSparseRecoveryDump(o: { dir: string; capacity: number; seed: number }): Promise<{ dump: string; candidateId: string; flatPath: string }> {
  const deltaAt = 100;
  const cap = o.capacity;
  const baseCid = randomCid(o.seed + 1);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', cap);
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const delta = buildCowdDelta({
    dir: oracleDir,
    name: 'vm1-000001',
    capacity: cap,
    runs: [
      { firstGrain: 2048, count: 256, kind: 'data', fill: sectorPattern(o.seed + 2) },
      { firstGrain: cap / 512 - 4096, count: 128, kind: 'data', fill: sectorPattern(o.seed + 3) },
    ],
    parentFileNameHint: 'vm1.vmdk',
    parentCid: baseCid,
    cid: randomCid(o.seed + 4),
  });
  const deltaBytes = readFileSync(delta.dataPath);
  const liveDesc = deltaDescriptorText(randomCid(o.seed + 5), baseCid, 'vm1-000002-delta.vmdk', cap);
  const m = await buildVmfs({
    version: 5,
    dir: o.dir,
    name: 'sparse',
    label: 'sparse-recovery',
    seed: o.seed,
    luns: [{ scheme: 'gpt', segments: 1 }],
    files: [
      { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
      { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: cap, blocks: [0, 7, cap / MiB - 1].map((index, k) => ({ index, content: 'data' as const, at: 30 + k, dataLength: MiB })) },
      { path: '/vm1/vm1-000002.vmdk', kind: 'resident', size: liveDesc.length },
    ],
  });
  const io = openVolume(m);
  try {
    const { fdVol } = fdcLocator(geometry(5), 32, 2048, 4);
    checkRootFd(io, fdVol, 4, 'sparse-recovery');
    io.put(fdVol(io.entry('/vm1/vm1.vmdk').fdAddress) + 0x400, new TextEncoder().encode(baseDesc));
    io.put(fdVol(io.entry('/vm1/vm1-000002.vmdk').fdAddress) + 0x400, new TextEncoder().encode(liveDesc));
    for (let i = 0; i * MiB < deltaBytes.length; i++) io.put((deltaAt + i) * MiB, deltaBytes.subarray(i * MiB, (i + 1) * MiB));
  } finally {
    io.close();
  }
  return { dump: m.luns[0]!.path, candidateId: `delta-${deltaAt}`, flatPath: '/vm1/vm1-flat.vmdk' };
}

/**
 * A hosted chain in `dir`: `base.vmdk` (monolithicFlat-style descriptor over the sparse
 * `base-flat.vmdk`, `capacity` bytes with two patterned MiB) and its COWD child `child.vmdk` +
 * `child-delta.vmdk` (two written runs).
 */
export function buildSparseChain(dir: string, capacity: number, seed: number): { top: string; topExtent: string; parent: string; parentExtent: string } {
  const baseCid = randomCid(seed + 1);
  const parent = path.join(dir, 'base.vmdk');
  const parentExtent = path.join(dir, 'base-flat.vmdk');
  writeFileSync(parent, flatDescriptor(baseCid, 'base-flat.vmdk', capacity));
  const f = openSync(parentExtent, 'w');
  try {
    ftruncateSync(f, capacity);
    for (const at of [0, capacity / 2]) {
      const b = new Uint8Array(MiB);
      sectorPattern(seed + 2)(b, at);
      writeSync(f, b, 0, b.length, at);
    }
  } finally {
    closeSync(f);
  }
  const child = buildCowdDelta({
    dir,
    name: 'child',
    capacity,
    runs: [
      { firstGrain: 4096, count: 512, kind: 'data', fill: sectorPattern(seed + 3) },
      { firstGrain: capacity / 512 - 1024, count: 256, kind: 'data', fill: sectorPattern(seed + 4) },
    ],
    parentFileNameHint: 'base.vmdk',
    parentCid: baseCid,
  });
  return { top: child.descriptorPath, topExtent: child.dataPath, parent, parentExtent };
}

/** Both fixtures side by side under `dir` (`ds/`, `vm/`) and an empty output folder `out/`. */
export async function buildSparseFixtures(dir: string, capacity: number, seed: number): Promise<{ dump: string; candidateId: string; chain: ReturnType<typeof buildSparseChain>; out: string }> {
  const d = await buildSparseRecoveryDump({ dir: path.join(dir, 'ds'), capacity, seed });
  mkdirSync(path.join(dir, 'vm'));
  const chain = buildSparseChain(path.join(dir, 'vm'), capacity, seed + 1);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  return { dump: d.dump, candidateId: d.candidateId, chain, out };
}
