import { createSha256, type HasherFactory } from '../hash/sha256.js';
import { writeCowdTo } from './cowd.js';
import { SECTOR, type GrainRun } from './grain-runs.js';
import { PagedImage } from './paged-image.js';
import { DEMO_GUEST } from './demo-guest-layout.js';
import { demoGuestDisk, type DemoGuestDisk } from './demo-guest.js';
import { DATA_OFFSET, MiB, geometry } from './vmfs/geometry.js';
import { MAGIC, Resource } from './vmfs/resource.js';
import { fdRecord, freeFdAddress } from './vmfs/freed-fd.js';
import { buildVmfs, type Manifest } from './vmfs/vmfs-builder.js';

/**
 * The built-in demo: a small VMFS5 datastore dump made in memory (the browser has no file for a
 * newcomer, and the CSP forbids fetching one). A VM had a snapshot; after "revert to snapshot" the
 * delta holding the newer writes was deleted (its FD freed but intact, its blocks free), and the new
 * live delta reused two of its blocks (one holding a grain table), so part of it is lost. The VM's
 * disk holds real file systems (ext4 and NTFS, made by mke2fs and mkntfs: demo-guest.ts); after the
 * snapshot the guest changed a file in each, so the recovered disk and the base differ there.
 *
 * The expected recovered disk is computed here from the demo's own inputs: base content, overlaid
 * by the deleted delta's grains, except grains whose data or grain table sat in a reused block
 * (those read from the base). It never calls the reader or the recovery code.
 *
 * Same builder as the tests that debugvmfs checks (src/core/synth/vmfs), same COWD writer as the
 * tests that qemu-img checks (src/core/synth/cowd.ts).
 */

export interface DemoLostRun {
  sector: number;
  sectors: number;
  /** What its first sector lost; `kinds` lists every cause of the merged run. */
  kind: 'table' | 'data';
  kinds: ('table' | 'data')[];
}

/** A file the guest changed after the snapshot: the base has `before`, the recovered disk `after`. */
export interface DemoChangedFile {
  fs: 'ext4' | 'ntfs';
  /** 1-based partition number on the guest disk's MBR. */
  partition: number;
  path: string;
  before: string;
  after: string;
}

export interface DemoExpected {
  /** Candidate id the scan must give the deleted delta (its header block). */
  candidateId: string;
  parentPath: string;
  capacity: number;
  /** sha256 of the recovered raw disk. */
  sha256: string;
  lostRuns: DemoLostRun[];
  lostSectors: number;
  /** Data grains of the deleted delta still intact. */
  recoverableGrains: number;
  /** The files the guest changed after the snapshot (look inside shows both versions). */
  changedFiles: DemoChangedFile[];
}

export interface Demo {
  /** The dump (a GPT disk with one VMFS5 partition); mostly zeros, a few MiB of real pages. */
  image: PagedImage;
  fileName: string;
  manifest: Manifest;
  expected: DemoExpected;
  /** Folder of the VM in the volume. */
  vmDir: string;
  /** Fills `buf` with the base disk's bytes at `virtualOffset` (what the base flat file holds). */
  baseFill(buf: Uint8Array, virtualOffset: number): void;
  /** sha256 of the base disk alone (what the base flat file reads as). */
  baseSha256: string;
  /** The chain before the revert, for oracle checks (qemu-img): descriptors and the deleted delta's file. */
  preRevert: { baseDescriptor: string; deltaDescriptor: string; deltaFileName: string; deltaBytes: Uint8Array };
}

const BS = MiB;
const CAP = 16 * MiB;
const GT_ENTRIES = 4096;
const FD_SIZE = 2048;
const FDC_START_BLOCK = 4;
const BASE_AT = 30;
const DELTA_AT = 100;
const VM = 'demo-vm';
const DIR = `/${VM}`;
const BASE_CID = '5eed0001';
const OLD_CID = '5eed0002';
const LIVE_CID = '5eed0003';

/** A text sector: a 512-byte line saying what it is, so a hex view shows where bytes came from. */
function textSector(buf: Uint8Array, at: number, line: string): void {
  const s = (line + ' '.repeat(SECTOR)).slice(0, SECTOR - 1) + '\n';
  for (let i = 0; i < SECTOR; i++) buf[at + i] = s.charCodeAt(i) & 0x7f;
}

/** Text sectors of the data partition: the first 64 KiB of every MiB, the rest zeros. */
function baseText(buf: Uint8Array, virtualOffset: number): void {
  buf.fill(0);
  for (let k = 0; k < buf.length; k += SECTOR) {
    const lba = (virtualOffset + k) / SECTOR;
    if (lba % 2048 < 128) textSector(buf, k, `vmfs-rescue demo | base disk | sector ${lba} | written before the snapshot`);
  }
}

/** The deleted delta's writes in the data partition: text sectors that exist only in that delta. */
function deltaFill(buf: Uint8Array, virtualOffset: number): void {
  for (let k = 0; k < buf.length; k += SECTOR) {
    const lba = (virtualOffset + k) / SECTOR;
    textSector(buf, k, `vmfs-rescue demo | sector ${lba} | written AFTER the snapshot: only the deleted delta holds this`);
  }
}

const enc = (s: string) => new TextEncoder().encode(s);

function flatDescriptor(): string {
  return ['# Disk DescriptorFile', 'version=1', 'encoding="UTF-8"', `CID=${BASE_CID}`, 'parentCID=ffffffff', 'createType="vmfs"', '', '# Extent description', `RW ${CAP / SECTOR} VMFS "${VM}-flat.vmdk"`, '', '# The Disk Data Base', '#DDB', '', 'ddb.adapterType = "lsilogic"', ''].join('\n');
}

function deltaDescriptor(cid: string, dataName: string): string {
  return ['# Disk DescriptorFile', 'version=1', 'encoding="UTF-8"', `CID=${cid}`, `parentCID=${BASE_CID}`, 'createType="vmfsSparse"', `parentFileNameHint="${VM}.vmdk"`, '', '# Extent description', `RW ${CAP / SECTOR} VMFSSPARSE "${dataName}"`, '', '# The Disk Data Base', '#DDB', ''].join('\n');
}

const VMX = [
  '.encoding = "UTF-8"', 'config.version = "8"', 'virtualHW.version = "14"', `displayName = "${VM}"`, 'guestOS = "other-64"',
  'memSize = "256"', 'scsi0.present = "TRUE"', 'scsi0.virtualDev = "lsilogic"', 'scsi0:0.present = "TRUE"',
  `scsi0:0.fileName = "${VM}-000002.vmdk"`, '',
].join('\n');

const VMSD = [
  '.encoding = "UTF-8"', 'snapshot.lastUID = "1"', 'snapshot.current = "1"', 'snapshot0.uid = "1"',
  `snapshot0.filename = "${VM}-Snapshot1.vmsn"`, 'snapshot0.displayName = "before the upgrade"', 'snapshot0.numDisks = "1"',
  `snapshot0.disk0.fileName = "${VM}.vmdk"`, 'snapshot0.disk0.node = "scsi0:0"', 'snapshot.numSnapshots = "1"', '',
].join('\n');

/**
 * Guest writes after the snapshot (sector grains), in the order the guest made them: first the
 * file-system sectors where the changed files' new versions differ (they land in the delta file's
 * first block, which is never reused), then text in the data partition: 64 KiB pieces and one
 * 2 MiB run.
 */
function deltaRuns(guest: DemoGuestDisk): GrainRun[] {
  const fs: GrainRun[] = guest.changed.map(([a, b]) => ({ firstGrain: a, count: b - a, kind: 'data' as const, fill: (buf: Uint8Array, off: number) => guest.fill(buf, off, 2) }));
  const at = [8.25, 9, 12, 14.5, 15.25].map((mib) => ({ firstGrain: (mib * MiB) / SECTOR, count: 128 }));
  at.push({ firstGrain: (10 * MiB) / SECTOR, count: 4096 });
  return [...fs, ...at.sort((a, b) => a.firstGrain - b.firstGrain).map((r) => ({ ...r, kind: 'data' as const, fill: deltaFill }))];
}

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset + off, 4).getUint32(0, true);

/** Builds the demo dump in memory (about 275 MiB apparent, a few MiB of pages) and what recovering it must give. */
export async function buildDemo(hasher: HasherFactory = createSha256): Promise<Demo> {
  const guest = await demoGuestDisk(baseText);
  const baseFill = (buf: Uint8Array, off: number) => guest.fill(buf, off, 1);
  // --- the deleted delta, as it was before the revert -----------------------------------------
  const delta = new PagedImage('old delta', 64 * MiB, 256);
  const cowd = writeCowdTo({
    out: { write: (b, p) => delta.write(p, b), read: (b, p) => delta.copyOut(b, p), truncate: (s) => delta.truncate(s) },
    capacity: CAP,
    runs: deltaRuns(guest),
  });
  const deltaBytes = new Uint8Array(cowd.fileSize);
  delta.copyOut(deltaBytes, 0);
  const nBlocks = Math.ceil(deltaBytes.length / BS);
  // Fragmented, as a thin file grows among other files.
  const placement = Array.from({ length: nBlocks }, (_, i) => DELTA_AT + (i % 2 === 0 ? i / 2 : 40 + i));
  // Reused by the new live delta: a block holding a grain table (not the header's), and another one.
  const gtBlocks = [...cowd.gtSectors.values()].map((s) => Math.floor((s * SECTOR) / BS)).filter((b) => b > 0);
  const gtBlock = gtBlocks[Math.floor(gtBlocks.length / 2)]!;
  const other = [...Array(nBlocks).keys()].find((b) => b > 0 && !gtBlocks.includes(b)) ?? [...Array(nBlocks).keys()].find((b) => b > 0 && b !== gtBlock)!;
  const reused = [gtBlock, other];
  if (nBlocks < 3 || gtBlock === other) throw new Error('demo builder: delta too small to show a reused block');

  // --- the volume after the revert -------------------------------------------------------------
  const baseDesc = flatDescriptor();
  const oldDesc = deltaDescriptor(OLD_CID, `${VM}-000001-delta.vmdk`);
  const liveDesc = deltaDescriptor(LIVE_CID, `${VM}-000002-delta.vmdk`);
  const images: PagedImage[] = [];
  const m = await buildVmfs({
    version: 5, name: 'vmfs-rescue-demo', label: 'demo-datastore', seed: 7, hasher,
    luns: [{ scheme: 'gpt', segments: 1 }],
    createLun: (fileName, size) => {
      const img = new PagedImage(fileName, size, 1024);
      images.push(img);
      return img;
    },
    files: [
      { path: `${DIR}/${VM}.vmx`, kind: 'resident', size: VMX.length },
      { path: `${DIR}/${VM}.vmsd`, kind: 'resident', size: VMSD.length },
      { path: `${DIR}/${VM}.vmdk`, kind: 'resident', size: baseDesc.length },
      // Thick base: every block allocated, written below with the base content.
      { path: `${DIR}/${VM}-flat.vmdk`, kind: 'blocks', size: CAP, blocks: Array.from({ length: CAP / BS }, (_, i) => ({ index: i, content: 'zero' as const, at: BASE_AT + i })) },
      { path: `${DIR}/${VM}-000002.vmdk`, kind: 'resident', size: liveDesc.length },
      {
        path: `${DIR}/${VM}-000002-delta.vmdk`, kind: 'blocks', size: 2 * BS,
        blocks: [{ index: 0, content: 'zero', at: placement[reused[0]!]! }, { index: 1, content: 'data', at: placement[reused[1]!]! }],
      },
    ],
    hashLimit: 0,
  });
  const image = images[0]!;
  const lun = m.luns[0]!;
  const volBase = lun.partitionOffset + DATA_OFFSET;
  const put = (volOffset: number, b: Uint8Array) => image.write(volBase + volOffset, b);
  const get = (volOffset: number, n: number) => {
    const b = new Uint8Array(n);
    image.copyOut(b, volBase + volOffset);
    return b;
  };
  const entry = (p: string) => {
    const e = m.entries.find((x) => x.path === p);
    if (!e) throw new Error(`demo builder: ${p} not built`);
    return e;
  };
  const fdc = new Resource(geometry(5), '.fdc.sf', MAGIC.fdc, 2, 32, 32, FD_SIZE, 1, 32 * 32);
  fdc.startBlock = FDC_START_BLOCK;
  const fdVol = (addr: number) => fdc.itemVolOffset(((addr >>> 6) & 0xffff) * 32 + (addr >>> 22));
  // The FDC geometry assumed above, checked on the root FD (address 4).
  const root = get(fdVol(4), 12);
  if (u32(root, 0) !== 0x10c00001 || u32(root, 4) !== fdVol(4)) throw new Error('demo builder: FDC geometry assumption broken');

  // Text files (resident: replace the builder's pattern bytes by the text, same length).
  for (const [p, text] of [[`${DIR}/${VM}.vmx`, VMX], [`${DIR}/${VM}.vmsd`, VMSD], [`${DIR}/${VM}.vmdk`, baseDesc], [`${DIR}/${VM}-000002.vmdk`, liveDesc]] as const) {
    put(fdVol(entry(p).fdAddress) + 0x400, enc(text));
  }
  // Base content, written where its flat file's blocks are.
  // Only its non-zero 64 KiB pieces: the paged image keeps zeros as holes.
  const chunk = new Uint8Array(64 * 1024);
  for (let off = 0; off < CAP; off += chunk.length) {
    baseFill(chunk, off);
    if (chunk.some((x) => x !== 0)) put(BASE_AT * BS + off, chunk);
  }
  // The new live delta: an empty COWD in its first block (one of the old delta's).
  const live = new PagedImage('live delta', 4 * MiB, 16);
  const liveRes = writeCowdTo({ out: { write: (b, p) => live.write(p, b), read: (b, p) => live.copyOut(b, p), truncate: (s) => live.truncate(s) }, capacity: CAP, runs: [] });
  const liveBytes = new Uint8Array(liveRes.fileSize);
  live.copyOut(liveBytes, 0);
  put(placement[reused[0]!]! * BS, liveBytes);
  // The old delta's bytes, in the blocks that are still free.
  for (let i = 0; i < nBlocks; i++) if (!reused.includes(i)) put(placement[i]! * BS, deltaBytes.subarray(i * BS, (i + 1) * BS));
  // Its FD and its descriptor's FD: freed but intact.
  const dirFd = entry(DIR).fdAddress;
  const slot = freeFdAddress(m, 3);
  put(fdVol(slot), fdRecord(slot, fdVol(slot), dirFd, { length: deltaBytes.length, blocks: placement }));
  const dslot = freeFdAddress(m, 4);
  put(fdVol(dslot), fdRecord(dslot, fdVol(dslot), dirFd, { length: oldDesc.length, resident: enc(oldDesc) }));

  // --- what recovery must give ------------------------------------------------------------------
  const { lost, recoverable, hash } = expectedDisk(deltaBytes, reused, hasher, baseFill);
  // The changed files must come back whole: nothing of the file systems may be lost.
  if (lost.some((l) => l.sector < DEMO_GUEST.data.startSector)) throw new Error('demo builder: a reused block holds file-system grains');
  const baseHash = hasher();
  const buf = new Uint8Array(BS);
  for (let off = 0; off < CAP; off += BS) {
    baseFill(buf, off);
    baseHash.update(buf);
  }
  return {
    image,
    fileName: 'vmfs-rescue-demo.img',
    manifest: m,
    vmDir: DIR,
    baseSha256: baseHash.digestHex(),
    preRevert: { baseDescriptor: baseDesc, deltaDescriptor: oldDesc, deltaFileName: `${VM}-000001-delta.vmdk`, deltaBytes },
    expected: {
      candidateId: `delta-${placement[0]!}`,
      parentPath: `${DIR}/${VM}.vmdk`,
      capacity: CAP,
      sha256: hash,
      lostRuns: lost,
      lostSectors: lost.reduce((s, l) => s + l.sectors, 0),
      recoverableGrains: recoverable,
      changedFiles: [
        { fs: 'ext4', partition: 1, path: DEMO_GUEST.ext4.changedPath, before: DEMO_GUEST.ext4.before, after: DEMO_GUEST.ext4.after },
        { fs: 'ntfs', partition: 2, path: DEMO_GUEST.ntfs.changedPath, before: DEMO_GUEST.ntfs.before, after: DEMO_GUEST.ntfs.after },
      ],
    },
    baseFill,
  };
}

/**
 * Lost runs and the recovered disk's hash, from the delta file as written: a grain table stored
 * (even partly) in a reused block loses its whole 2 MiB range, a grain stored in one is lost; lost
 * and unallocated sectors read from the base.
 */
function expectedDisk(d: Uint8Array, reusedBlocks: number[], hasher: HasherFactory, baseFill: (buf: Uint8Array, off: number) => void): { lost: DemoLostRun[]; recoverable: number; hash: string } {
  const numSectors = u32(d, 0x0c);
  const gdOffset = u32(d, 0x14) * SECTOR;
  const numGd = u32(d, 0x18);
  const inReused = (off: number, len: number) => reusedBlocks.some((b) => off < (b + 1) * BS && off + len > b * BS);
  const lost: DemoLostRun[] = [];
  // Adjacent lost sectors are one run whatever the cause, as the recovery reports them.
  const mark = (sector: number, kind: 'table' | 'data') => {
    const prev = lost[lost.length - 1];
    if (prev && prev.sector + prev.sectors === sector) {
      prev.sectors++;
      if (!prev.kinds.includes(kind)) prev.kinds.push(kind);
    } else lost.push({ sector, sectors: 1, kind, kinds: [kind] });
  };
  let recoverable = 0;
  const h = hasher();
  const out = new Uint8Array(GT_ENTRIES * SECTOR);
  for (let t = 0; t < numGd; t++) {
    const first = t * GT_ENTRIES;
    const n = Math.min(GT_ENTRIES, numSectors - first);
    const view = out.subarray(0, n * SECTOR);
    baseFill(view, first * SECTOR);
    const gde = u32(d, gdOffset + t * 4);
    if (gde > 1 && inReused(gde * SECTOR, GT_ENTRIES * 4)) {
      for (let i = 0; i < n; i++) mark(first + i, 'table');
    } else if (gde > 1) {
      for (let i = 0; i < n; i++) {
        const s = u32(d, gde * SECTOR + i * 4);
        if (s <= 1) continue;
        if (inReused(s * SECTOR, SECTOR)) mark(first + i, 'data');
        else {
          recoverable++;
          view.set(d.subarray(s * SECTOR, (s + 1) * SECTOR), i * SECTOR);
        }
      }
    }
    h.update(view);
  }
  return { lost, recoverable, hash: h.digestHex() };
}
