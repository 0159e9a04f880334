import { MAX_STRIPE, MIN_STRIPE } from './layout.js';

/**
 * The statistics fallback for the stripe size, used only when the landmarks leave several stripe
 * sizes standing. Data is written to a LUN in blocks, so a run of nonzero sectors mostly starts at
 * a block boundary; on a member, a chunk boundary is also where the LUN region it holds jumps. The
 * zero-to-nonzero transitions ("rises") of a member, counted from its data start, therefore fall
 * on multiples of the stripe size, and only about half of them on multiples of twice the stripe.
 * Guest file systems that start data at 4 KiB granularity inside chunks blur this: then no stripe
 * passes the thresholds and the fallback says nothing.
 */
export interface StripeStat {
  stripe: number;
  /** Rises counted (all members). */
  rises: number;
  /** Share of them on multiples of `stripe`, and of twice it. */
  share: number;
  shareDouble: number;
}

/** Below this, data and file-system blocks align rises by themselves: the statistic never names a smaller stripe. */
const MIN_STAT_STRIPE = 4096;
/** Rises needed before the statistic says anything. */
const MIN_RISES = 32;
/** Share of rises that must sit on stripe boundaries. */
const ALIGNED = 0.8;
/** At most this share of the stripe-aligned rises may sit on double-stripe boundaries (half is expected). */
const DOUBLE = 0.75;

/** The stripe size the rises point to, given each member's data start (null = unknown member); null when they do not tell. */
export function stripeFromRises(rises: readonly (readonly number[])[], offsets: readonly (number | null)[]): StripeStat | null {
  const rel: number[] = [];
  rises.forEach((list, m) => {
    const off = offsets[m];
    if (off === null || off === undefined) return;
    for (const p of list) if (p > off) rel.push(p - off);
  });
  if (rel.length < MIN_RISES) return null;
  const shareAt = (s: number) => rel.reduce((n, x) => n + (x % s === 0 ? 1 : 0), 0) / rel.length;
  let best = 0;
  for (let s = MIN_STRIPE; s <= MAX_STRIPE; s *= 2) if (shareAt(s) >= ALIGNED) best = s;
  if (best < MIN_STAT_STRIPE) return null;
  const share = shareAt(best);
  const shareDouble = best * 2 <= MAX_STRIPE ? shareAt(best * 2) : 0;
  // Rises aligned beyond the largest stripe (or evenly at every size) say nothing about the stripe.
  if (best === MAX_STRIPE || shareDouble > share * DOUBLE) return null;
  return { stripe: best, rises: rel.length, share, shareDouble };
}
