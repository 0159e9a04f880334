import { describe, expect, it } from 'vitest';
import { orderCandidates } from '../../src/core/recovery/chain-link.js';
import type { Candidate } from '../../src/core/recovery/candidate.js';

/** Just what the ordering reads of a candidate. */
function cand(id: string, identity: number, parent?: Candidate, completeness = 1): Candidate {
  return { id, identity, completeness, recoverableGrains: 10, headerVolOffset: Number(id.slice(1)), ...(parent ? { parentCandidate: parent } : {}) } as unknown as Candidate;
}

describe('candidate order', () => {
  it('a chain\'s newest link comes before its ancestors even when an ancestor has the higher identity', () => {
    const d1 = cand('d1', 0.9);
    const d2 = cand('d2', 0.6, d1);
    const d3 = cand('d3', 0.5, d2);
    const lone = cand('x7', 0.7);
    const out = orderCandidates([d1, lone, d2, d3]).map((c) => c.id);
    expect(out).toEqual(['d3', 'd2', 'd1', 'x7']);
  });

  it('lone candidates keep identity order, and every candidate appears once', () => {
    const a = cand('a1', 0.2);
    const b = cand('b2', 0.8);
    const p = cand('p3', 0.5);
    const k = cand('k4', 0.4, p);
    const out = orderCandidates([a, b, p, k]).map((c) => c.id);
    expect(out).toEqual(['b2', 'k4', 'p3', 'a1']);
  });

  it('equal identity: the more complete first (a 0-lost recovery before a damaged one)', () => {
    const damaged = cand('a1', 0.8, undefined, 0.14);
    const perfect = cand('b2', 0.8, undefined, 1);
    const weaker = cand('c3', 0.5, undefined, 1);
    expect(orderCandidates([damaged, weaker, perfect]).map((c) => c.id)).toEqual(['b2', 'a1', 'c3']);
  });

  it('a parent link that forms a cycle (corrupt evidence) still lists each candidate once', () => {
    const a = cand('a1', 0.5);
    const b = cand('b2', 0.4, a);
    (a as { parentCandidate?: Candidate }).parentCandidate = b;
    const out = orderCandidates([a, b]).map((c) => c.id);
    expect(out.sort()).toEqual(['a1', 'b2']);
  });
});
