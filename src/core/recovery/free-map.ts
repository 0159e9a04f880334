import type { AllocationMap, VolumeHole } from '../vmfs/index.js';

/** A volume byte range whose dump is absent, and what to call it in a lost run. */
export interface AbsentRange {
  offset: number;
  length: number;
  reason: string;
}

/** Reason text of a volume range that is not in the supplied dumps. */
export function holeReason(h: VolumeHole, volumeSize: number): string {
  return h.offset + h.length >= volumeSize ? 'beyond end of dump' : `in volume range 0x${h.offset.toString(16)}+0x${h.length.toString(16)} whose dump was not supplied`;
}

/** FS-block allocation as a bitset (1 = in use), from the datastore's allocation map runs. */
export class BlockUse {
  private readonly bits: Uint8Array;
  readonly freeBlocks: number;
  constructor(
    readonly blockSize: number,
    readonly totalBlocks: number,
    runs: AllocationMap['runs'],
    readonly basis: AllocationMap['basis'],
    /** Volume ranges not in the dump (truncated dump, missing LUN). */
    readonly absent: readonly AbsentRange[] = [],
  ) {
    this.bits = new Uint8Array(Math.ceil(totalBlocks / 8));
    let free = 0;
    for (const r of runs) {
      if (r.state === 'free') {
        free += r.count;
        continue;
      }
      for (let b = r.start; b < Math.min(totalBlocks, r.start + r.count); b++) this.bits[b >>> 3]! |= 1 << (b & 7);
    }
    this.freeBlocks = free;
  }

  isUsed(block: number): boolean {
    if (!Number.isSafeInteger(block) || block < 0 || block >= this.totalBlocks) return true; // outside: never ours to take
    return ((this.bits[block >>> 3]! >>> (block & 7)) & 1) === 1;
  }

  /** Free blocks in ascending order. */
  *free(): Generator<number> {
    for (let b = 0; b < this.totalBlocks; b++) if (!this.isUsed(b)) yield b;
  }
}
