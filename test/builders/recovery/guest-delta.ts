import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { buildCowdDelta, writeCowd } from '../cowd.js';
import { randomCid, writesToRuns, type DeltaWrite } from '../delta-common.js';
import { buildVmfs, MiB, type BlockSpec, type FileSpec } from '../vmfs/index.js';
import { run, sha256File } from '../../helpers/tools.js';
import { deltaDescriptorText, flatDescriptor } from './deleted-delta.js';
import { checkRootFd, fdcLocator, openVolume } from './volume-io.js';
import { geometry } from '../../../src/core/synth/vmfs/geometry.js';

/**
 * A VMFS5 dump whose VM disk holds real guest filesystems, with a snapshot delta deleted by a
 * revert: the "look inside a recovered disk" fixture.
 *
 * Base disk (64 MiB): MBR, an ext4 partition made by mke2fs -d, an NTFS partition made by mkntfs
 * and filled by ntfscp. The snapshot's guest writes are made by the real tools on copies of the
 * partition images (debugfs -w replaces an ext4 file and adds one, ntfscp overwrites an NTFS
 * file); the sectors that differ between the base disk and the new disk become the COWD delta
 * (our synth writer), and qemu-img must read the chain base + delta as exactly the new disk. The
 * delta then sits, contiguous, in free blocks of the dump (its FD and dirent gone), and the live
 * delta after the revert is empty: nothing of the old delta is reused, so nothing is lost.
 */

const SECTOR = 512;
const BS = MiB;
const CAP = 64 * MiB;
export const P1_START = 1 * MiB;
const P1_SIZE = 16 * MiB;
export const P2_START = P1_START + P1_SIZE;
const P2_SIZE = 16 * MiB;
const BASE_AT = 20;
const LIVE_AT = 90;
const DELTA_AT = 100;
const FD_SIZE = 2048;
const FDC_START_BLOCK = 4;

export interface GuestDeltaDump {
  dump: string;
  candidateId: string;
  parentPath: string;
  capacity: number;
  /** SHA-256 of the disk before the revert (= qemu-img convert of base + delta). */
  expectedSha256: string;
  /** ext4 (partition 1): a file the snapshot replaced, at `ext4Changed.path`, with old and new content. */
  ext4Changed: { path: string; oldFile: string; newFile: string };
  /** ext4: a file only the snapshot has. */
  ext4Added: { path: string; file: string };
  /** ext4: a file the snapshot did not touch. */
  ext4Same: { path: string; file: string };
  /** NTFS (partition 2): a file the snapshot overwrote. */
  ntfsChanged: { path: string; oldFile: string; newFile: string };
  /** Sectors of the delta's data grains. */
  deltaSectors: number;
}

/** Deterministic bytes that do not compress to nothing. */
export function noiseBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function sparseFile(p: string, size: number): void {
  closeSync(openSync(p, 'w'));
  run('truncate', ['-s', String(size), p]);
}

/** One 16-byte MBR entry: status 0, CHS unused (zero), type, LBA start, sector count. */
export function mbrEntry(mbr: Buffer, slot: number, type: number, start: number, size: number): void {
  const at = 0x1be + slot * 16;
  mbr[at + 4] = type;
  mbr.writeUInt32LE(start / SECTOR, at + 8);
  mbr.writeUInt32LE(size / SECTOR, at + 12);
}

/** A raw disk: MBR (Linux + NTFS entries), then the two partition images at their offsets. */
function writeDisk(out: string, p1: string, p2: string): void {
  sparseFile(out, CAP);
  const mbr = Buffer.alloc(SECTOR);
  mbr.writeUInt32LE(0x5eed1234, 0x1b8);
  mbrEntry(mbr, 0, 0x83, P1_START, P1_SIZE);
  mbrEntry(mbr, 1, 0x07, P2_START, P2_SIZE);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const fd = openSync(out, 'r+');
  try {
    writeSync(fd, mbr, 0, SECTOR, 0);
    for (const [src, at, size] of [[p1, P1_START, P1_SIZE], [p2, P2_START, P2_SIZE]] as const) {
      const s = openSync(src, 'r');
      try {
        const buf = Buffer.alloc(BS);
        for (let off = 0; off < size; off += BS) {
          const n = readSync(s, buf, 0, BS, off);
          if (n > 0 && buf.subarray(0, n).some((x) => x !== 0)) writeSync(fd, buf, 0, n, at + off);
        }
      } finally {
        closeSync(s);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads 1 MiB blocks of a file, in order. */
function* blocksOf(file: string, size: number): Generator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    for (let off = 0; off < size; off += BS) {
      const b = Buffer.alloc(BS);
      readSync(fd, b, 0, BS, off);
      yield b;
    }
  } finally {
    closeSync(fd);
  }
}

/** The sectors where `a` and `b` differ, as writes of b's bytes (adjacent sectors merged). */
function sectorDiff(a: string, b: string): DeltaWrite[] {
  const out: DeltaWrite[] = [];
  const ib = blocksOf(b, CAP);
  let blk = 0;
  for (const x of blocksOf(a, CAP)) {
    const y = ib.next().value as Buffer;
    for (let s = 0; s < BS; s += SECTOR) {
      if (x.subarray(s, s + SECTOR).equals(y.subarray(s, s + SECTOR))) continue;
      const off = blk * BS + s;
      const prev = out[out.length - 1];
      const sec = Uint8Array.from(y.subarray(s, s + SECTOR));
      if (prev && prev.offset + prev.data!.length === off) prev.data = Buffer.concat([prev.data!, sec]);
      else out.push({ offset: off, data: sec });
    }
    blk++;
  }
  return out;
}

export async function buildGuestDeltaDump(o: { dir: string; seed: number }): Promise<GuestDeltaDump> {
  const work = path.join(o.dir, 'guest');
  const oracle = path.join(o.dir, 'pre-revert');
  mkdirSync(work, { recursive: true });
  mkdirSync(oracle, { recursive: true });

  // --- the guest filesystems, before and after the snapshot's writes ---------------------------
  const src = path.join(work, 'src');
  mkdirSync(path.join(src, 'docs'), { recursive: true });
  const extOld = path.join(src, 'docs', 'report.bin');
  writeFileSync(extOld, noiseBytes(150_000 + 17, o.seed + 1));
  const extSame = path.join(src, 'readme.txt');
  writeFileSync(extSame, 'hello from the base disk\n');
  const p1 = path.join(work, 'p1.img');
  const p2 = path.join(work, 'p2.img');
  sparseFile(p1, P1_SIZE);
  sparseFile(p2, P2_SIZE);
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, p1]);
  run('mkntfs', ['-F', '-f', '-q', p2]);
  const ntfsOld = path.join(work, 'notes-old.bin');
  writeFileSync(ntfsOld, noiseBytes(70_000 + 7, o.seed + 2));
  run('ntfscp', ['-f', p2, ntfsOld, 'notes.bin']);

  const p1n = path.join(work, 'p1-new.img');
  const p2n = path.join(work, 'p2-new.img');
  copyFileSync(p1, p1n);
  copyFileSync(p2, p2n);
  const extNew = path.join(work, 'report-new.bin');
  writeFileSync(extNew, noiseBytes(200_000 + 3, o.seed + 3));
  const extAdded = path.join(work, 'added.txt');
  writeFileSync(extAdded, 'written after the snapshot was taken\n'.repeat(40));
  const cmds = path.join(work, 'debugfs.cmds');
  writeFileSync(cmds, ['cd /docs', 'rm report.bin', `write ${extNew} report.bin`, `write ${extAdded} added.txt`, ''].join('\n'));
  run('debugfs', ['-w', '-f', cmds, p1n]);
  const ntfsNew = path.join(work, 'notes-new.bin');
  writeFileSync(ntfsNew, noiseBytes(90_000 + 11, o.seed + 4));
  run('ntfscp', ['-f', p2n, ntfsNew, 'notes.bin']);

  const baseRaw = path.join(work, 'base.raw');
  const newRaw = path.join(work, 'new.raw');
  writeDisk(baseRaw, p1, p2);
  writeDisk(newRaw, p1n, p2n);

  // --- the delta: exactly the sectors the guest changed ----------------------------------------
  const writes = sectorDiff(baseRaw, newRaw);
  if (writes.length === 0) throw new Error('guest-delta builder: the snapshot changed nothing');
  const baseCid = randomCid(o.seed + 11);
  const baseDesc = flatDescriptor(baseCid, 'vm1-flat.vmdk', CAP);
  writeFileSync(path.join(oracle, 'vm1.vmdk'), baseDesc);
  copyFileSync(baseRaw, path.join(oracle, 'vm1-flat.vmdk'));
  const delta = buildCowdDelta({ dir: oracle, name: 'vm1-000001', capacity: CAP, runs: writesToRuns(CAP, SECTOR, writes), parentFileNameHint: 'vm1.vmdk', parentCid: baseCid, cid: randomCid(o.seed + 12) });
  // The oracle: qemu-img reads base + delta as the new disk, byte for byte.
  const chainRaw = path.join(work, 'chain.raw');
  run('qemu-img', ['convert', '-O', 'raw', delta.descriptorPath, chainRaw]);
  const expectedSha256 = sha256File(chainRaw);
  if (expectedSha256 !== sha256File(newRaw)) throw new Error('guest-delta builder: qemu-img reads base + delta differently from the new disk');

  // --- the volume after the revert ------------------------------------------------------------
  const baseBlocks: BlockSpec[] = [];
  const baseData: Buffer[] = [];
  let i = 0;
  for (const b of blocksOf(baseRaw, CAP)) {
    if (b.some((x) => x !== 0)) {
      baseBlocks.push({ index: i, content: 'data', at: BASE_AT + baseBlocks.length, dataLength: BS });
      baseData.push(b);
    }
    i++;
  }
  if (BASE_AT + baseBlocks.length > LIVE_AT) throw new Error('guest-delta builder: base disk too spread out');
  const liveCowd = path.join(work, 'live-delta.bin');
  writeCowd({ dataPath: liveCowd, capacity: CAP, runs: [] });
  const liveDesc = deltaDescriptorText(randomCid(o.seed + 13), baseCid, 'vm1-000001-delta.vmdk', CAP);
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: baseDesc.length },
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: CAP, blocks: baseBlocks },
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1-000001.vmdk', kind: 'resident', size: liveDesc.length },
    { path: '/vm1/vm1-000001-delta.vmdk', kind: 'blocks', size: BS, blocks: [{ index: 0, content: 'zero', at: LIVE_AT }] },
  ];
  const m = await buildVmfs({ version: 5, dir: o.dir, name: 'guestds', label: 'guests', seed: o.seed, luns: [{ scheme: 'gpt', segments: 1 }], files });
  const io = openVolume(m);
  const deltaSize = readSize(delta.dataPath);
  try {
    const { fdVol } = fdcLocator(geometry(5), 32, FD_SIZE, FDC_START_BLOCK);
    checkRootFd(io, fdVol, 4, 'guest-delta');
    io.put(fdVol(io.entry('/vm1/vm1.vmdk').fdAddress) + 0x400, new TextEncoder().encode(baseDesc));
    io.put(fdVol(io.entry('/vm1/vm1-000001.vmdk').fdAddress) + 0x400, new TextEncoder().encode(liveDesc));
    // The base flat's blocks: the real disk bytes instead of the builder's pattern.
    baseBlocks.forEach((b, k) => io.put(b.at! * BS, baseData[k]!));
    io.put(LIVE_AT * BS, readFileSync(liveCowd));
    // The deleted delta, contiguous in free blocks.
    let k = 0;
    for (const b of blocksOf(delta.dataPath, deltaSize)) {
      io.put((DELTA_AT + k) * BS, b.subarray(0, Math.min(BS, deltaSize - k * BS)));
      k++;
    }
  } finally {
    io.close();
  }
  return {
    dump: m.luns[0]!.path,
    candidateId: `delta-${DELTA_AT}`,
    parentPath: '/vm1/vm1.vmdk',
    capacity: CAP,
    expectedSha256,
    ext4Changed: { path: '/docs/report.bin', oldFile: extOld, newFile: extNew },
    ext4Added: { path: '/docs/added.txt', file: extAdded },
    ext4Same: { path: '/readme.txt', file: extSame },
    ntfsChanged: { path: '/notes.bin', oldFile: ntfsOld, newFile: ntfsNew },
    deltaSectors: writes.reduce((n, w) => n + w.data!.length / SECTOR, 0),
  };
}

function readSize(file: string): number {
  return statSync(file).size;
}
