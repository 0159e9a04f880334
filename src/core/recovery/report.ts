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
