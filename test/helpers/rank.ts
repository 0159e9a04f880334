import { expect } from 'vitest';

/** What the scan ranks candidates by (after chain order). */
export interface Ranked {
  id: string;
  identity: number;
  completeness: number;
  confidence: number;
}

/**
 * Asserts that no other candidate ties or beats `top`: each has a lower identity, or the same
 * identity and a lower completeness (the scan's order), and confidence is identity x completeness.
 */
export function expectRanksFirst(top: Ranked, others: readonly Ranked[], label = ''): void {
  for (const c of [top, ...others]) expect(c.confidence, `${label} ${c.id}`).toBeCloseTo(c.identity * c.completeness, 2);
  for (const o of others) {
    const below = o.identity < top.identity || (o.identity === top.identity && o.completeness < top.completeness);
    expect(below, `${label} ${o.id} (identity ${o.identity}, completeness ${o.completeness}) vs ${top.id} (identity ${top.identity}, completeness ${top.completeness})`).toBe(true);
  }
}
