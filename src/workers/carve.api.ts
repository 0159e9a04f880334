/**
 * What a carve worker of the split scan (carve.worker.ts) takes and sends back: a carve job (plain
 * reads in the picked files) in, the range's evidence out. Plain data, type-checked without DOM.
 */
export type { CarveJob } from '../core/recovery/carve-job.js';
export type { RangeEvidence } from '../core/recovery/free-ranges.js';
