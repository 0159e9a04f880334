import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { writeCowd } from '../cowd.js';
import { writeSeSparse } from '../sesparse.js';
import { randomCid, sectorPattern } from '../delta-common.js';
import { DATA_OFFSET, MiB } from '../vmfs/index.js';
import { rng } from '../../helpers/fuzz.js';
import { deltaDescriptorText } from './deleted-delta.js';
import { openVolume } from './volume-io.js';
import type { DeletedDeltaDump } from './deleted-delta.js';

/**
 * Decoys for the free space of a recovery dump: what the free blocks of a used LUN hold besides
 * the deleted delta — random data and stale look-alikes of every structure the scan parses. Each
 * is written at the start of a free block the builder knows is unused (no live file's data, not
 * the deleted delta, still zeros), so the live files, the expected disk and the ranking the test
 * expects are unchanged: the real delta must still rank first, each decoy be rejected or rank below.
 *
 *   random            random bytes
 *   cowd-garbage      'COWD' then random bytes (version, grain size... all noise)
 *   cowd-wrong        a valid COWD header of a capacity no live disk has, its GD and tables random
 *   kdmv-garbage      'KDMV' then random bytes
 *   kdmv-valid        a valid hosted sparse header (a monolithicSparse extent left on the datastore)
 *   sesparse-garbage  seSparse magic and version, capacity and offsets random u64 (capacity > 2^53)
 *   sesparse-wrong    a valid seSparse layout of a capacity no live disk has, GD and tables random
 *   descriptor-ghost  descriptor text of a disk that never existed (another capacity, random CIDs)
 *   descriptor-broken descriptor-looking text whose extent line does not parse
 *   vmsd-ghost        .vmsd text of a VM that never existed
 *   partial-gt        the deleted delta's header block copied, its grain tables cut partway (random after the cut)
 */
export const DECOY_KINDS = ['random', 'cowd-garbage', 'cowd-wrong', 'kdmv-garbage', 'kdmv-valid', 'sesparse-garbage', 'sesparse-wrong', 'descriptor-ghost', 'descriptor-broken', 'vmsd-ghost', 'partial-gt'] as const;
export type DecoyKind = (typeof DECOY_KINDS)[number];

/** Bytes written per decoy: the scan probes block starts; partial-gt spans the copied header block. */
const DECOY_BYTES = 64 * 1024;
const GHOST_CAP = 96 * MiB;

/** Headers made once per dump (writers run on files), reused by every decoy. */
export interface DecoyTemplates {
  cowdWrong: Uint8Array;
  seSparseWrong: Uint8Array;
  /** First FS block of the deleted delta, and the end of its grain-table area in that block. */
  deltaHead: Uint8Array;
  gtEnd: number;
}

export function decoyTemplates(dir: string, d: DeletedDeltaDump): DecoyTemplates {
  const cowd = writeCowd({ dataPath: path.join(dir, 'decoy-cowd.bin'), capacity: GHOST_CAP, runs: [{ firstGrain: 4096, count: 64, kind: 'data', fill: sectorPattern(3) }] });
  const ses = writeSeSparse({ dataPath: path.join(dir, 'decoy-sesparse.bin'), capacity: GHOST_CAP, runs: [{ firstGrain: 512, count: 16, kind: 'data', fill: sectorPattern(4) }] });
  const bs = d.manifest.blockSize;
  const at = d.manifest.luns[0]!.partitionOffset + DATA_OFFSET + d.headerBlock * bs;
  const deltaHead = readAt(d.dump, at, bs);
  // Grain tables of the delta stored in its first block: the copy is cut inside that area.
  const inFirst = [...d.gtSectors.values()].map((s) => s * 512).filter((o) => o + 16384 <= bs);
  const gtEnd = inFirst.length ? Math.max(...inFirst) + 16384 : 0x800;
  return { cowdWrong: readFileSync(cowd.dataPath).subarray(0, 0x800), seSparseWrong: readFileSync(ses.dataPath).subarray(0, 0x200), deltaHead, gtEnd };
}

function readAt(file: string, at: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  const fh = openSync(file, 'r');
  try {
    readSync(fh, b, 0, n, at);
  } finally {
    closeSync(fh);
  }
  return b;
}

function randomBytes(n: number, r: () => number): Uint8Array {
  const b = new Uint8Array(n);
  const w = new Uint32Array(b.buffer);
  for (let i = 0; i < w.length; i++) w[i] = (r() * 0x1_0000_0000) >>> 0;
  return b;
}

const text = (s: string) => new TextEncoder().encode(s);

/** The bytes of one decoy (random elsewhere, so each call differs with `r`). */
export function decoyBytes(kind: DecoyKind, r: () => number, t: DecoyTemplates): Uint8Array {
  const b = randomBytes(kind === 'partial-gt' ? t.deltaHead.length : DECOY_BYTES, r);
  const dv = new DataView(b.buffer);
  switch (kind) {
    case 'random':
      break;
    case 'cowd-garbage':
      b.set(text('COWD'), 0);
      if (r() < 0.5) dv.setUint32(4, 1, true); // version 1: the rest still noise
      break;
    case 'cowd-wrong':
      b.set(t.cowdWrong, 0);
      break;
    case 'kdmv-garbage':
      b.set(text('KDMV'), 0);
      break;
    case 'kdmv-valid':
      b.fill(0, 0, 0x200);
      b.set(text('KDMV'), 0);
      dv.setUint32(0x04, 1, true); // version
      dv.setUint32(0x08, 3, true); // flags: newline check, redundant GD
      dv.setBigUint64(0x0c, BigInt(GHOST_CAP / 512), true); // capacity (sectors)
      dv.setBigUint64(0x14, 128n, true); // grain size (sectors)
      dv.setBigUint64(0x1c, 1n, true); // descriptor offset
      dv.setBigUint64(0x24, 20n, true); // descriptor size
      dv.setUint32(0x2c, 512, true); // GTEs per GT
      dv.setBigUint64(0x30, 21n, true); // redundant GD
      dv.setBigUint64(0x38, 100n, true); // GD
      dv.setBigUint64(0x40, 256n, true); // overhead
      b.set([0x0a, 0x20, 0x0d, 0x0a], 0x49);
      break;
    case 'sesparse-garbage':
      dv.setBigUint64(0, 0xcafebaben, true); // seSparse const header magic
      dv.setBigUint64(8, 0x200000001n, true);
      dv.setUint32(0x14, 0x6ad90000 | (dv.getUint32(0x14, true) & 0xffff), true); // capacity far above 2^53
      break;
    case 'sesparse-wrong':
      b.set(t.seSparseWrong, 0);
      break;
    case 'descriptor-ghost': {
      const cap = [GHOST_CAP, 80 * MiB, 2048 * MiB][Math.floor(r() * 3)]!;
      const s = deltaDescriptorText(randomCid(Math.floor(r() * 1e9)), randomCid(Math.floor(r() * 1e9)), 'ghost-000001-delta.vmdk', cap, 'ghost.vmdk');
      b.set(text(s + '\0'), 0);
      break;
    }
    case 'descriptor-broken':
      b.set(text('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfsSparse"\n\n# Extent description\nRW 99999999999999999999999 VMFSSPARSE "x.vmdk"\n\0'), 0);
      break;
    case 'vmsd-ghost':
      b.set(text('.encoding = "UTF-8"\nsnapshot.lastUID = "2"\nsnapshot.current = "2"\nsnapshot0.uid = "2"\nsnapshot0.filename = "ghost-Snapshot2.vmsn"\nsnapshot0.displayName = "never"\nsnapshot0.numDisks = "1"\nsnapshot0.disk0.fileName = "ghost.vmdk"\nsnapshot0.disk0.node = "scsi0:0"\nsnapshot.numSnapshots = "1"\n\0'), 0);
      break;
    case 'partial-gt': {
      // Cut inside the first half of the table area: at least half of the tables are noise.
      const cut = 0x800 + Math.floor(r() * Math.max(1, (t.gtEnd - 0x800) / 2));
      b.set(t.deltaHead.subarray(0, cut), 0);
      break;
    }
  }
  return b;
}

/**
 * Free blocks the decoys may use: outside every live file's data and the deleted delta's blocks
 * (and the blocks its contiguous guess reads), and still all zeros in the dump. `count` of them,
 * spread over the volume's second half and the gap after the delta.
 */
export function decoyBlocks(d: DeletedDeltaDump, count: number): number[] {
  const used = new Set<number>(d.deltaFileBlocks);
  for (const e of d.manifest.entries) for (const b of e.dataBlocks ?? []) used.add(b);
  const first = d.headerBlock;
  for (let i = 0; i < d.deltaFileBlocks.length + 1; i++) used.add(first + i);
  const io = openVolume(d.manifest);
  const out: number[] = [];
  try {
    const bs = d.manifest.blockSize;
    for (let b = Math.floor(d.manifest.totalBlocks / 2); b < d.manifest.totalBlocks && out.length < count; b++) {
      if (used.has(b)) continue;
      if (io.get(b * bs, bs).every((x) => x === 0)) out.push(b);
    }
  } finally {
    io.close();
  }
  if (out.length < count) throw new Error(`decoy builder: only ${out.length} free zero blocks for ${count} decoys`);
  return out;
}

/** Writes one decoy of every kind (then random blocks) into the dump's free blocks; returns where. */
export function addDecoys(d: DeletedDeltaDump, dir: string, seed: number, count = 2 * DECOY_KINDS.length): { block: number; kind: DecoyKind }[] {
  const t = decoyTemplates(dir, d);
  const r = rng(seed);
  const blocks = decoyBlocks(d, count);
  const placed = blocks.map((block, i) => ({ block, kind: DECOY_KINDS[i % DECOY_KINDS.length]! }));
  const io = openVolume(d.manifest);
  try {
    for (const p of placed) io.put(p.block * d.manifest.blockSize, decoyBytes(p.kind, r, t));
  } finally {
    io.close();
  }
  return placed;
}
