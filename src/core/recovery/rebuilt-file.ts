import { ExtentSource, type ByteSource, type SourceRun } from '../io/byte-source.js';
import type { BlockPlan } from './types.js';

/**
 * The rebuilt delta file as a ByteSource: file offset -> volume offset through the plan's block
 * list. Holes and lost blocks read as zeros here; the damage layer makes sure nothing read from a
 * lost block is ever used as delta content.
 */
export function rebuiltFile(vol: ByteSource, plan: BlockPlan, name: string): ByteSource {
  const runs: SourceRun[] = [];
  const bs = plan.blockSize;
  const n = Math.ceil(plan.fileSize / bs);
  for (let i = 0; i < n; i++) {
    const offset = i * bs;
    const length = Math.min(bs, plan.fileSize - offset);
    const v = plan.volOffsets[i]!;
    const usable = v >= 0 && !plan.lost.has(i) && v + length <= vol.size;
    if (!usable) {
      add(runs, offset, length, -1, vol);
      continue;
    }
    // Split around absent volume ranges (a truncated dump): those bytes read as zeros here.
    let p = 0;
    for (const a of plan.absent) {
      if (a.offset + a.length <= v + p || a.offset >= v + length) continue;
      const s = Math.max(a.offset - v, p);
      if (s > p) add(runs, offset + p, s - p, v + p, vol);
      const e = Math.min(length, a.offset + a.length - v);
      add(runs, offset + s, e - s, -1, vol);
      p = e;
    }
    if (p < length) add(runs, offset + p, length - p, v + p, vol);
  }
  return new ExtentSource(runs, plan.fileSize, name);
}

/** Appends a run (volume bytes at `v`, or zeros when v < 0), merging with the previous one. */
function add(runs: SourceRun[], offset: number, length: number, v: number, vol: ByteSource): void {
  if (length <= 0) return;
  const prev = runs[runs.length - 1];
  if (v >= 0) {
    if (prev && prev.source && prev.sourceOffset + prev.length === v) prev.length += length;
    else runs.push({ offset, length, source: vol, sourceOffset: v });
  } else if (prev && !prev.source) prev.length += length;
  else runs.push({ offset, length, source: null, sourceOffset: 0 });
}

/** First lost block touching file bytes [offset, offset + length), with its reason; null if none. */
export function lostIn(plan: BlockPlan, offset: number, length: number): string | null {
  if (plan.lost.size === 0 && plan.absent.length === 0 && offset + length <= plan.fileSize) return null;
  if (offset + length > plan.fileSize) return `delta file offset 0x${offset.toString(16)} is past the rebuilt file end`;
  const bs = plan.blockSize;
  for (let i = Math.floor(offset / bs); i <= Math.floor((offset + length - 1) / bs); i++) {
    const r = plan.lost.get(i);
    if (r) return r;
    const v = plan.volOffsets[i]!;
    if (v < 0 || plan.absent.length === 0) continue;
    const s = v + Math.max(offset, i * bs) - i * bs;
    const e = v + Math.min(offset + length, (i + 1) * bs) - i * bs;
    const a = plan.absent.find((h) => h.offset < e && h.offset + h.length > s);
    if (a) return `delta file offset 0x${Math.max(offset, i * bs, a.offset - v + i * bs).toString(16)}: ${a.reason}`;
  }
  return null;
}
