import type { ByteSource } from '../io/byte-source.js';
import { hex, u32 } from '../util/struct.js';
import { cowdTableFits, COWD_TABLE_BYTES, SESPARSE_GDE_ALLOCATED_HI, SESPARSE_TABLE_BYTES, seSparseTableFits, type DeltaHeader } from './delta-header.js';
import { lostIn } from './rebuilt-file.js';
import type { FreedPb, FreedPbDelta } from './evidence.js';
import type { BlockUse } from './free-map.js';
import { planFromBlocks } from './plan.js';
import { rebuiltFile } from './rebuilt-file.js';

/** Grain tables read per (piece, candidate PB) when scoring: enough to tell, bounded on huge deltas. */
const MAX_TABLES_PER_TRY = 24;
/** Candidate PBs scored per piece (the closest items first): bounds the work on a volume full of freed PBs. */
const MAX_TRIES_PER_PIECE = 256;

export interface JoinedPiece {
  /** Piece index k: file blocks k × pbEntries .. */
  piece: number;
  pbAddress: number | bigint;
  pbVolOffset: number;
  fitTables: number;
  checkedTables: number;
  /** Other PBs that scored as well (ambiguity, said in the evidence). */
  ties: number;
  /** How the piece was told apart, when not by grain tables (seSparse: the window of grains). */
  detail?: string;
}

/**
 * Joins the later pieces of a delta whose first pointer block was found (its first block holds
 * the header). The header says how many file blocks exist, so how many PBs and how many entries
 * each must list (the last one: exactly the remainder, nothing after). Among the freed PBs whose
 * entry count fits a piece, the one under which the grain tables that the GD places in that
 * piece read as tables whose pointers land inside the file is chosen; a PB under which no table
 * with data fits is never taken. Ties go to the PB item closest to the first one (in the same
 * resource file). `perPb` is the volume's entries per PB (1024 on VMFS3/5, 8192 on VMFS6).
 * seSparse: its later pieces hold only grains (the grain tables sit in the metadata of the first
 * piece), so each is told apart by the window it maps instead (joinSeSparse).
 * Returns the joined block list (-1 where no piece was found, listed in `unknown`).
 */
export async function joinPointerBlocks(
  vol: ByteSource,
  head: FreedPbDelta,
  others: readonly FreedPb[],
  headItem: number,
  perPb: number,
  use: BlockUse,
  readPb: (pb: FreedPb) => Promise<number[] | null>,
): Promise<{ blocks: number[]; unknown: Map<number, string>; pieces: JoinedPiece[] }> {
  const h = head.header;
  const bs = use.blockSize;
  const nBlocks = Math.ceil(h.fileSize / bs);
  const nPieces = Math.ceil(nBlocks / perPb);
  const blocks: number[] = head.blocks.slice(0, Math.min(perPb, nBlocks));
  const unknown = new Map<number, string>();
  const pieces: JoinedPiece[] = [];
  const taken = new Set<number | bigint>();
  if (nPieces > 1 && h.format === 'seSparse') return joinSeSparse([vol, head, others, headItem, perPb, use, readPb], { blocks, unknown, pieces, taken, nBlocks, nPieces });
  if (nPieces <= 1 || h.format !== 'vmfsSparse') {
    for (let i = blocks.length; i < nBlocks; i++) unknown.set(i, `file block ${i} is listed by a further pointer block that was not found`);
    return { blocks, unknown, pieces };
  }
  // GD through the first piece (it sits right after the header, in file block 0).
  const firstPlan = planFromBlocks(blocks, Math.min(h.fileSize, perPb * bs), use, 'pointer-block');
  const gdLen = h.gdEntries * 4;
  const gd = h.gdOffset + gdLen <= firstPlan.fileSize ? await rebuiltFile(vol, firstPlan, 'gd').read(h.gdOffset, gdLen) : new Uint8Array(0);
  const endSector = Math.floor(h.fileSize / 512);
  const firstData = Math.ceil((h.gdOffset + gdLen) / 512);
  /** GT file offsets by piece. */
  const tablesIn = new Map<number, number[]>();
  for (let t = 0; t < gd.length / 4; t++) {
    const gde = u32(gd, t * 4);
    if (gde <= 1) continue;
    const at = gde * 512;
    if (at + COWD_TABLE_BYTES > h.fileSize) continue;
    const k = Math.floor(at / bs / perPb);
    let list = tablesIn.get(k);
    if (!list) tablesIn.set(k, (list = []));
    if (list.length < MAX_TABLES_PER_TRY) list.push(at);
  }

  for (let k = 1; k < nPieces; k++) {
    const first = k * perPb;
    const count = Math.min(perPb, nBlocks - first);
    const last = k === nPieces - 1;
    // Entry count fits the piece: the last piece lists exactly `count` blocks and nothing after.
    const fits = others.filter((p) => !taken.has(p.pbAddress) && (last ? p.end === count : p.valid >= Math.floor(count * 0.9)) && p.valid <= count);
    const dist = (p: FreedPb) => (p.type === head.type ? Math.abs(p.item - headItem) : Number.MAX_SAFE_INTEGER);
    fits.sort((a, b) => dist(a) - dist(b) || a.type - b.type || a.item - b.item);
    let best: { pb: FreedPb; list: number[]; fit: number; checked: number } | null = null;
    let ties = 0;
    for (const pb of fits.slice(0, MAX_TRIES_PER_PIECE)) {
      const list = await readPb(pb);
      if (!list) continue;
      // Only this piece's tables are read, straight through the candidate's list: a full plan per
      // try would cost the whole file's block count (hundreds of pieces under double indirection).
      let fit = 0;
      let checked = 0;
      for (const at of tablesIn.get(k) ?? []) {
        const b0 = Math.floor(at / bs);
        const b1 = Math.floor((at + COWD_TABLE_BYTES - 1) / bs);
        const vb: number[] = [];
        for (let b = b0; b <= b1; b++) {
          const v = b < first ? blocks[b]! : b < first + count ? list[b - first]! : -1;
          vb.push(v >= 0 && !use.isUsed(v) && (v + 1) * bs <= vol.size ? v : -1);
        }
        if (vb.some((v) => v < 0)) continue; // reused, hole or not yet placed: says nothing about this PB
        checked++;
        const gt = new Uint8Array(COWD_TABLE_BYTES);
        for (let off = 0; off < COWD_TABLE_BYTES; ) {
          const pos = at + off;
          const n = Math.min(COWD_TABLE_BYTES - off, bs - (pos % bs));
          gt.set(await vol.read(vb[Math.floor(pos / bs) - b0]! * bs + (pos % bs), n), off);
          off += n;
        }
        const n = cowdTableFits(gt, firstData, endSector);
        if (n > 0) fit++;
        else if (n < 0) fit--;
      }
      if (fit <= 0) continue;
      if (!best || fit > best.fit) {
        best = { pb, list, fit, checked };
        ties = 0;
      } else if (fit === best.fit) ties++;
    }
    if (!best) {
      for (let j = 0; j < count; j++) {
        blocks[first + j] = -1;
        unknown.set(first + j, `file blocks ${first}..${first + count - 1} are listed by a pointer block that was not found among the freed ones`);
      }
      continue;
    }
    taken.add(best.pb.pbAddress);
    for (let j = 0; j < count; j++) blocks[first + j] = best.list[j]!;
    pieces.push({ piece: k, pbAddress: best.pb.pbAddress, pbVolOffset: best.pb.pbVolOffset, fitTables: best.fit, checkedTables: best.checked, ties });
  }
  return { blocks, unknown, pieces };
}

/** Per later piece of a seSparse file, which of its file blocks hold grains its grain tables reference. */
async function seSparseWindows(vol: ByteSource, h: DeltaHeader, first: readonly number[], perPb: number, use: BlockUse, nPieces: number): Promise<{ need: Uint8Array[]; counts: number[]; unread: number }> {
  const bs = use.blockSize;
  const need = Array.from({ length: nPieces }, () => new Uint8Array(Math.ceil(perPb / 8)));
  const counts = new Array<number>(nPieces).fill(0);
  let unread = 0;
  // The metadata (GD, tables) precedes the grains: it is all in the first piece.
  const meta = planFromBlocks(first, Math.min(h.grainsOffset, perPb * bs), use, 'pointer-block');
  const file = rebuiltFile(vol, meta, 'windows');
  const gdLen = h.gdEntries * 8;
  if (h.gdOffset + gdLen > meta.fileSize) return { need, counts, unread };
  const gd = await file.read(h.gdOffset, gdLen);
  const grains = Math.floor(h.grainsSectors / 8);
  for (let t = 0; t < h.gdEntries; t++) {
    if (u32(gd, t * 8 + 4) !== SESPARSE_GDE_ALLOCATED_HI) continue;
    const at = h.gtOffset + u32(gd, t * 8) * SESPARSE_TABLE_BYTES;
    if (at + SESPARSE_TABLE_BYTES > meta.fileSize || lostIn(meta, at, SESPARSE_TABLE_BYTES)) {
      unread++;
      continue;
    }
    const gt = await file.read(at, SESPARSE_TABLE_BYTES);
    if (seSparseTableFits(gt, grains) < 0) {
      unread++;
      continue;
    }
    for (let i = 0; i < SESPARSE_TABLE_BYTES / 8; i++) {
      const hi = u32(gt, i * 8 + 4);
      if (hi >>> 28 !== 3) continue;
      const index = ((hi & 0xffff) * 0x1_0000_0000 + u32(gt, i * 8)) * 4096 + ((hi >>> 16) & 0xfff);
      const fb = Math.floor((h.grainsOffset + index * 4096) / bs);
      const k = Math.floor(fb / perPb);
      if (k < 1 || k >= nPieces) continue;
      const j = fb - k * perPb;
      const bit = 1 << (j & 7);
      if (!(need[k]![j >>> 3]! & bit)) {
        need[k]![j >>> 3]! |= bit;
        counts[k]!++;
      }
    }
  }
  return { need, counts, unread };
}

/**
 * seSparse pieces past the first: pointer block k lists file blocks k × perPb.., and every grain
 * the grain tables (in the first piece) place there must fall on a block it maps. A candidate
 * that leaves such a block unmapped, maps past the file end (last piece), or lists a block the
 * delta already holds is not this piece. Among those that fit: fewest mapped blocks no grain
 * needs, then fewest blocks a live file owns again, then the one whose first block follows the
 * previous piece's last (VMFS extends a growing file from where it stopped), then the closest
 * PB item; the others that fit as well are counted as ties.
 */
async function joinSeSparse(
  args: Parameters<typeof joinPointerBlocks>,
  st: { blocks: number[]; unknown: Map<number, string>; pieces: JoinedPiece[]; taken: Set<number | bigint>; nBlocks: number; nPieces: number },
): Promise<{ blocks: number[]; unknown: Map<number, string>; pieces: JoinedPiece[] }> {
  const [vol, head, others, headItem, perPb, use, readPb] = args;
  const h = head.header;
  const { blocks, unknown, pieces, taken, nBlocks, nPieces } = st;
  const held = new Set<number>(blocks.filter((b) => b >= 0));
  const { need, counts, unread } = await seSparseWindows(vol, h, blocks, perPb, use, nPieces);
  const lose = (first: number, count: number, why: string) => {
    for (let j = 0; j < count; j++) {
      blocks[first + j] = -1;
      unknown.set(first + j, why);
    }
  };
  for (let k = 1; k < nPieces; k++) {
    const first = k * perPb;
    const count = Math.min(perPb, nBlocks - first);
    const needed = counts[k]!;
    const range = `file blocks ${first}..${first + count - 1}`;
    if (needed === 0) {
      lose(first, count, `${range}: no readable grain table references a grain there, so no pointer block can be told to be theirs${unread ? ` (${unread} tables unreadable)` : ''}`);
      continue;
    }
    const isNeeded = (j: number) => ((need[k]![j >>> 3]! >>> (j & 7)) & 1) === 1;
    const dist = (p: FreedPb) => (p.type === head.type ? Math.abs(p.item - headItem) : Number.MAX_SAFE_INTEGER);
    const fits = others.filter((p) => !taken.has(p.pbAddress) && p.end <= count && p.valid >= needed);
    fits.sort((a, b) => dist(a) - dist(b) || a.type - b.type || a.item - b.item);
    const prevLast = [...blocks.slice(first - perPb, first)].reverse().find((b) => b >= 0) ?? -2;
    type Score = { pb: FreedPb; list: number[]; extra: number; reused: number; follows: number };
    let best: Score | null = null;
    let ties = 0;
    const better = (a: Score, b: Score) => a.extra - b.extra || a.reused - b.reused || b.follows - a.follows;
    for (const pb of fits.slice(0, MAX_TRIES_PER_PIECE)) {
      const list = await readPb(pb);
      if (!list) continue;
      let ok = true;
      let extra = 0;
      let reused = 0;
      for (let j = 0; j < perPb && ok; j++) {
        const b = list[j] ?? -1;
        if (b < 0) {
          if (j < count && isNeeded(j)) ok = false;
          continue;
        }
        if (j >= count || held.has(b)) ok = false;
        else {
          if (!isNeeded(j)) extra++;
          if (use.isUsed(b)) reused++;
        }
      }
      if (!ok) continue;
      const firstMapped = list.find((b) => b >= 0) ?? -1;
      const s: Score = { pb, list, extra, reused, follows: firstMapped === prevLast + 1 ? 1 : 0 };
      if (!best || better(s, best) < 0) {
        best = s;
        ties = 0;
      } else if (better(s, best) === 0) ties++;
    }
    if (!best) {
      lose(first, count, `${range} are listed by a pointer block that was not found among the freed ones (none maps every block the grain tables use there)`);
      continue;
    }
    taken.add(best.pb.pbAddress);
    for (let j = 0; j < count; j++) {
      blocks[first + j] = best.list[j]!;
      if (best.list[j]! >= 0) held.add(best.list[j]!);
    }
    pieces.push({
      piece: k,
      pbAddress: best.pb.pbAddress,
      pbVolOffset: best.pb.pbVolOffset,
      fitTables: needed,
      checkedTables: needed,
      ties,
      detail: `maps all ${needed} blocks of ${range} that hold referenced grains${best.extra ? `, and ${best.extra} that hold none` : ''}${best.follows ? '; its first block follows the previous piece' : ''}`,
    });
  }
  return { blocks, unknown, pieces };
}

export function pieceDetail(p: JoinedPiece, perPb: number): string {
  if (p.detail) return `freed pointer block ${hex(p.pbAddress, 8)} joined as piece ${p.piece}: ${p.detail}${p.ties ? `; ${p.ties} other PB(s) fit as well, the closest was taken` : ''}`;
  return `freed pointer block ${hex(p.pbAddress, 8)} joined as piece ${p.piece} (file blocks ${p.piece * perPb}..): ${p.fitTables} of ${p.checkedTables} grain tables placed there fit${p.ties ? `; ${p.ties} other PB(s) fit as well, the closest was taken` : ''}`;
}
