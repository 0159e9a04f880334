import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec, type Manifest } from '../vmfs/index.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { MAGIC, Resource } from '../../../src/core/synth/vmfs/resource.js';
import { run, sha256File } from '../../helpers/tools.js';
import { deltaDescriptorText, flatDescriptor, writeBase } from './deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume, type VolumeIo } from './volume-io.js';

/**
 * A VMFS5 dump where only text remnants tell which disk a deleted delta sat on: two live flat disks of the same capacity (/vm2/vm2.vmdk listed first, a decoy, and
 * /vm1/vm1.vmdk, the real parent), a live /vm1/vm1.vmsd whose current snapshot froze vm1.vmdk, a
 * stale copy of that .vmsd at the start of a free block, and the deleted delta contiguous in free
 * blocks with its FD gone. No live delta names a parent and no freed FD gives a folder.
 *
 * The delta's descriptor (padded above the 1 KiB resident limit, as ddb lines make real ones) is:
 * 'sub-block': built as a sub-block file /vm1/vm1-000001.vmdk, read back with debugvmfs, then
 *   deleted by hand: dirent cleared, FD zeroed and freed in the .fdc.sf bitmap, sub-block freed in
 *   the .sbc.sf bitmap (its bytes stay); 'free-block': text at the start of a free block;
 * 'none': not anywhere (only the .vmsd tells the parent).
 *
 * Expected disk: qemu-img converts the pre-deletion chain (base + the same delta and descriptor
 * written to a plain folder). Geometry facts used (checked before writing): .fdc.sf at FS block 4
 * with R = C = 32, 2 KiB FDs; .sbc.sf with R = 16, C = 32, 8 KiB items, one group; cluster
 * metadata at +0x200 of each 1 KiB cluster header with the bitmap (1 = free) at +0x10.
 */

export type DescriptorPlace = 'sub-block' | 'free-block' | 'none';

export interface TextRemnantsOptions {
  dir: string;
  seed: number;
  place: DescriptorPlace;
  /** Run debugvmfs and qemu-img (default true). */
  oracle?: boolean;
}

export interface TextRemnantsDump {
  dump: string;
  manifest: Manifest;
  candidateId: string;
  headerBlock: number;
  parentPath: string;
  decoyPath: string;
  capacity: number;
  deltaCid: string;
  baseCid: string;
  decoyCid: string;
  deltaDescriptor: string;
  vmsdText: string;
  /** Volume offset of the descriptor text (sub-block item or free block), -1 for 'none'. */
  descriptorVolOffset: number;
  /** Volume offset of the stale .vmsd copy in free space. */
  staleVmsdVolOffset: number;
  /** What debugvmfs printed for the descriptor and the .vmsd before the deletion ('' without oracle). */
  debugvmfsDescriptor: string;
  debugvmfsVmsd: string;
  expectedSha256: string;
}

const BS = MiB;
const CAP = 64 * MiB;
const FD_SIZE = 2048;
const DELTA_AT = 100;
const STALE_VMSD_AT = 150;
const DESC_BLOCK_AT = 160;
const SBC_FD = 0x01000004;

/** A descriptor padded with DDB lines (uuid, geometry, comments) past the 1 KiB resident limit. */
export function paddedDeltaDescriptor(cid: string, parentCid: string): string {
  const base = deltaDescriptorText(cid, parentCid, 'vm1-000001-delta.vmdk');
  const extra = [
    'ddb.longContentID = "0123456789abcdef0123456789abcdef"',
    'ddb.uuid = "60 00 C2 9a 1b 2c 3d 4e-5f 60 71 82 93 a4 b5 c6"',
    'ddb.geometry.cylinders = "4161"',
    'ddb.geometry.heads = "16"',
    'ddb.geometry.sectors = "63"',
    'ddb.virtualHWVersion = "8"',
    'ddb.toolsVersion = "10249"',
    'ddb.adapterType = "lsilogic"',
    ...Array.from({ length: 12 }, (_, i) => `# snapshot bookkeeping note ${i}: this line pads the descriptor past one KiB`),
    '',
  ];
  return base + extra.join('\n');
}

export function vmsdText(): string {
  return [
    '.encoding = "UTF-8"',
    'snapshot.lastUID = "1"',
    'snapshot.current = "1"',
    'snapshot0.uid = "1"',
    'snapshot0.filename = "vm1-Snapshot1.vmsn"',
    'snapshot0.displayName = "before update"',
    'snapshot0.createTimeHigh = "363282"',
    'snapshot0.createTimeLow = "-1102712544"',
    'snapshot0.numDisks = "1"',
    'snapshot0.disk0.fileName = "vm1.vmdk"',
    'snapshot0.disk0.node = "scsi0:0"',
    'snapshot.numSnapshots = "1"',
    '',
  ].join('\n');
}

export async function buildTextRemnantsDump(o: TextRemnantsOptions): Promise<TextRemnantsDump> {
  const oracleDir = path.join(o.dir, 'pre-delete');
  mkdirSync(oracleDir, { recursive: true });
  const baseCid = randomCid(o.seed + 21);
  const decoyCid = randomCid(o.seed + 22);
  const deltaCid = randomCid(o.seed + 23);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk');
  const decoyDesc = flatDescriptor(decoyCid, 'vm2-flat.vmdk');
  const deltaDesc = paddedDeltaDescriptor(deltaCid, baseCid);
  if (deltaDesc.length <= 1024 || deltaDesc.length > 8192) throw new Error('text-remnants builder: descriptor must need one sub-block');
  const vmsd = vmsdText();

  const runs: GrainRun[] = [
    { firstGrain: 2048, count: 512, kind: 'data', fill: sectorPattern(o.seed + 1) },
    { firstGrain: (8 * MiB) / 512, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 2) },
    { firstGrain: (40 * MiB) / 512 + 128, count: 256, kind: 'data', fill: sectorPattern(o.seed + 3) },
  ];
  const delta = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: deltaCid });
  writeFileSync(delta.descriptorPath, deltaDesc);
  const deltaBytes = readFileSync(delta.dataPath);
  const nBlocks = Math.ceil(deltaBytes.length / BS);

  const blocksAt = (first: number): BlockSpec[] => [0, 3, 9, 30, 63].map((index, k) => ({ index, content: 'data', at: first + k, dataLength: MiB }));
  const files: FileSpec[] = [
    { path: '/vm2/vm2.vmdk', kind: 'resident', size: decoyDesc.length },
    { path: '/vm2/vm2-flat.vmdk', kind: 'blocks', size: CAP, blocks: blocksAt(50) },
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: blocksAt(30) },
    { path: '/vm1/vm1.vmsd', kind: 'subblock', size: vmsd.length },
  ];
  if (o.place === 'sub-block') files.push({ path: '/vm1/vm1-000001.vmdk', kind: 'subblock', size: deltaDesc.length });
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'text-remnants', seed: o.seed, luns: [{ scheme: 'mbr', segments: 1 }], files });
  const enc = (t: string) => new TextEncoder().encode(t);
  let io = openVolume(m);
  const { fdc, fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, 4);
  let descriptorVolOffset = -1;
  let sb: ReturnType<typeof subBlocks>;
  try {
    checkRootFd(io, fdVol, 4, 'text-remnants');
    sb = subBlocks(io, fdVol);
    io.put(fdVol(io.entry('/vm1/vm1.vmdk').fdAddress) + 0x400, enc(baseDesc));
    io.put(fdVol(io.entry('/vm2/vm2.vmdk').fdAddress) + 0x400, enc(decoyDesc));
    io.put(sb.fileItemVol(io.entry('/vm1/vm1.vmsd').fdAddress), enc(vmsd));
    if (o.place === 'sub-block') {
      descriptorVolOffset = sb.fileItemVol(io.entry('/vm1/vm1-000001.vmdk').fdAddress);
      io.put(descriptorVolOffset, enc(deltaDesc));
    }
    // Free blocks we write into must be free in the builder's allocation.
    for (const b of [...Array(nBlocks).keys()].map((i) => DELTA_AT + i).concat([STALE_VMSD_AT, DESC_BLOCK_AT])) {
      if (io.get(b * BS, 4096).some((x) => x !== 0)) throw new Error(`text-remnants builder: block ${b} is not empty`);
    }
  } finally {
    io.close();
  }

  // Independent check: debugvmfs reads the files as written (the descriptor before its deletion).
  let debugvmfsDescriptor = '';
  let debugvmfsVmsd = '';
  if (o.oracle !== false) {
    debugvmfsVmsd = run('debugvmfs', [m.luns[0]!.path, 'cat', '/vm1/vm1.vmsd']);
    if (o.place === 'sub-block') debugvmfsDescriptor = run('debugvmfs', [m.luns[0]!.path, 'cat', '/vm1/vm1-000001.vmdk']);
  }

  io = openVolume(m);
  try {
    if (o.place === 'sub-block') {
      // Delete the descriptor file: dirent, FD (zeroed, bit freed), sub-block (bit freed, bytes kept).
      const addr = io.entry('/vm1/vm1-000001.vmdk').fdAddress;
      const item = sb.fileItem(addr);
      const dirItem = sb.fileItemVol(io.entry('/vm1').fdAddress);
      const dir = io.get(dirItem, 8192);
      const dv = new DataView(dir.buffer);
      let hit = -1;
      for (let k = 0; (k + 1) * 140 <= dir.length; k++) if (dv.getUint32(k * 140 + 4, true) === addr) hit = k;
      if (hit < 0) throw new Error('text-remnants builder: dirent not found');
      io.put(dirItem + hit * 140, new Uint8Array(140));
      io.put(fdVol(addr), new Uint8Array(FD_SIZE));
      freeBit(io, fdc, 1024, ((addr >>> 6) & 0xffff) * 32 + (addr >>> 22), 32);
      freeBit(io, sb.sbc, 1024, item, 16);
    }
    if (o.place === 'free-block') {
      descriptorVolOffset = DESC_BLOCK_AT * BS;
      io.put(descriptorVolOffset, enc(deltaDesc));
    }
    io.put(STALE_VMSD_AT * BS, enc(vmsd));
    for (let i = 0; i < nBlocks; i++) io.put((DELTA_AT + i) * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
  } finally {
    io.close();
  }

  const result: TextRemnantsDump = {
    dump: m.luns[0]!.path,
    manifest: m,
    candidateId: `delta-${DELTA_AT}`,
    headerBlock: DELTA_AT,
    parentPath: '/vm1/vm1.vmdk',
    decoyPath: '/vm2/vm2.vmdk',
    capacity: CAP,
    deltaCid,
    baseCid,
    decoyCid,
    deltaDescriptor: deltaDesc,
    vmsdText: vmsd,
    descriptorVolOffset,
    staleVmsdVolOffset: STALE_VMSD_AT * BS,
    debugvmfsDescriptor,
    debugvmfsVmsd,
    expectedSha256: '',
  };
  if (o.oracle === false) return result;
  const flat = m.entries.find((e) => e.path === '/vm1/vm1-flat.vmdk')!;
  writeBase(oracleDir, baseDesc, flat.pieces!);
  const chainRaw = path.join(o.dir, 'chain.raw');
  run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
  const expectedSha256 = sha256File(chainRaw);
  run('rm', ['-f', chainRaw]);
  return { ...result, expectedSha256 };
}

/** The builder's .sbc.sf (located through its own FD) and the sub-block item a sub-block file's FD names. */
function subBlocks(io: VolumeIo, fdVol: (addr: number) => number) {
  const fd = new DataView(io.get(fdVol(SBC_FD), FD_SIZE).buffer);
  const sbc = new Resource(geometry(5), '.sbc.sf', MAGIC.sbc, 4, 16, 32, 8192, 1, 512);
  sbc.startBlock = fd.getUint32(0x400, true) >>> 6;
  const fileItem = (addr: number): number => {
    const slot = new DataView(io.get(fdVol(addr) + 0x400, 4).buffer).getUint32(0, true);
    if ((slot & 7) !== 2) throw new Error(`text-remnants builder: FD ${addr.toString(16)} slot 0 is not a sub-block address`);
    return ((slot >>> 6) & 0x3fffff) * 16 + (slot >>> 28);
  };
  return { sbc, fileItem, fileItemVol: (addr: number) => sbc.itemVolOffset(fileItem(addr)) };
}

/** Marks item `item` free (bit = 1) in its cluster's bitmap and counts it free. */
function freeBit(io: VolumeIo, r: Resource, headerSize: number, item: number, R: number): void {
  const c = Math.floor(item / R);
  const res = item % R;
  const md = r.volOffset(0x10000 + c * headerSize) + 0x200;
  if (new DataView(io.get(md, 4).buffer).getUint32(0, true) !== c) throw new Error(`text-remnants builder: ${r.name} cluster ${c} metadata not where expected`);
  const byte = io.get(md + 0x10 + (res >> 3), 1)[0]!;
  if (byte & (1 << (res & 7))) throw new Error(`text-remnants builder: ${r.name} item ${item} is already free`);
  io.put(md + 0x10 + (res >> 3), new Uint8Array([byte | (1 << (res & 7))]));
  const free = new DataView(io.get(md + 8, 4).buffer).getUint32(0, true);
  const fb = new Uint8Array(4);
  new DataView(fb.buffer).setUint32(0, free + 1, true);
  io.put(md + 8, fb);
}
