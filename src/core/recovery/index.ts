/**
 * Recovery of deleted snapshot deltas from a VMFS datastore (issue 5, first slice: VMFS3/5, COWD).
 *
 *   const r = await scanForDeltas(ds, { onProgress, signal });   // best candidate first
 *   const c = pickCandidate(r, 'delta-1234');
 *   const { disk } = await recoveredDisk(ds, c, c.parent);        // DiskChain: export or hash it
 */
export { scanForDeltas, pickCandidate, type ScanResult, type Candidate, type VolumeSummary } from './scan.js';
export { recoveredDisk } from './recover.js';
export type { CandidateInfo, Evidence, LostRun, BlockPlan, DeltaFormat } from './types.js';
export { probeDeltaHeader, type DeltaHeader } from './delta-header.js';
