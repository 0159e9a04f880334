/**
 * Recovery of deleted snapshot deltas from a VMFS datastore (issue 5): COWD on VMFS3/5 through
 * freed FDs, freed pointer blocks (several joined in file order) and header carving; seSparse on
 * VMFS6 through header carving; truncated dumps (absent ranges are lost runs); deleted and
 * orphan files for `ls --deleted`.
 *
 *   const r = await scanForDeltas(ds, { onProgress, signal });   // best candidate first
 *   const c = pickCandidate(r, 'delta-1234');
 *   const { disk } = await recoveredDisk(ds, c, c.parent);        // DiskChain: export or hash it
 *   const { files } = await listDeletedFiles(ds);                 // freed / orphan FDs
 */
export { scanForDeltas, buildCandidates, pickCandidate, type ScanResult, type Candidate, type VolumeSummary } from './scan.js';
export { recoveredDisk } from './recover.js';
export { CANDIDATE_PARENT, linkCandidates } from './chain-link.js';
export type { CandidateInfo, Evidence, LostRun, BlockPlan, DeltaFormat } from './types.js';
export { probeDeltaHeader, type DeltaHeader } from './delta-header.js';
export { listDeletedFiles, type DeletedFile } from './deleted-files.js';
export { carveFreeRange, planFreeRanges, mergeCarved, missingRanges, blockUseOf, MAX_RANGES, type FreeRange, type FreeRangePlan, type RangeEvidence, type CarvedHeader } from './free-ranges.js';
export { rebuiltDelta, type RebuiltDelta } from './delta-export.js';
