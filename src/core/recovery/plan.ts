import { hex } from '../util/struct.js';
import type { ByteSource } from '../io/byte-source.js';
import { cowdTableFits, COWD_TABLE_BYTES, type DeltaHeader } from './delta-header.js';
import type { BlockUse } from './free-map.js';
import { rebuiltFile } from './rebuilt-file.js';
import type { BlockPlan } from './types.js';
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
  }
  return { fileSize, blockSize: bs, volOffsets, lost, method };
}

/**
 * Blind contiguity from the header block, then checked with the delta's own metadata: every grain
 * table the GD names must read, at its guessed place, as a table whose grain pointers land inside
 * the file. A table that does not fit marks its block as lost (the guess is wrong there), so its
 * grains read from the parent instead of from whatever the guessed block holds.
 * Returns the plan and how many tables fit / were checked.
 */
export async function planContiguous(vol: ByteSource, headerBlock: number, h: DeltaHeader, use: BlockUse): Promise<{ plan: BlockPlan; tablesFit: number; tablesChecked: number }> {
  const bs = use.blockSize;
  const n = Math.ceil(h.fileSize / bs);
  const blocks: number[] = [];
  for (let i = 0; i < n; i++) blocks.push(headerBlock + i < use.totalBlocks ? headerBlock + i : -1);
  const unknown = new Map<number, string>();
  for (let i = 0; i < n; i++) if (blocks[i]! < 0) unknown.set(i, `contiguous guess runs past the volume end at file block ${i}`);
  const plan = planFromBlocks(blocks, h.fileSize, use, 'contiguous', unknown);
  if (h.format !== 'vmfsSparse') return { plan, tablesFit: 0, tablesChecked: 0 };
  const { fit, checked } = await checkCowdTables(vol, plan, h, true);
  return { plan, tablesFit: fit, tablesChecked: checked };
}

/**
 * Reads the GD and every GT through the plan and checks that each table fits; with `markMisfits`,
 * the block holding a table that does not fit is marked lost. Bounded by the GD size (≤ 2^20 entries).
 */
export async function checkCowdTables(vol: ByteSource, plan: BlockPlan, h: DeltaHeader, markMisfits: boolean): Promise<{ fit: number; checked: number }> {
  const file = rebuiltFile(vol, plan, 'probe');
  const endSector = Math.floor(h.fileSize / 512);
  const firstData = Math.ceil((h.gdOffset + h.gdEntries * 4) / 512);
  let fit = 0;
  let checked = 0;
  const gdLen = h.gdEntries * 4;
  if (h.gdOffset + gdLen > h.fileSize) return { fit, checked };
  const gd = await file.read(h.gdOffset, gdLen);
  const bs = plan.blockSize;
  for (let t = 0; t < h.gdEntries; t++) {
    const gde = u32(gd, t * 4);
    if (gde <= 1) continue;
    const at = gde * 512;
    if (at + COWD_TABLE_BYTES > h.fileSize) continue;
    const first = Math.floor(at / bs);
    const last = Math.floor((at + COWD_TABLE_BYTES - 1) / bs);
    let known = true;
    for (let i = first; i <= last; i++) if (plan.lost.has(i) || plan.volOffsets[i]! < 0) known = false;
    if (!known) continue; // already lost: the damage layer reports the whole table
    checked++;
    if (cowdTableFits(await file.read(at, COWD_TABLE_BYTES), firstData, endSector) >= 0) fit++;
    else if (markMisfits) {
      for (let i = first; i <= last; i++) plan.lost.set(i, `grain table ${t} at file offset ${hex(at)} does not fit at the guessed block (volume ${hex(plan.volOffsets[i]!)})`);
    }
  }
  return { fit, checked };
}
