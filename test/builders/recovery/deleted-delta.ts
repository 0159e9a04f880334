import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync, readSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeCowd, buildCowdDelta } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, expectedBytes, MiB, DATA_OFFSET, type BlockSpec, type FileSpec, type Manifest } from '../vmfs/index.js';
import { geometry, fb5 } from '../vmfs/geometry.js';
import { Resource, MAGIC } from '../vmfs/resource.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';

/**
 * VMFS5 dumps in which a COWD snapshot delta was deleted the way "revert to snapshot" does it,
 * with the expected recovered disk computed independently of the recovery code.
 *
 * How: D2's buildVmfs makes a volume holding the base disk (flat + descriptor) and, after the
 * revert, the new live delta (which may reuse some of the old delta's blocks). The old delta is
 * NOT in the build (its dirent is gone, its FD and blocks are free in the bitmaps); this module
 * then post-writes its bytes into free FS blocks of the dump at computed offsets, and for case
 * 'fd-intact' a freed-but-intact FD (and freed descriptor FD) into a free .fdc.sf slot. Those
 * offsets come from the builder's geometry (FDC at FS block 4, R = C = 32, S = 2 KiB, one group;
 * checked against the root FD's lock before writing).
 *
 * Expected disk: the pre-deletion chain (base descriptor + flat + delta descriptor + delta) is
 * written to a plain folder and converted by `qemu-img convert -O raw`; the lost ranges (grains
 * whose data, or whose grain table, sit in blocks reused by the new live delta, computed here
 * from the delta file we wrote) are then replaced by the base's bytes (qemu-img of the base).
 */

/**
 * fd-intact: FD freed with its slots, blocks fragmented. contiguous: FD zeroed, delta in consecutive
 * free blocks. pointer-block: FD zeroed, blocks fragmented, the freed .pbc.sf item that listed them
 * is intact (a small delta addressed through one PB: the >1024-block multi-PB join is not built).
 */
export type DeletedCase = 'fd-intact' | 'contiguous' | 'pointer-block';

export interface DeletedDeltaOptions {
  dir: string;
  case: DeletedCase;
  seed: number;
  /** Reuse two of the old delta's blocks (one holding a grain table) for the new live delta. */
  reuse: boolean;
  /** Fill free space with random garbage (one block starting with a bogus 'COWD'), and put another VM's delta there. */
  noise: boolean;
  /** Compute the expected disk with qemu-img (default true; fuzz tests skip it). */
  oracle?: boolean;
}

export interface ExpectedLostRun {
  sector: number;
  sectors: number;
  kind: 'table' | 'data';
}

export interface DeletedDeltaDump {
  dump: string;
  manifest: Manifest;
  /** FS block of the deleted delta's header: the candidate id is `delta-${headerBlock}`. */
  headerBlock: number;
  candidateId: string;
  parentPath: string;
  capacity: number;
  expectedSha256: string;
  /** Lost sectors as merged runs, each tagged by cause. */
  expectedLost: ExpectedLostRun[];
  /** Data grains of the deleted delta that are still intact. */
  expectedRecoverableGrains: number;
  /** Header block of the foreign (other VM's) delta, if any. */
  foreignHeaderBlock: number | null;
  /** FS block of each file block of the deleted delta, and its GT sectors by table. */
  deltaFileBlocks: number[];
  gtSectors: Map<number, number>;
}

const BS = MiB;
const CAP = 64 * MiB;
const SECTOR = 512;
const GT_ENTRIES = 4096;
const FD_SIZE = 2048;
const FDC_START_BLOCK = 4;
const DELTA_AT = 100;
const FOREIGN_AT = 180;
const GARBAGE_AT = 200;

export async function buildDeletedDeltaDump(o: DeletedDeltaOptions): Promise<DeletedDeltaDump> {
  const oracleDir = path.join(o.dir, 'pre-revert');
  mkdirSync(oracleDir, { recursive: true });
  const r = rng(o.seed);

  // --- the base, as the dump will hold it (data blocks written by the builder) ---------------
  const baseBlocks: BlockSpec[] = [0, 1, 5, 10, 20, 33, 40, 63].map((index, k) => ({ index, content: 'data', at: 30 + k, dataLength: MiB }));
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk');

  // --- the deleted delta, written to the oracle folder first ----------------------------------
  const runs: GrainRun[] = [];
  const used = new Set<number>();
  for (let k = 0; k < 30; k++) {
    const g0 = Math.floor(r() * (CAP / 65536)) * 128; // 64 KiB-aligned writes
    if (used.has(g0)) continue;
    used.add(g0);
    runs.push({ firstGrain: g0, count: 128, kind: 'data', fill: sectorPattern(o.seed * 7 + k) });
  }
  runs.push({ firstGrain: (8 * MiB) / SECTOR, count: 4096, kind: 'data', fill: sectorPattern(o.seed + 99) });
  runs.sort((a, b) => a.firstGrain - b.firstGrain);
  const merged = mergeRuns(runs);
  const delta = buildCowdDelta({ dir: oracleDir, name: 'vm1-000001', capacity: CAP, runs: merged, parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  const deltaBytes = readFileSync(delta.dataPath);
  const deltaDesc = readFileSync(delta.descriptorPath, 'latin1');
  const nBlocks = Math.ceil(deltaBytes.length / BS);

  // Where the old delta's file blocks were: contiguous for 'contiguous', fragmented for 'fd-intact'.
  const placement = Array.from({ length: nBlocks }, (_, i) => (o.case === 'contiguous' ? DELTA_AT + i : DELTA_AT + (i % 2 === 0 ? i / 2 : 40 + i)));
  // Blocks reused by the new live delta: one holding a grain table (not the header block), one other.
  const reusedFileBlocks: number[] = [];
  if (o.reuse) {
    const gtBlocks = [...delta.gtSectors.values()].map((s) => Math.floor((s * SECTOR) / BS)).filter((b) => b > 0);
    const gtBlock = gtBlocks[Math.floor(gtBlocks.length / 2)]!;
    const other = [...Array(nBlocks).keys()].filter((b) => b > 0 && b !== gtBlock && !gtBlocks.includes(b))[0] ?? [...Array(nBlocks).keys()].filter((b) => b > 0 && b !== gtBlock)[0]!;
    reusedFileBlocks.push(gtBlock, other);
  }

  // --- the volume after the revert -------------------------------------------------------------
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
  ];
  const liveDeltaCowd = path.join(oracleDir, 'live-delta.bin');
  writeCowd({ dataPath: liveDeltaCowd, capacity: CAP, runs: [] });
  const liveDesc = deltaDescriptorText(randomCid(o.seed + 13), baseCid, 'vm1-000001-delta.vmdk');
  files.push({ path: '/vm1/vm1-000001.vmdk', kind: 'resident', size: liveDesc.length });
  if (o.reuse) {
    files.push({
      path: '/vm1/vm1-000001-delta.vmdk', kind: 'blocks', size: 2 * BS,
      blocks: [{ index: 0, content: 'zero', at: placement[reusedFileBlocks[0]!]! }, { index: 1, content: 'data', at: placement[reusedFileBlocks[1]!]!, dataLength: MiB }],
    });
  } else {
    files.push({ path: '/vm1/vm1-000001-delta.vmdk', kind: 'blocks', size: BS, blocks: [{ index: 0, content: 'zero', at: 90 }] });
  }
  files.push({ path: '/vm2/vm2.vmx', kind: 'resident', size: 700 });
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'ds', label: 'recovery', seed: o.seed, luns: [{ scheme: 'gpt', segments: 1 }], files });
  const lun = m.luns[0]!;
  const dump = lun.path;
  const volBase = lun.partitionOffset + DATA_OFFSET;
  const fh = openSync(dump, 'r+');
  const put = (volOffset: number, b: Uint8Array) => {
    let done = 0;
    while (done < b.length) done += writeSync(fh, b, done, b.length - done, volBase + volOffset + done);
  };
  const get = (volOffset: number, n: number) => {
    const b = new Uint8Array(n);
    readSync(fh, b, 0, n, volBase + volOffset);
    return b;
  };
  const entry = (p: string) => m.entries.find((e) => e.path === p)!;
  const fdc = new Resource(geometry(5), '.fdc.sf', MAGIC.fdc, 2, 32, 32, FD_SIZE, 1, 32 * 32);
  fdc.startBlock = FDC_START_BLOCK;
  const fdVol = (addr: number) => fdc.itemVolOffset(((addr >>> 6) & 0xffff) * 32 + (addr >>> 22));
  let foreignHeaderBlock: number | null = null;
  try {
    // The geometry assumption, checked: the root FD (address 4) sits where we compute it.
    const root = new DataView(get(fdVol(4), 16).buffer);
    if (root.getUint32(0, true) !== 0x10c00001 || Number(root.getBigUint64(4, true)) !== fdVol(4)) throw new Error('recovery builder: FDC geometry assumption broken');
    // Descriptors (resident files: the builder wrote pattern bytes; replace them by the text).
    put(fdVol(entry('/vm1/vm1.vmdk').fdAddress) + 0x400, new TextEncoder().encode(baseDesc));
    put(fdVol(entry('/vm1/vm1-000001.vmdk').fdAddress) + 0x400, new TextEncoder().encode(liveDesc));
    // The new live delta: an empty COWD at its first block (which may be one of the old delta's).
    put(placement[reusedFileBlocks[0]!] !== undefined && o.reuse ? placement[reusedFileBlocks[0]!]! * BS : 90 * BS, readFileSync(liveDeltaCowd));
    // The old delta's bytes, in free blocks only (reused blocks hold the live file's content).
    for (let i = 0; i < nBlocks; i++) {
      if (reusedFileBlocks.includes(i)) continue;
      put(placement[i]! * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
    }
    if (o.case === 'fd-intact') {
      const dirFd = entry('/vm1').fdAddress;
      const slot = freeFdAddress(m, 3);
      put(fdVol(slot), fdRecord(slot, fdVol(slot), dirFd, { length: deltaBytes.length, blocks: placement }));
      const dslot = freeFdAddress(m, 4);
      put(fdVol(dslot), fdRecord(dslot, fdVol(dslot), dirFd, { length: deltaDesc.length, resident: new TextEncoder().encode(deltaDesc) }));
    }
    if (o.case === 'pointer-block') {
      // .pbc.sf: its FD is item 3 of FDC cluster 0; slot 0 gives its first FS block. Items: R = 16,
      // C = 32, S = 4 KiB, one group (builder geometry); item 100 is free (no pointer-block file).
      const pbcFd = new DataView(get(fdVol(0x00c00004), FD_SIZE).buffer);
      const pbcStart = pbcFd.getUint32(0x400, true) >>> 6;
      const pbc = new Resource(geometry(5), '.pbc.sf', MAGIC.pbc, 3, 16, 32, 4096, 1, 512);
      pbc.startBlock = pbcStart;
      const item = 100;
      if (get(pbc.itemVolOffset(item), 4096).some((x) => x !== 0)) throw new Error('recovery builder: PB item 100 is not empty');
      const pb = new Uint8Array(4096);
      const pdv = new DataView(pb.buffer);
      placement.forEach((blk, i) => pdv.setUint32(i * 4, fb5(blk, false), true));
      put(pbc.itemVolOffset(item), pb);
    }
    if (o.noise) {
      // Garbage: random bytes in free blocks, one of them starting with 'COWD' and nonsense fields.
      for (let k = 0; k < 8; k++) {
        const g = new Uint8Array(64 * 1024);
        for (let i = 0; i < g.length; i++) g[i] = Math.floor(r() * 256);
        if (k === 3) g.set([0x43, 0x4f, 0x57, 0x44], 0);
        if (k === 5) g.set([0x43, 0x4f, 0x57, 0x44, 1, 0, 0, 0], 0);
        put((GARBAGE_AT + k) * BS, g);
      }
      // Another VM's deleted delta (48 MiB disk: no live parent of that capacity), contiguous.
      const fdir = path.join(o.dir, 'foreign');
      mkdirSync(fdir, { recursive: true });
      const fr = writeCowd({ dataPath: path.join(fdir, 'other-delta.vmdk'), capacity: 48 * MiB, runs: [{ firstGrain: 1000, count: 3000, kind: 'data', fill: sectorPattern(5) }, { firstGrain: 60000, count: 2048, kind: 'data', fill: sectorPattern(6) }] });
      const fb = readFileSync(fr.dataPath);
      for (let i = 0; i * BS < fb.length; i++) put((FOREIGN_AT + i) * BS, fb.subarray(i * BS, (i + 1) * BS));
      foreignHeaderBlock = FOREIGN_AT;
    }
  } finally {
    closeSync(fh);
  }

  const { lost, recoverable } = lostFromDelta(deltaBytes, reusedFileBlocks);
  const result = {
    dump,
    manifest: m,
    headerBlock: placement[0]!,
    candidateId: `delta-${placement[0]!}`,
    parentPath: '/vm1/vm1.vmdk',
    capacity: CAP,
    expectedSha256: '',
    expectedLost: lost,
    expectedRecoverableGrains: recoverable,
    foreignHeaderBlock,
    deltaFileBlocks: placement,
    gtSectors: delta.gtSectors,
  };
  if (o.oracle === false) return result;

  // --- expected disk, from qemu-img over the pre-revert chain ----------------------------------
  const flat = entry('/vm1/vm1-flat.vmdk');
  writeBase(oracleDir, baseDesc, flat.pieces!);
  const chainRaw = path.join(o.dir, 'chain.raw');
  const baseRaw = path.join(o.dir, 'base.raw');
  run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
  run('qemu-img', ['convert', '-O', 'raw', path.join(oracleDir, 'vm1.vmdk'), baseRaw]);
  const expectedRaw = path.join(o.dir, 'expected.raw');
  spliceLost(chainRaw, baseRaw, lost, expectedRaw);
  return { ...result, expectedSha256: sha256File(expectedRaw) };
}

/** Adjacent grain runs merged (the COWD writer appends in run order). */
function mergeRuns(runs: GrainRun[]): GrainRun[] {
  // Overlapping 64 KiB writes cannot happen (distinct aligned starts), except with the 2 MiB run: drop those.
  const out: GrainRun[] = [];
  for (const x of runs) {
    const prev = out[out.length - 1];
    if (prev && x.firstGrain < prev.firstGrain + prev.count) continue;
    out.push(x);
  }
  return out;
}

/** Writes the base (descriptor + flat from the builder's manifest pieces) into the oracle folder. */
function writeBase(dir: string, desc: string, pieces: { offset: number; length: number; seed: number }[]): void {
  {
    writeFileSync(path.join(dir, 'vm1.vmdk'), desc);
    const f = openSync(path.join(dir, 'vm1-flat.vmdk'), 'w');
    try {
      ftruncateSync(f, CAP); // holes read as zeros
      for (const p of pieces) {
        const b = expectedBytes(pieces, CAP, p.offset, p.length);
        writeSync(f, b, 0, b.length, p.offset);
      }
    } finally {
      closeSync(f);
    }
  }
}

function flatDescriptor(cid: string, flatName: string): string {
  return ['# Disk DescriptorFile', 'version=1', 'encoding="UTF-8"', `CID=${cid}`, 'parentCID=ffffffff', 'createType="vmfs"', '', '# Extent description', `RW ${CAP / SECTOR} VMFS "${flatName}"`, '', '# The Disk Data Base', '#DDB', '', 'ddb.adapterType = "lsilogic"', ''].join('\n');
}

function deltaDescriptorText(cid: string, parentCid: string, dataName: string): string {
  return ['# Disk DescriptorFile', 'version=1', 'encoding="UTF-8"', `CID=${cid}`, `parentCID=${parentCid}`, 'createType="vmfsSparse"', 'parentFileNameHint="vm1.vmdk"', '', '# Extent description', `RW ${CAP / SECTOR} VMFSSPARSE "${dataName}"`, '', '# The Disk Data Base', '#DDB', ''].join('\n');
}

/** A free FDC slot (cluster 5 onwards, resource r), not used by any manifest entry. */
function freeFdAddress(m: Manifest, r: number): number {
  const usedAddrs = new Set(m.entries.map((e) => e.fdAddress));
  for (let c = 5; c < 32; c++) {
    const a = ((r << 22) | (c << 6) | 4) >>> 0;
    if (!usedAddrs.has(a)) return a;
  }
  throw new Error('recovery builder: no free FD slot');
}

/** A VMFS5 FD (lock + metadata + slots or resident data), as a deleted file leaves it. */
function fdRecord(addr: number, volOffset: number, dirFd: number, f: { length: number; blocks?: number[]; resident?: Uint8Array }): Uint8Array {
  const b = new Uint8Array(FD_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x10c00001, true);
  dv.setBigUint64(4, BigInt(volOffset), true);
  const m = 0x200;
  dv.setUint32(m + 0x00, addr, true);
  dv.setUint32(m + 0x04, 77, true); // generation
  dv.setUint32(m + 0x08, 0, true); // link count: deleted
  dv.setUint32(m + 0x0c, 3, true);
  dv.setBigUint64(m + 0x14, BigInt(f.length), true);
  dv.setBigUint64(m + 0x1c, BigInt(f.resident ? 8192 : BS), true);
  dv.setBigUint64(m + 0x24, BigInt(f.blocks?.length ?? 0), true);
  dv.setUint32(m + 0x40, 0o100600, true);
  dv.setUint32(m + 0x44, f.resident ? 4305 : 1, true);
  dv.setUint32(m + 0x70, dirFd, true);
  if (f.resident) b.set(f.resident, 0x400);
  else f.blocks!.forEach((blk, i) => dv.setUint32(0x400 + i * 4, fb5(blk, false), true));
  return b;
}

/**
 * Lost sectors computed from the delta file we wrote: a grain table stored (even partly) in a
 * reused block loses its whole 2 MiB range; a data grain stored in a reused block is lost.
 */
function lostFromDelta(delta: Uint8Array, reusedBlocks: number[]): { lost: ExpectedLostRun[]; recoverable: number } {
  const dv = new DataView(delta.buffer, delta.byteOffset, delta.byteLength);
  const numSectors = dv.getUint32(0x0c, true);
  const gdOffset = dv.getUint32(0x14, true) * SECTOR;
  const numGd = dv.getUint32(0x18, true);
  const inReused = (off: number, len: number) => reusedBlocks.some((b) => off < (b + 1) * BS && off + len > b * BS);
  const marks: ('table' | 'data' | null)[] = [];
  let recoverable = 0;
  const tableSectors = GT_ENTRIES;
  for (let t = 0; t < numGd; t++) {
    const gde = dv.getUint32(gdOffset + t * 4, true);
    const first = t * tableSectors;
    const n = Math.min(tableSectors, numSectors - first);
    if (gde <= 1) {
      for (let i = 0; i < n; i++) marks[first + i] = null;
      continue;
    }
    if (inReused(gde * SECTOR, GT_ENTRIES * 4)) {
      for (let i = 0; i < n; i++) marks[first + i] = 'table';
      continue;
    }
    for (let i = 0; i < n; i++) {
      const s = dv.getUint32(gde * SECTOR + i * 4, true);
      if (s > 1 && inReused(s * SECTOR, SECTOR)) marks[first + i] = 'data';
      else {
        marks[first + i] = null;
        if (s > 1) recoverable++;
      }
    }
  }
  const lost: ExpectedLostRun[] = [];
  for (let s = 0; s < numSectors; s++) {
    const k = marks[s];
    if (!k) continue;
    const prev = lost[lost.length - 1];
    if (prev && prev.kind === k && prev.sector + prev.sectors === s) prev.sectors++;
    else lost.push({ sector: s, sectors: 1, kind: k });
  }
  return { lost, recoverable };
}

/** expected = chain, with every lost run copied from the base. */
function spliceLost(chainRaw: string, baseRaw: string, lost: ExpectedLostRun[], out: string): void {
  writeFileSync(out, readFileSync(chainRaw));
  const b = openSync(baseRaw, 'r');
  const f = openSync(out, 'r+');
  try {
    for (const l of lost) {
      const buf = new Uint8Array(l.sectors * SECTOR);
      readSync(b, buf, 0, buf.length, l.sector * SECTOR);
      writeSync(f, buf, 0, buf.length, l.sector * SECTOR);
    }
  } finally {
    closeSync(b);
    closeSync(f);
  }
}
