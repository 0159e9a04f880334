import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta, writeCowd } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';
import { fdRecord, freeFdAddress } from '../../../src/core/synth/vmfs/freed-fd.js';
import { deltaDescriptorText, flatDescriptor, lostFromDelta, mergeRuns, spliceLost, writeBase, type DeletedDeltaDump } from './deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume } from './volume-io.js';

/**
 * Two VMs whose disks have the same capacity, both cloned from one template (so their base
 * descriptors carry the SAME CID), both reverted (a new empty live delta over each base). vm1's
 * old delta was deleted: FD zeroed, its blocks contiguous and free, one of them reused by vm1's
 * new delta. Which base it belongs to is evidence only:
 * - 'descriptor': its descriptor survives in a freed resident FD of /vm1 (parentCID is the shared
 *   CID, so only the parentFileNameHint "vm1.vmdk" resolved in /vm1 decides);
 * - 'none': nothing tells the bases apart: the scan must not pick one.
 *
 * Expected disk: qemu-img converts the pre-revert chain (delta -> vm1's base) in a plain folder;
 * the lost runs come from qemu-img's conversion of vm1's base.
 */

export type TwoVmEvidence = 'descriptor' | 'none';

export interface TwoVmDump extends DeletedDeltaDump {
  /** The other same-capacity base the delta must NOT be merged onto. */
  otherBase: string;
  /** vm1's base descriptor as the builder wrote it (debugvmfs must read the same). */
  vm1BaseDescriptor: string;
}

const BS = MiB;
const CAP = 64 * MiB;
const DELTA_AT = 120;
const FD_SIZE = 2048;

export async function buildTwoVmDump(o: { dir: string; seed: number; evidence: TwoVmEvidence }): Promise<TwoVmDump> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const r = rng(o.seed);
  const templateCid = randomCid(o.seed + 11);
  const base1 = flatDescriptor(templateCid, 'vm1-flat.vmdk');
  const base2 = flatDescriptor(templateCid, 'vm2-flat.vmdk');
  const blocks1: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63].map((index, k) => ({ index, content: 'data', at: 30 + k, dataLength: MiB }));
  const blocks2: BlockSpec[] = [0, 2, 6, 11, 21, 34, 41, 62].map((index, k) => ({ index, content: 'data', at: 50 + k, dataLength: MiB }));

  const runs: GrainRun[] = [];
  const used = new Set<number>();
  for (let k = 0; k < 30; k++) {
    const g0 = Math.floor(r() * (CAP / 65536)) * 128;
    if (used.has(g0)) continue;
    used.add(g0);
    runs.push({ firstGrain: g0, count: 128, kind: 'data', fill: sectorPattern(o.seed * 7 + k) });
  }
  runs.push({ firstGrain: (8 * MiB) / 512, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 99) });
  runs.sort((a, b) => a.firstGrain - b.firstGrain);
  const delta = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs: mergeRuns(runs), parentFileNameHint: 'vm1.vmdk', parentCid: templateCid, cid: randomCid(o.seed + 12) });
  const deltaBytes = readFileSync(delta.dataPath);
  const deltaDesc = readFileSync(delta.descriptorPath, 'latin1');
  const n = Math.ceil(deltaBytes.length / BS);
  if (n < 3) throw new Error('two-VM builder: the delta must span several blocks');
  // vm1's new delta reuses one data block of the old one (not the header block).
  const reused = [n - 1];

  const live1 = path.join(oracleDir, 'live1.bin');
  writeCowd({ dataPath: live1, capacity: CAP, runs: [] });
  const leaf1 = deltaDescriptorText(randomCid(o.seed + 13), templateCid, 'vm1-000002-delta.vmdk', CAP, 'vm1.vmdk');
  const leaf2 = deltaDescriptorText(randomCid(o.seed + 14), templateCid, 'vm2-000001-delta.vmdk', CAP, 'vm2.vmdk');
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: base1.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: blocks1 },
    { path: '/vm1/vm1-000002.vmdk', kind: 'resident', size: leaf1.length },
    { path: '/vm1/vm1-000002-delta.vmdk', kind: 'blocks', size: BS, blocks: [{ index: 0, content: 'zero', at: DELTA_AT + reused[0]! }] },
    { path: '/vm2/vm2.vmdk', kind: 'resident', size: base2.length },
    { path: '/vm2/vm2-flat.vmdk', kind: 'blocks', size: CAP, blocks: blocks2 },
    { path: '/vm2/vm2-000001.vmdk', kind: 'resident', size: leaf2.length },
    { path: '/vm2/vm2-000001-delta.vmdk', kind: 'blocks', size: BS, blocks: [{ index: 0, content: 'zero', at: 90 }] },
  ];
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'two-vms', seed: o.seed, luns: [{ scheme: 'mbr', segments: 1 }], files });
  const io = openVolume(m);
  const { lun, put, entry } = io;
  const { fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, 4);
  try {
    checkRootFd(io, fdVol, 4, 'two-vm');
    const text = (p: string, t: string) => put(fdVol(entry(p).fdAddress) + 0x400, new TextEncoder().encode(t));
    text('/vm1/vm1.vmdk', base1);
    text('/vm1/vm1-000002.vmdk', leaf1);
    text('/vm2/vm2.vmdk', base2);
    text('/vm2/vm2-000001.vmdk', leaf2);
    put((DELTA_AT + reused[0]!) * BS, readFileSync(live1));
    put(90 * BS, readFileSync(live1));
    for (let i = 0; i < n; i++) if (!reused.includes(i)) put((DELTA_AT + i) * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
    if (o.evidence === 'descriptor') {
      const slot = freeFdAddress(m, 3);
      const bytes = new TextEncoder().encode(deltaDesc);
      put(fdVol(slot), fdRecord(slot, fdVol(slot), entry('/vm1').fdAddress, { length: bytes.length, resident: bytes }));
    }
  } finally {
    io.close();
  }

  const { lost, recoverable, placedByGuess } = lostFromDelta(deltaBytes, reused);
  writeBase(oracleDir, base1, entry('/vm1/vm1-flat.vmdk').pieces!);
  const chainRaw = path.join(o.dir, 'chain.raw');
  const baseRaw = path.join(o.dir, 'base.raw');
  const expectedRaw = path.join(o.dir, 'expected.raw');
  run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
  run('qemu-img', ['convert', '-O', 'raw', path.join(oracleDir, 'vm1.vmdk'), baseRaw]);
  spliceLost(chainRaw, baseRaw, lost, expectedRaw);
  return {
    dump: lun.path,
    manifest: m,
    headerBlock: DELTA_AT,
    candidateId: `delta-${DELTA_AT}`,
    parentPath: '/vm1/vm1.vmdk',
    otherBase: '/vm2/vm2.vmdk',
    vm1BaseDescriptor: base1,
    capacity: CAP,
    expectedSha256: sha256File(expectedRaw),
    expectedLost: lost,
    expectedRecoverableGrains: recoverable,
    expectedGuessedGrains: placedByGuess,
    foreignHeaderBlock: null,
    expectedDeleted: [],
    deltaFileBlocks: Array.from({ length: n }, (_, i) => DELTA_AT + i),
    gtSectors: delta.gtSectors,
  };
}
