import type { Candidate } from './candidate.js';
import type { guessParent } from './parent-guess.js';
import { IDENTITY_WEIGHTS as W, scoreOf, type Score, type WeightedPart } from './score.js';
import type { CandidateInfo, LostRun } from './types.js';

/** The candidate's score fields (confidence, its two parts, their reasons in words). */
export function scoreFields(s: Score): Pick<CandidateInfo, 'confidence' | 'identity' | 'completeness' | 'identityReasons' | 'completenessReasons' | 'reasons'> {
  return {
    confidence: s.confidence,
    identity: s.identity,
    completeness: s.completeness,
    identityReasons: s.identityReasons,
    completenessReasons: s.completenessReasons,
    reasons: [...s.identityReasons, ...s.completenessReasons].map((p) => p.text),
  };
}

/** Scores `c` again from its identity parts (after chain linking replaced some). */
export function rescore(c: Candidate): void {
  Object.assign(c, scoreFields(scoreOf(c.identityParts, c, c.grainBytes, lostReasons(c.lostRuns))));
}

/** The distinct reasons of lost runs, most common first (by sectors). */
export function lostReasons(runs: readonly LostRun[]): string[] {
  const by = new Map<string, number>();
  for (const r of runs) for (const x of r.reasons) by.set(x, (by.get(x) ?? 0) + r.sectors / r.reasons.length);
  return [...by.entries()].sort((a, b) => b[1] - a[1]).map(([x]) => x);
}

/** What the parent guess adds to identity. */
export function parentPart(parent: ReturnType<typeof guessParent>): WeightedPart {
  if (parent.path) {
    // The first reason is always "same capacity"; the others are the evidence that names it.
    const why = parent.reasons.slice(1);
    return why.length
      ? { key: 'parent', weight: W.parent, effect: 'for', kind: 'parent', text: `its parent is the live disk ${parent.path}: ${why.join('; ')}` }
      : { key: 'parent', weight: W.parentCapacityOnly, effect: 'for', kind: 'parent-by-capacity', text: `its parent is taken to be ${parent.path}, the only live disk of its capacity (no other evidence names it)` };
  }
  if (parent.ambiguous) {
    const n = parent.alternatives.filter((a) => a.score === parent.alternatives[0]!.score).length;
    return { key: 'parent', weight: W.parentAmbiguous, effect: 'against', kind: 'parent-ambiguous', text: `${n} live disks of its capacity fit equally as its parent: choose one` };
  }
  return { key: 'parent', weight: 0, effect: 'against', kind: 'no-parent', text: 'no live disk of its capacity is on the volume to be its parent' };
}
