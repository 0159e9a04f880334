import { copyFileSync, closeSync, ftruncateSync, truncateSync, openSync, readFileSync, writeFileSync, writeSync, readSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeCowd, buildCowdDelta } from '../cowd.js';
import { randomCid, sectorPattern, type GrainRun } from '../delta-common.js';
import { buildVmfs, expectedBytes, MiB, type BlockSpec, type FileSpec, type Manifest } from '../vmfs/index.js';
import { geometry, fb5 } from '../../../src/core/synth/vmfs/geometry.js';
import { Resource, MAGIC } from '../../../src/core/synth/vmfs/resource.js';
import { fdRecord, freeFdAddress } from '../../../src/core/synth/vmfs/freed-fd.js';
import { rng } from '../../helpers/fuzz.js';
import { run, sha256File } from '../../helpers/tools.js';
import { checkRootFd, fdcLocator, openVolume } from './volume-io.js';

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
  /**
   * Case (vi): cut the dump inside the delta's file block `fileBlock`, `within` bytes into it (the
   * rest of the volume is absent: a dd that stopped there).
   */
  truncate?: { fileBlock: number; within: number };
  /**
   * fd-intact only: also an orphan FD (allocated in the FDC bitmap, in no directory) and a freed
   * directory FD whose entries still name the freed delta and descriptor FDs (a remnant).
   */
  extras?: boolean;
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
  /** Data grains of the deleted delta that are still intact (recoverable plus guessed). */
  expectedRecoverableGrains: number;
  /**
   * Of those, the grains a scan that finds only the header block places by contiguity (FD zeroed,
   * no pointer block): guessedGrains. Undefined where the builder does not compute it.
   */
  expectedGuessedGrains?: number;
  /** Header block of the foreign (other VM's) delta, if any. */
  foreignHeaderBlock: number | null;
  /** Delta format (default vmfsSparse). */
  format?: 'vmfsSparse' | 'seSparse';
  /** What `ls --deleted` must list (extras), in no particular order. */
  expectedDeleted: { name: string | null; dir: string | null; type: string; size: number; fdAddress: number; state: 'deleted' | 'orphan' }[];
  /** FS block of each file block of the deleted delta, and its GT sectors by table. */
  deltaFileBlocks: number[];
  gtSectors: Map<number, number>;
}

/** The fields of a deleted delta of /vm1/vm1.vmdk whose header is at `headerBlock` of the first LUN's volume. */
export function deletedDeltaAt(m: Manifest, headerBlock: number, capacity: number): Pick<DeletedDeltaDump, 'dump' | 'manifest' | 'headerBlock' | 'candidateId' | 'parentPath' | 'capacity'> {
  return { dump: m.luns[0]!.path, manifest: m, headerBlock, candidateId: `delta-${headerBlock}`, parentPath: '/vm1/vm1.vmdk', capacity };
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
  const io = openVolume(m);
  const { lun, volBase, put, get, entry } = io;
  const dump = lun.path;
  const { fdc, fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, FDC_START_BLOCK);
  let foreignHeaderBlock: number | null = null;
  const expectedDeleted: DeletedDeltaDump['expectedDeleted'] = [];
  try {
    // The geometry assumption, checked: the root FD (address 4) sits where we compute it.
    checkRootFd(io, fdVol, 4, 'recovery');
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
      if (o.extras) {
        const rootFd = 4;
        // A freed folder whose entry array still names the two freed FDs (generation 77).
        const gone = freeFdAddress(m, 6);
        const ents = new Uint8Array(4 * 140);
        const edv = new DataView(ents.buffer);
        ([['.', gone, 2], ['..', rootFd, 2], ['vm1-000001-delta.vmdk', slot, 3], ['vm1-000001.vmdk', dslot, 3]] as const).forEach(([name, addr, type], k) => {
          edv.setUint32(k * 140, type, true);
          edv.setUint32(k * 140 + 4, addr, true);
          edv.setUint32(k * 140 + 8, 77, true);
          ents.set(new TextEncoder().encode(name), k * 140 + 12);
        });
        put(fdVol(gone), fdRecord(gone, fdVol(gone), rootFd, { length: ents.length, resident: ents, typeCode: 2, mode: 0o40755 }));
        // An orphan: allocated (its FDC bitmap bit cleared: 1 = free), listed by no directory.
        const orphan = freeFdAddress(m, 5);
        const orphanText = new TextEncoder().encode('orphan '.repeat(100));
        put(fdVol(orphan), fdRecord(orphan, fdVol(orphan), dirFd, { length: orphanText.length, resident: orphanText }));
        const c = (orphan >>> 6) & 0xffff;
        const res = orphan >>> 22;
        const md = fdc.volOffset(0x10000 + c * 1024) + 0x200;
        const bit = get(md + 0x10 + (res >> 3), 1);
        if (!(bit[0]! & (1 << (res & 7)))) throw new Error('recovery builder: orphan slot is not free');
        put(md + 0x10 + (res >> 3), new Uint8Array([bit[0]! & ~(1 << (res & 7))]));
        const free = new DataView(get(md + 8, 4).buffer).getUint32(0, true);
        const fb = new Uint8Array(4);
        new DataView(fb.buffer).setUint32(0, free - 1, true);
        put(md + 8, fb);
        expectedDeleted.push(
          { name: 'vm1-000001-delta.vmdk', dir: '/vm1', type: 'file', size: deltaBytes.length, fdAddress: slot, state: 'deleted' },
          { name: 'vm1-000001.vmdk', dir: '/vm1', type: 'file', size: deltaDesc.length, fdAddress: dslot, state: 'deleted' },
          { name: null, dir: '/', type: 'directory', size: ents.length, fdAddress: gone, state: 'deleted' },
          { name: null, dir: '/vm1', type: 'file', size: orphanText.length, fdAddress: orphan, state: 'orphan' },
        );
      }
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
    io.close();
  }

  // Truncation: every delta byte stored at or past the cut is gone.
  let cutVol = Infinity;
  if (o.truncate) {
    cutVol = placement[o.truncate.fileBlock]! * BS + o.truncate.within;
    truncateSync(dump, volBase + cutVol);
  }
  const pastCut = (off: number, len: number) => {
    for (let b = Math.floor(off / BS); b <= Math.floor((off + len - 1) / BS); b++) {
      const end = placement[b]! * BS + (Math.min(off + len, (b + 1) * BS) - b * BS);
      if (end > cutVol) return true;
    }
    return false;
  };
  const { lost, recoverable, placedByGuess } = lostFromDelta(deltaBytes, reusedFileBlocks, pastCut);
  const result = {
    expectedGuessedGrains: o.case === 'contiguous' ? placedByGuess : 0,
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
    expectedDeleted,
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
export function mergeRuns(runs: GrainRun[]): GrainRun[] {
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
export function writeBase(dir: string, desc: string, pieces: { offset: number; length: number; seed: number }[], cap = CAP): void {
  {
    writeFileSync(path.join(dir, 'vm1.vmdk'), desc);
    const f = openSync(path.join(dir, 'vm1-flat.vmdk'), 'w');
    try {
      ftruncateSync(f, cap); // holes read as zeros
      for (const p of pieces) {
        const b = expectedBytes(pieces, cap, p.offset, p.length);
        writeSync(f, b, 0, b.length, p.offset);
      }
    } finally {
      closeSync(f);
    }
  }
}

export function flatDescriptor(cid: string, flatName: string, cap = CAP): string {
  return ['# Disk DescriptorFile', 'version=1', 'encoding="UTF-8"', `CID=${cid}`, 'parentCID=ffffffff', 'createType="vmfs"', '', '# Extent description', `RW ${cap / SECTOR} VMFS "${flatName}"`, '', '# The Disk Data Base', '#DDB', '', 'ddb.adapterType = "lsilogic"', ''].join('\n');
}

export function deltaDescriptorText(cid: string, parentCid: string, dataName: string, cap = CAP, parentHint = 'vm1.vmdk'): string {
  return ['# Disk DescriptorFile', 'version=1', 'encoding="UTF-8"', `CID=${cid}`, `parentCID=${parentCid}`, 'createType="vmfsSparse"', `parentFileNameHint="${parentHint}"`, '', '# Extent description', `RW ${cap / SECTOR} VMFSSPARSE "${dataName}"`, '', '# The Disk Data Base', '#DDB', ''].join('\n');
}


/**
 * Lost sectors computed from the delta file we wrote: a grain table stored (even partly) in a
 * reused block loses its whole 2 MiB range; a data grain stored in a reused block is lost.
 */
export function lostFromDelta(delta: Uint8Array, reusedBlocks: number[], alsoLost?: (offset: number, length: number) => boolean): { lost: ExpectedLostRun[]; recoverable: number; placedByGuess: number } {
  return lostFromDeltaFile((off, n) => delta.subarray(off, off + n), reusedBlocks, alsoLost);
}

/** The same, reading the delta file positionally (large deltas never sit in memory). */
export function lostFromDeltaFile(read: (offset: number, length: number) => Uint8Array, reusedBlocks: number[], alsoLost?: (offset: number, length: number) => boolean): { lost: ExpectedLostRun[]; recoverable: number; placedByGuess: number } {
  const hdr = read(0, 0x20);
  const hv = new DataView(hdr.buffer, hdr.byteOffset, hdr.byteLength);
  const numSectors = hv.getUint32(0x0c, true);
  const gdOffset = hv.getUint32(0x14, true) * SECTOR;
  const numGd = hv.getUint32(0x18, true);
  const gdb = read(gdOffset, numGd * 4);
  const gdv = new DataView(gdb.buffer, gdb.byteOffset, gdb.byteLength);
  const u32at = (off: number) => {
    const b = read(off, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  };
  const dv = { getUint32: (off: number, _le: boolean) => (off >= gdOffset && off < gdOffset + numGd * 4 ? gdv.getUint32(off - gdOffset, true) : u32at(off)) };
  const inReused = (off: number, len: number) => reusedBlocks.some((b) => off < (b + 1) * BS && off + len > b * BS) || (alsoLost?.(off, len) ?? false);
  const marks: ('table' | 'data' | null)[] = [];
  let recoverable = 0;
  // Of the recoverable grains, those whose GD entry, table or data lies past file block 0: what a
  // scan that found only the header block must place by contiguity.
  let placedByGuess = 0;
  const pastBlock0 = (off: number, len: number) => off + len > BS;
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
    const gtb = read(gde * SECTOR, GT_ENTRIES * 4);
    const gtv = new DataView(gtb.buffer, gtb.byteOffset, gtb.byteLength);
    for (let i = 0; i < n; i++) {
      const s = gtv.getUint32(i * 4, true);
      if (s > 1 && inReused(s * SECTOR, SECTOR)) marks[first + i] = 'data';
      else {
        marks[first + i] = null;
        if (s > 1) {
          recoverable++;
          if (pastBlock0(gdOffset + t * 4, 4) || pastBlock0(gde * SECTOR, GT_ENTRIES * 4) || pastBlock0(s * SECTOR, SECTOR)) placedByGuess++;
        }
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
  return { lost, recoverable, placedByGuess };
}

/** expected = chain, with every lost run copied from the base. */
export function spliceLost(chainRaw: string, baseRaw: string, lost: ExpectedLostRun[], out: string): void {
  if (out !== chainRaw) copyFileSync(chainRaw, out);
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
