import { addToBuckets } from '../util/buckets.js';
import { POINTER_FILES } from './block-owners.js';
import type { AllocationMap } from './types.js';

/** The allocation map in buckets of blocks, for drawing and for the text table. */
export interface AllocationSummary {
  blockSize: number;
  totalBlocks: number;
  freeBlocks: number;
  basis: 'bitmap' | 'reachability';
  buckets: number;
  blocksPerBucket: number;
  /** Per bucket, counts of blocks in each state; a block counts once (system > pointer > used > free). */
  used: Uint32Array;
  free: Uint32Array;
  pointer: Uint32Array;
  system: Uint32Array;
  totals: { used: number; free: number; pointer: number; system: number };
  /** Blocks each system file's data occupies. */
  systemFiles: { file: string; blocks: number; firstBlock: number }[];
  /** Resource files (.fbb .fdc .pbc .sbc ...): items held and free. */
  resources: { name: string; total: number; free: number; itemSize: number }[];
  /** Deep-scan volumes: per bucket, blocks a newer volume wrote over (counted on top of the states above). */
  overwritten?: Uint32Array;
}

/** Buckets a summary has at most. */
export const MAX_BUCKETS = 65536;

/**
 * The FS blocks of `map` in about `buckets` groups (at most MAX_BUCKETS), each block counted once;
 * `overwritten` (a previous volume's blocks a newer one wrote) is counted apart, on top.
 */
export function summarizeAllocation(map: AllocationMap, buckets: number, overwritten?: readonly { start: number; count: number }[]): AllocationSummary {
  const total = map.totalBlocks;
  const n = Math.max(1, Math.min(MAX_BUCKETS, Math.floor(buckets) || 1, total || 1));
  const per = Math.max(1, Math.ceil(total / n));
  const nb = Math.max(1, Math.ceil(total / per));
  const used = new Uint32Array(nb);
  const free = new Uint32Array(nb);
  const pointer = new Uint32Array(nb);
  const system = new Uint32Array(nb);
  const add = (arr: Uint32Array, start: number, count: number) => addToBuckets(arr, per, Math.max(0, start), Math.min(total, start + count));
  for (const r of map.runs) add(r.state === 'free' ? free : used, r.start, r.count);
  const runs = map.runs;
  const isFree = (b: number): boolean => {
    let lo = 0;
    let hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = runs[mid]!;
      if (b < r.start) hi = mid - 1;
      else if (b >= r.start + r.count) lo = mid + 1;
      else return r.state === 'free';
    }
    return false;
  };
  // System and pointer blocks are used blocks too: move them out of `used` so each block counts once.
  const sysBlocks = new Map<string, { blocks: number; firstBlock: number }>();
  const claimed = new Uint8Array(total > 0 ? Math.ceil(total / 8) : 0);
  for (const r of map.systemRuns) {
    const isPtr = POINTER_FILES.has(r.file);
    const stat = sysBlocks.get(r.file) ?? { blocks: 0, firstBlock: r.start };
    for (let b = Math.max(0, r.start); b < Math.min(total, r.start + r.count); b++) {
      if (claimed[b >>> 3]! & (1 << (b & 7))) continue;
      claimed[b >>> 3]! |= 1 << (b & 7);
      const k = Math.floor(b / per);
      (isPtr ? pointer : system)[k]! += 1;
      const from = isFree(b) ? free : used; // a system block the bitmap calls free stays visible as system
      if (from[k]! > 0) from[k]! -= 1;
      stat.blocks++;
    }
    sysBlocks.set(r.file, stat);
  }
  const sum = (a: Uint32Array) => a.reduce((x, y) => x + y, 0);
  const over = overwritten ? new Uint32Array(nb) : null;
  if (over) for (const r of overwritten!) add(over, r.start, r.count);
  return {
    blockSize: map.blockSize,
    totalBlocks: total,
    freeBlocks: map.freeBlocks,
    basis: map.basis,
    buckets: nb,
    blocksPerBucket: per,
    used,
    free,
    pointer,
    system,
    totals: { used: sum(used), free: sum(free), pointer: sum(pointer), system: sum(system) },
    systemFiles: [...sysBlocks].map(([file, s]) => ({ file, ...s })),
    resources: map.resources.map((r) => ({ name: r.name, total: r.total, free: r.free, itemSize: r.itemSize })),
    ...(over ? { overwritten: over } : {}),
  };
}
