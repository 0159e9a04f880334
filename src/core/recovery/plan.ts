import { hex } from '../util/struct.js';
import type { ByteSource } from '../io/byte-source.js';
import { cowdTableFits, COWD_TABLE_BYTES, SESPARSE_GDE_ALLOCATED_HI, SESPARSE_TABLE_BYTES, seSparseTableFits, type DeltaHeader } from './delta-header.js';
import type { BlockUse } from './free-map.js';
import { lostIn, rebuiltFile } from './rebuilt-file.js';
import type { BlockPlan } from './types.js';
import type { Rejections } from './rejected.js';
import { u32 } from '../util/struct.js';

/** Reason text for a block now owned by a live file. */
export function reusedReason(block: number): string {
  return `FS block ${block} is now allocated to a live file`;
}

/**
 * A plan from an ordered list of volume block numbers (an FD's or a pointer block's list; -1 =
 * hole or unknown with its reason in `unknown`). Blocks the bitmap now marks used are lost.
 */
export function planFromBlocks(
  blocks: readonly number[],
  fileSize: number,
  use: BlockUse,
  method: BlockPlan['method'],
  unknown: ReadonlyMap<number, string> = new Map(),
): BlockPlan {
  const bs = use.blockSize;
  const n = Math.ceil(fileSize / bs);
  const volOffsets = new Float64Array(n).fill(-1);
  const lost = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const why = unknown.get(i);
    if (why) {
      lost.set(i, why);
      continue;
    }
    const b = blocks[i];
    if (b === undefined || b < 0) continue;
    volOffsets[i] = b * bs;
    if (use.isUsed(b)) lost.set(i, reusedReason(b));
    else {
      // A block wholly outside the dump is lost as a whole; a partly absent one is split by lostIn.
      const len = Math.min(bs, fileSize - i * bs);
      const h = use.absent.find((a) => a.offset <= b * bs && b * bs + len <= a.offset + a.length);
      if (h) lost.set(i, `FS block ${b}: ${h.reason}`);
    }
  }
  const absent = use.absent.filter((a) => [...volOffsets].some((v) => v >= 0 && v < a.offset + a.length && v + bs > a.offset));
  return { fileSize, blockSize: bs, volOffsets, lost, method, absent };
}

/** Why a block placed by contiguity counts as guessed (one text, so guessed runs merge). */
export const CONTIGUITY_GUESS = 'placed by contiguity from the header block: no FD or pointer block lists it';

/**
 * Blind contiguity from the header block, then checked with the delta's own metadata: every grain
 * table the GD names must read, at its guessed place, as a table whose grain pointers land inside
 * the file. A table that does not fit marks its block as lost (the guess is wrong there), so its
 * grains read from the parent instead of from whatever the guessed block holds.
 * Returns the plan and how many tables fit / were checked.
 */
export async function planContiguous(vol: ByteSource, headerBlock: number, h0: DeltaHeader, use: BlockUse, rejected?: Rejections): Promise<{ plan: BlockPlan; tablesFit: number; tablesChecked: number; header: DeltaHeader }> {
  const bs = use.blockSize;
  let h = h0;
  if (h.format === 'seSparse') {
    // Metadata first (it precedes the grains), then the file size its grain tables imply.
    const n0 = Math.ceil(h.fileSize / bs);
    const meta = planFromBlocks(Array.from({ length: n0 }, (_, i) => (headerBlock + i < use.totalBlocks ? headerBlock + i : -1)), h.fileSize, use, 'contiguous');
    h = { ...h, fileSize: Math.min(await seSparseDataEnd(vol, meta, h), (vol.size - headerBlock * bs)) };
  }
  const n = Math.ceil(h.fileSize / bs);
  const blocks: number[] = [];
  for (let i = 0; i < n; i++) blocks.push(headerBlock + i < use.totalBlocks ? headerBlock + i : -1);
  const unknown = new Map<number, string>();
  for (let i = 0; i < n; i++) if (blocks[i]! < 0) unknown.set(i, `contiguous guess runs past the volume end at file block ${i}`);
  const plan = planFromBlocks(blocks, h.fileSize, use, 'contiguous', unknown);
  // Only the header block's place is known (the header was found there); every later block is
  // placed by contiguity, which a fitting grain table makes likely but does not prove.
  const guessed = new Map<number, string>();
  for (let i = 1; i < n; i++) if (!plan.lost.has(i)) guessed.set(i, CONTIGUITY_GUESS);
  plan.guessed = guessed;
  const { fit, checked } = await checkTables(vol, plan, h, true, rejected);
  for (const i of plan.lost.keys()) guessed.delete(i);
  return { plan, tablesFit: fit, tablesChecked: checked, header: h };
}

/**
 * Reads the GD and every GT through the plan and checks that each table fits; with `markMisfits`,
 * the block holding a table that does not fit is marked lost. Bounded by the GD size (≤ 2^20 entries).
 */
export async function checkCowdTables(vol: ByteSource, plan: BlockPlan, h: DeltaHeader, markMisfits: boolean, rejected?: Rejections): Promise<{ fit: number; checked: number }> {
  const file = rebuiltFile(vol, plan, 'probe');
  const endSector = Math.floor(h.fileSize / 512);
  const firstData = Math.ceil((h.gdOffset + h.gdEntries * 4) / 512);
  let fit = 0;
  let checked = 0;
  const gdLen = h.gdEntries * 4;
  if (h.gdOffset + gdLen > h.fileSize) return { fit, checked };
  const gd = await file.read(h.gdOffset, gdLen);
  const tables: { t: number; at: number }[] = [];
  for (let t = 0; t < h.gdEntries; t++) {
    const gde = u32(gd, t * 4);
    if (gde <= 1) continue;
    const at = gde * 512;
    if (at + COWD_TABLE_BYTES > h.fileSize) continue;
    tables.push({ t, at });
  }
  for await (const { t, at, bytes } of tablesAhead(file, plan, tables, COWD_TABLE_BYTES)) {
    checked++;
    if (cowdTableFits(bytes, firstData, endSector) >= 0) fit++;
    else misfit(plan, t, at, COWD_TABLE_BYTES, markMisfits, rejected);
  }
  return { fit, checked };
}

/** Grain-table reads kept in flight by tablesAhead (each is a round trip for a browser Blob). */
const TABLES_AHEAD = 16;

/**
 * The `tables` (`bytes` each, read through `file`) whose blocks the plan places and has not marked
 * lost, in order, TABLES_AHEAD reads in flight. Whether a table is placed is decided as it comes up
 * (a misfit before it may have marked its block lost meanwhile), not when its read is started.
 */
async function* tablesAhead(file: ByteSource, plan: BlockPlan, tables: readonly { t: number; at: number }[], bytes: number): AsyncGenerator<{ t: number; at: number; bytes: Uint8Array }> {
  const bs = plan.blockSize;
  const placed = (at: number) => {
    for (let i = Math.floor(at / bs); i <= Math.floor((at + bytes - 1) / bs); i++) if (plan.lost.has(i) || plan.volOffsets[i]! < 0) return false;
    return true; // else already lost: the damage layer reports the whole table
  };
  const reads = new Map<number, Promise<Uint8Array>>();
  let next = 0;
  try {
    for (let k = 0; k < tables.length; k++) {
      for (; next < tables.length && next < k + TABLES_AHEAD; next++) {
        if (!placed(tables[next]!.at)) continue;
        const p = file.read(tables[next]!.at, bytes);
        p.catch(() => {}); // awaited below, or dropped with its table
        reads.set(next, p);
      }
      const r = reads.get(k);
      reads.delete(k);
      if (!r || !placed(tables[k]!.at)) continue;
      yield { ...tables[k]!, bytes: await r };
    }
  } finally {
    reads.clear();
  }
}

/** checkCowdTables or checkSeSparseTables, by the header's format. */
export function checkTables(vol: ByteSource, plan: BlockPlan, h: DeltaHeader, markMisfits: boolean, rejected?: Rejections): Promise<{ fit: number; checked: number }> {
  return h.format === 'seSparse' ? checkSeSparseTables(vol, plan, h, markMisfits, rejected) : checkCowdTables(vol, plan, h, markMisfits, rejected);
}

/** A grain table that does not fit at its place: a rejected remnant, and with `mark` its blocks are lost. */
function misfit(plan: BlockPlan, t: number, at: number, bytes: number, mark: boolean, rejected: Rejections | undefined): void {
  const bs = plan.blockSize;
  const first = Math.floor(at / bs);
  const last = Math.floor((at + bytes - 1) / bs);
  rejected?.add('grain-table', plan.volOffsets[first]! + (at - first * bs), `grain table ${t} at file offset ${hex(at)} holds entries outside the delta (or used twice)${mark ? ': its blocks are counted lost' : ''}`);
  if (mark) for (let i = first; i <= last; i++) plan.lost.set(i, `grain table ${t} at file offset ${hex(at)} does not fit at the guessed block (volume ${hex(plan.volOffsets[i]!)})`);
}

/**
 * The seSparse counterpart of checkCowdTables: every GT slot the GD names is read through the
 * plan and must hold only valid entries whose grain indices fall inside the grain area.
 */
export async function checkSeSparseTables(vol: ByteSource, plan: BlockPlan, h: DeltaHeader, markMisfits: boolean, rejected?: Rejections): Promise<{ fit: number; checked: number }> {
  const file = rebuiltFile(vol, plan, 'probe');
  let fit = 0;
  let checked = 0;
  const gdLen = h.gdEntries * 8;
  if (h.gdOffset + gdLen > h.fileSize) return { fit, checked };
  const gd = await file.read(h.gdOffset, gdLen);
  const grains = Math.floor(h.grainsSectors / 8);
  const tables: { t: number; at: number }[] = [];
  for (let t = 0; t < h.gdEntries; t++) {
    if (u32(gd, t * 8 + 4) !== SESPARSE_GDE_ALLOCATED_HI) continue;
    const at = h.gtOffset + u32(gd, t * 8) * SESPARSE_TABLE_BYTES;
    if (at + SESPARSE_TABLE_BYTES > h.fileSize) continue;
    tables.push({ t, at });
  }
  for await (const { t, at, bytes } of tablesAhead(file, plan, tables, SESPARSE_TABLE_BYTES)) {
    checked++;
    if (seSparseTableFits(bytes, grains) >= 0) fit++;
    else misfit(plan, t, at, SESPARSE_TABLE_BYTES, markMisfits, rejected);
  }
  return { fit, checked };
}

/**
 * End of a seSparse file as its grain tables imply it: the grain area start plus the highest
 * grain index any readable table uses, bounded by the reserved area. Tables that cannot be read
 * (lost blocks) are skipped: their grains are reported lost anyway.
 */
export async function seSparseDataEnd(vol: ByteSource, meta: BlockPlan, h: DeltaHeader): Promise<number> {
  const file = rebuiltFile(vol, meta, 'probe');
  const gdLen = h.gdEntries * 8;
  if (h.gdOffset + gdLen > meta.fileSize) return h.grainsOffset;
  const gd = await file.read(h.gdOffset, gdLen);
  const grains = Math.floor(h.grainsSectors / 8);
  let max = -1;
  for (let t = 0; t < h.gdEntries; t++) {
    if (u32(gd, t * 8 + 4) !== SESPARSE_GDE_ALLOCATED_HI) continue;
    const at = h.gtOffset + u32(gd, t * 8) * SESPARSE_TABLE_BYTES;
    if (at + SESPARSE_TABLE_BYTES > meta.fileSize || lostIn(meta, at, SESPARSE_TABLE_BYTES)) continue;
    const gt = await file.read(at, SESPARSE_TABLE_BYTES);
    if (seSparseTableFits(gt, grains) < 0) continue; // not a table: says nothing about the size
    for (let i = 0; i < SESPARSE_TABLE_BYTES / 8; i++) {
      const lo = u32(gt, i * 8);
      const hi = u32(gt, i * 8 + 4);
      if (hi >>> 28 !== 3) continue;
      max = Math.max(max, ((hi & 0xffff) * 0x1_0000_0000 + lo) * 4096 + ((hi >>> 16) & 0xfff));
    }
  }
  return h.grainsOffset + (max + 1) * 4096;
}
