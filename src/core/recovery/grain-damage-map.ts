import { throwIfAborted } from '../errors.js';
import { addToBuckets } from '../util/buckets.js';
import type { Candidate } from './candidate.js';
import { DamagedDeltaLayer } from './damage-layer.js';

/** Per bucket of the virtual disk, grains of a candidate by where their content comes from. */
export interface GrainDamageMap {
  buckets: number;
  grainsPerBucket: number;
  totalGrains: number;
  grainBytes: number;
  /** Held by the rebuilt delta and intact. */
  recovered: Uint32Array;
  /** Held by the rebuilt delta in blocks placed by contiguity (no FD or pointer block lists them): written, but guessed. */
  guessed: Uint32Array;
  /** Written in the delta but lost (block reused, past the dump's end...): read from the parent. */
  lost: Uint32Array;
  /** Never written in the delta: read from the parent, as they always were. */
  parent: Uint32Array;
  /** Marked zero in the delta (a zeroed grain): read as zeros, the parent is not consulted. */
  zero: Uint32Array;
}

/** Cells of a candidate's grain map. */
export const GRAIN_BUCKETS = 1024;

/** Where each grain of a candidate comes from, summed per bucket of the virtual disk (one walk of its tables). */
export async function grainDamageMap(c: Candidate, signal?: AbortSignal): Promise<GrainDamageMap> {
  const g = c.grainBytes;
  const totalGrains = Math.ceil(c.capacityBytes / g);
  const buckets = Math.max(1, Math.min(GRAIN_BUCKETS, totalGrains));
  const per = Math.max(1, Math.ceil(totalGrains / buckets));
  const nb = Math.max(1, Math.ceil(totalGrains / per));
  const m: GrainDamageMap = { buckets: nb, grainsPerBucket: per, totalGrains, grainBytes: g, recovered: new Uint32Array(nb), guessed: new Uint32Array(nb), lost: new Uint32Array(nb), parent: new Uint32Array(nb), zero: new Uint32Array(nb) };
  // 256 grain tables per call: bounded by the GD, like the core's damage report.
  const step = 256 * 4096 * g;
  for (let pos = 0; pos < c.capacityBytes; pos += step) {
    throwIfAborted(signal);
    for (const e of await c.layer.mapRange(pos, Math.min(step, c.capacityBytes - pos))) {
      const parts = e.kind === 'data' && c.layer instanceof DamagedDeltaLayer ? await c.layer.guessedParts(e.offset, e.length, e.sourceOffset) : [{ offset: e.offset, length: e.length, reason: null }];
      for (const p of parts) {
        const first = Math.floor(p.offset / g);
        const end = Math.min(totalGrains, Math.ceil((p.offset + p.length) / g));
        addToBuckets(e.kind === 'data' ? (p.reason === null ? m.recovered : m.guessed) : e.kind === 'missing' ? m.lost : e.kind === 'zero' ? m.zero : m.parent, per, first, end);
      }
    }
  }
  return m;
}
