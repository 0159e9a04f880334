/**
 * Recovery of deleted snapshot deltas from a VMFS datastore: COWD (VMFS3/5) and
 * seSparse (VMFS6) through freed FDs and freed pointer blocks (VMFS6: 8 KiB FDs, u64 addresses,
 * pointer blocks held in 64 KiB sub-blocks; later COWD pieces joined in file order), header
 * carving, and descriptor / `.vmsd` text carved from free space (parent hints); truncated dumps
 * (absent ranges are lost runs); deleted and orphan files for `ls --deleted`.
 *
 *   const r = await scanForDeltas(ds, { onProgress, signal });   // best candidate first
 *   const c = pickCandidate(r, 'delta-1234');
 *   const { disk } = await recoveredDisk(ds, c, c.parent);        // DiskChain: export or hash it
 *   const { files } = await listDeletedFiles(ds);                 // freed / orphan FDs
 */
export { scanForDeltas, buildCandidates, pickCandidate, precheckCandidateId, type ScanResult, type VolumeSummary } from './scan.js';
export type { Candidate } from './candidate.js';
export { recoveredDisk, ambiguousParentMessage } from './recover.js';
export { DamagedDeltaLayer } from './damage-layer.js';
export { CANDIDATE_PARENT, linkCandidates, orderCandidates } from './chain-link.js';
export type { CandidateInfo, Evidence, LostRun, GuessedRun, ParentAlternative, BlockPlan, DeltaFormat, DescriptorInfo, RejectedRemnant, RemnantKind } from './types.js';
export { MAX_REJECTED } from './rejected.js';
export { descriptorInfo, type DescriptorRemnant, type VmsdRemnant, type TextLocation, type TextKind } from './text-carving.js';
export { probeDeltaHeader, type DeltaHeader } from './delta-header.js';
export { listDeletedFiles, type DeletedFile } from './deleted-files.js';
export { carveFreeRange, planFreeRanges, mergeCarved, mergeCarvedTexts, mergeCarvedRejected, missingRanges, blockUseOf, MAX_RANGES, type FreeRange, type FreeRangePlan, type RangeEvidence, type CarvedHeader, type CarvedText } from './free-ranges.js';
export { rebuiltDelta, type RebuiltDelta } from './delta-export.js';
export { candidateInfo, candidateTotals, recoveryReport, scanJson, type ReportOutput } from './report.js';
export { grainDamageMap, GRAIN_BUCKETS, type GrainDamageMap } from './grain-damage-map.js';
export { surveyLive, type LiveDisk } from './parent-guess.js';
export { parentOptions, type ParentOption } from './parent-options.js';
