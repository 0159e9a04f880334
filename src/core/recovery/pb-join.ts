import type { ByteSource } from '../io/byte-source.js';
import { hex, u32 } from '../util/struct.js';
import { cowdTableFits, COWD_TABLE_BYTES, type DeltaHeader } from './delta-header.js';
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
}

/**
 * Joins the later pieces of a delta whose first pointer block was found (its first block holds
 * the header). The header says how many file blocks exist, so how many PBs and how many entries
 * each must list (the last one: exactly the remainder, nothing after). Among the freed PBs whose
 * entry count fits a piece, the one under which the grain tables that the GD places in that
 * piece read as tables whose pointers land inside the file is chosen; a PB under which no table
 * with data fits is never taken. Ties go to the PB item closest to the first one (in the same
 * resource file). `perPb` is the volume's entries per PB (1024 on VMFS3/5, 8192 on VMFS6).
 * seSparse is not joined: its later pieces hold only grains (the grain tables sit in the metadata
 * of the first piece), so nothing could tell a right PB from a wrong one; they stay unknown.
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
      const trial = blocks.slice();
      for (let j = 0; j < count; j++) trial[first + j] = list[j]!;
      const plan = planFromBlocks(trial, h.fileSize, use, 'pointer-block');
      const file = rebuiltFile(vol, plan, 'join');
      let fit = 0;
      let checked = 0;
      for (const at of tablesIn.get(k) ?? []) {
        const b0 = Math.floor(at / bs);
        const b1 = Math.floor((at + COWD_TABLE_BYTES - 1) / bs);
        let known = true;
        for (let b = b0; b <= b1; b++) if (plan.lost.has(b) || plan.volOffsets[b]! < 0) known = false;
        if (!known) continue; // reused or hole: says nothing about this PB
        checked++;
        const n = cowdTableFits(await file.read(at, COWD_TABLE_BYTES), firstData, endSector);
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

export function pieceDetail(p: JoinedPiece, perPb: number): string {
  return `freed pointer block ${hex(p.pbAddress, 8)} joined as piece ${p.piece} (file blocks ${p.piece * perPb}..): ${p.fitTables} of ${p.checkedTables} grain tables placed there fit${p.ties ? `; ${p.ties} other PB(s) fit as well, the closest was taken` : ''}`;
}
