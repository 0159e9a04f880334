import type { Candidate } from './candidate.js';
import type { ScanResult, VolumeSummary } from './scan.js';
import { descriptorInfo } from './text-carving.js';
import type { CandidateInfo } from './types.js';

/** The totals of a recovery report (the CLI's `recover --report` and the app's JSON report). */
export function candidateTotals(c: CandidateInfo): { capacityBytes: number; recoverableGrains: number; guessedGrains: number; lostGrains: number; grainBytes: number; lostBytes: number; guessedBytes: number } {
  return {
    capacityBytes: c.capacityBytes,
    recoverableGrains: c.recoverableGrains,
    guessedGrains: c.guessedGrains,
    lostGrains: c.lostGrains,
    grainBytes: c.grainBytes,
    lostBytes: c.lostRuns.reduce((n, x) => n + x.sectors * 512, 0),
    guessedBytes: c.guessedRuns.reduce((n, x) => n + x.sectors * 512, 0),
  };
}

/**
 * The plain data of a candidate: what the CLI's JSON (`scan --json`, `recover --report`) and the
 * app's worker messages and report carry. No layer, plan or header: those stay where the scan ran.
 * Public contract: keys are extended, never renamed.
 */
export function candidateInfo(c: Candidate): CandidateInfo {
  return {
    id: c.id,
    format: c.format,
    capacityBytes: c.capacityBytes,
    sizeBytes: c.sizeBytes,
    confidence: c.confidence,
    identity: c.identity,
    completeness: c.completeness,
    parent: c.parent,
    parentAmbiguous: c.parentAmbiguous,
    parentAlternatives: c.parentAlternatives.map((a) => ({ ...a, reasons: [...a.reasons] })),
    evidence: c.evidence.map((e) => ({ ...e })),
    recoverableGrains: c.recoverableGrains,
    guessedGrains: c.guessedGrains,
    lostGrains: c.lostGrains,
    grainBytes: c.grainBytes,
    method: c.method,
    reasons: [...c.reasons],
    identityReasons: c.identityReasons.map((p) => ({ ...p })),
    completenessReasons: c.completenessReasons.map((p) => ({ ...p })),
    parentReasons: [...c.parentReasons],
    lostRuns: c.lostRuns.map((r) => ({ ...r })),
    guessedRuns: c.guessedRuns.map((r) => ({ ...r })),
    headerVolOffset: c.headerVolOffset,
    ...(c.descriptor ? { descriptor: descriptorInfo(c.descriptor) } : {}),
  };
}

/** What a recovery wrote, for its report. */
export interface ReportOutput {
  format: string;
  files: string[];
  bytesWritten: number;
  verified: boolean;
}

/**
 * The JSON damage report of a candidate recovered as a disk (`recover --report`, the app's
 * report): the volume, the candidate, its parent, lost runs and totals, and once written the
 * output and its hash. `parentChain` is the CLI's (links under the candidate), absent in the app.
 */
export function recoveryReport(r: { volume: VolumeSummary; warnings: readonly string[] }, c: Candidate, parent: string | null, extra: { tool?: string; parentChain?: string[]; output: ReportOutput | null; sha256: string | null; warnings: readonly string[] }): object {
  return {
    ...(extra.tool ? { tool: extra.tool } : {}),
    volume: r.volume,
    candidate: candidateInfo(c),
    parent,
    ...(extra.parentChain ? { parentChain: extra.parentChain } : {}),
    lostRuns: c.lostRuns,
    totals: candidateTotals(c),
    output: extra.output,
    hashes: extra.sha256 !== null ? { logicalSha256: extra.sha256 } : null,
    warnings: [...r.warnings, ...extra.warnings],
  };
}

/** The JSON of a scan (`scan --json`): the volume, candidates as candidateInfo, and what was not used. */
export function scanJson(r: ScanResult): object {
  return { volume: r.volume, candidates: r.candidates.map(candidateInfo), unassembled: r.unassembled, rejected: r.rejected, rejectedCount: r.rejectedCount, warnings: r.warnings };
}
