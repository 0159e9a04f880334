import { expect } from 'vitest';

/** What the scan ranks candidates by (after chain order). */
export interface Ranked {
  id: string;
  parent: string | null;
  identity: number;
  completeness: number;
  confidence: number;
}

/**
 * Asserts that no other candidate ties or beats `top`: each has a lower identity, or the same
 * identity and a lower completeness (the scan's order), and confidence is identity x completeness.
 * The older links of top's deleted chain (its 'candidate:' parents) follow it by chain order, whatever their scores.
 */
export function expectRanksFirst(top: Ranked, others: readonly Ranked[], label = ''): void {
  for (const c of [top, ...others]) expect(c.confidence, `${label} ${c.id}`).toBeCloseTo(c.identity * c.completeness, 2);
  const ancestors = new Set<string>();
  for (let p = top.parent; p?.startsWith('candidate:') && !ancestors.has(p.slice(10)); p = others.find((o) => o.id === p!.slice(10))?.parent ?? null) ancestors.add(p.slice(10));
  for (const o of others) {
    if (ancestors.has(o.id)) continue;
    const below = o.identity < top.identity || (o.identity === top.identity && o.completeness < top.completeness);
    expect(below, `${label} ${o.id} (identity ${o.identity}, completeness ${o.completeness}) vs ${top.id} (identity ${top.identity}, completeness ${top.completeness})`).toBe(true);
  }
}
