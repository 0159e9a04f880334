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
    const prev = runs[runs.length - 1];
    if (usable) {
      if (prev && prev.source && prev.sourceOffset + prev.length === v) prev.length += length;
      else runs.push({ offset, length, source: vol, sourceOffset: v });
    } else if (prev && !prev.source) prev.length += length;
    else runs.push({ offset, length, source: null, sourceOffset: 0 });
  }
  return new ExtentSource(runs, plan.fileSize, name);
}

/** First lost block touching file bytes [offset, offset + length), with its reason; null if none. */
export function lostIn(plan: BlockPlan, offset: number, length: number): string | null {
  if (plan.lost.size === 0 && offset + length <= plan.fileSize) return null;
  if (offset + length > plan.fileSize) return `delta file offset 0x${offset.toString(16)} is past the rebuilt file end`;
  const bs = plan.blockSize;
  for (let i = Math.floor(offset / bs); i <= Math.floor((offset + length - 1) / bs); i++) {
    const r = plan.lost.get(i);
    if (r) return r;
  }
  return null;
}
