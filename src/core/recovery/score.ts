/**
 * How sure a candidate is, in two parts the user decides on:
 * - identity: how sure it is that this is a delta of that disk, from the evidence found (where its
 *   block list came from, its header and grain tables, its descriptor, its parent);
 * - completeness: recoverable grains as a share of all the grains it held (recoverable, guessed
 *   and lost): a recovery with nothing lost is complete whatever its evidence.
 * confidence = identity x completeness. Each part is said in words; the weights stay internal.
 */

/** One piece of identity evidence (or its absence), said in words. */
export interface ScorePart {
  /** What was found and what it says, in words. */
  text: string;
  /** Whether it speaks for the candidate, against it, or only informs. */
  effect: 'for' | 'against' | 'note';
  /** Internal evidence kind or rule name (secondary detail: freed-fd, carved-header...). */
  kind?: string;
}

/** An identity part with its weight (internal: never shown, only summed). */
export interface WeightedPart extends ScorePart {
  /** Which rule it comes from, so a later stage (chain linking) can replace it. */
  key: IdentityKey;
  weight: number;
}

export type IdentityKey = 'source' | 'header' | 'tables' | 'descriptor' | 'parent' | 'chain-order' | 'chain-place';

/**
 * Identity weights: the full set of evidence sums to 1. The block list's source weighs most (a
 * freed FD names the file; a pointer block its blocks; a carved header only its start), then the
 * parent, then the grain tables fitting the rebuilt file, the descriptor and the header.
 */
export const IDENTITY_WEIGHTS = {
  freedFd: 0.35,
  freedPb: 0.25,
  carvedHeader: 0.1,
  header: 0.1,
  headerWithNotes: 0.05,
  tables: 0.2,
  descriptor: 0.1,
  parent: 0.25,
  parentCapacityOnly: 0.15,
  parentAmbiguous: 0.1,
  chainOrderGuessed: -0.1,
} as const;

export interface GrainCounts {
  recoverableGrains: number;
  guessedGrains: number;
  lostGrains: number;
}

export interface Score {
  identity: number;
  completeness: number;
  confidence: number;
  identityReasons: ScorePart[];
  completenessReasons: ScorePart[];
}

/** Identity from its parts: their weights summed, within 0..1. */
export function identityOf(parts: readonly WeightedPart[]): number {
  return round(clamp(parts.reduce((s, p) => s + p.weight, 0)));
}

/** recoverable / (recoverable + guessed + lost); 0 when the delta held no grain at all. */
export function completenessOf(g: GrainCounts): number {
  const total = g.recoverableGrains + g.guessedGrains + g.lostGrains;
  return total > 0 ? round(g.recoverableGrains / total) : 0;
}

/** The completeness explained: what is recovered, guessed and lost, in grains and as shares. */
export function completenessReasons(g: GrainCounts, grainBytes: number, lostWhy: readonly string[] = []): ScorePart[] {
  const total = g.recoverableGrains + g.guessedGrains + g.lostGrains;
  if (total === 0) return [{ text: 'it holds no grain data: there is nothing to recover from it', effect: 'against' }];
  const share = (n: number) => `${Math.round((n / total) * 1000) / 10} %`;
  const out: ScorePart[] = [];
  out.push({
    text: g.lostGrains === 0 && g.guessedGrains === 0
      ? `all ${total} grains it held are recovered (${mib(total * grainBytes)}): nothing is lost`
      : `${g.recoverableGrains} of its ${total} grains (${share(g.recoverableGrains)}) are recovered from blocks that a file descriptor, a pointer block or its header places`,
    effect: g.recoverableGrains > 0 ? 'for' : 'against',
  });
  if (g.guessedGrains > 0) out.push({ text: `${g.guessedGrains} grains sit in blocks placed by contiguity (${share(g.guessedGrains)}; no FD or pointer block lists them): written, but counted as guessed`, effect: 'against', kind: 'guessed' });
  if (g.lostGrains > 0) {
    const why = lostWhy.length ? `; why: ${lostWhy.slice(0, 3).join('; ')}${lostWhy.length > 3 ? `; and ${lostWhy.length - 3} more` : ''}` : '';
    out.push({ text: `${g.lostGrains} grains are lost (${share(g.lostGrains)}) and read from the parent instead (a lost grain table counts its whole range)${why}`, effect: 'against', kind: 'lost' });
  }
  return out;
}

/** The whole score of a candidate from its identity parts and grain counts. */
export function scoreOf(parts: readonly WeightedPart[], g: GrainCounts, grainBytes: number, lostWhy: readonly string[] = []): Score {
  const identity = identityOf(parts);
  const completeness = completenessOf(g);
  return {
    identity,
    completeness,
    confidence: round(identity * completeness),
    identityReasons: orderedParts(parts).map(({ text, effect, kind }) => ({ text, effect, ...(kind ? { kind } : {}) })),
    completenessReasons: completenessReasons(g, grainBytes, lostWhy),
  };
}

/** Strongest evidence first, then what speaks against, then notes. */
function orderedParts(parts: readonly WeightedPart[]): WeightedPart[] {
  const rank = (p: WeightedPart) => (p.effect === 'for' ? 0 : p.effect === 'against' ? 1 : 2);
  return [...parts].sort((a, b) => rank(a) - rank(b) || b.weight - a.weight);
}

/**
 * Ranking within the same chain position: identity first (is it that disk's delta at all), then
 * completeness (how much of it comes back). Negative when `a` ranks before `b`.
 */
export function byIdentityThenCompleteness(a: { identity: number; completeness: number }, b: { identity: number; completeness: number }): number {
  return b.identity - a.identity || b.completeness - a.completeness;
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${Math.round((bytes / (1 << 20)) * 10) / 10} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

function clamp(x: number): number {
  return Math.max(0, Math.min(1, x));
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
