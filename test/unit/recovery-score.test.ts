import { describe, expect, it } from 'vitest';
import { byIdentityThenCompleteness, completenessOf, IDENTITY_WEIGHTS as W, identityOf, scoreOf, type WeightedPart } from '../../src/core/recovery/score.js';

const part = (key: WeightedPart['key'], weight: number, text: string = key): WeightedPart => ({ key, weight, text, effect: weight > 0 ? 'for' : weight < 0 ? 'against' : 'note' });

/** The evidence of a delta whose freed FD, header, tables, descriptor and parent all survive. */
const fullEvidence = [part('source', W.freedFd), part('header', W.header), part('tables', W.tables), part('descriptor', W.descriptor), part('parent', W.parent)];
/** A delta found only by its carved header, with a parent guessed from capacity alone. */
const weakEvidence = [part('source', W.carvedHeader), part('header', W.header), part('tables', W.tables), part('parent', W.parentCapacityOnly)];

describe('candidate score: identity x completeness', () => {
  it('every kind of evidence together is full identity; each part counts; never past 0..1', () => {
    expect(identityOf(fullEvidence)).toBe(1);
    expect(identityOf(fullEvidence.slice(0, 4))).toBeLessThan(1);
    expect(identityOf([...fullEvidence, part('parent', 0.5)])).toBe(1);
    expect(identityOf([part('chain-order', W.chainOrderGuessed)])).toBe(0);
    // A freed FD's block list is stronger evidence than a pointer block's, which beats a carved header.
    expect(W.freedFd).toBeGreaterThan(W.freedPb);
    expect(W.freedPb).toBeGreaterThan(W.carvedHeader);
  });

  it('completeness is recoverable / (recoverable + guessed + lost)', () => {
    expect(completenessOf({ recoverableGrains: 1851, guessedGrains: 0, lostGrains: 11205 })).toBeCloseTo(1851 / 13056, 3);
    expect(completenessOf({ recoverableGrains: 30, guessedGrains: 10, lostGrains: 0 })).toBe(0.75);
    expect(completenessOf({ recoverableGrains: 500, guessedGrains: 0, lostGrains: 0 })).toBe(1);
    expect(completenessOf({ recoverableGrains: 0, guessedGrains: 0, lostGrains: 0 })).toBe(0);
  });

  it('confidence is the product; a 0-lost recovery is never less complete than a heavily damaged one', () => {
    const damaged = scoreOf(fullEvidence, { recoverableGrains: 1851, guessedGrains: 0, lostGrains: 11205 }, 512);
    const perfect = scoreOf(weakEvidence, { recoverableGrains: 500, guessedGrains: 0, lostGrains: 0 }, 512);
    expect(damaged.confidence).toBeCloseTo(damaged.identity * damaged.completeness, 3);
    expect(perfect.completeness).toBe(1);
    expect(perfect.completeness).toBeGreaterThan(damaged.completeness);
    // The damaged one with 86 % lost no longer outscores the perfect one.
    expect(perfect.confidence).toBeGreaterThan(damaged.confidence);
    expect(damaged.confidence).toBeLessThan(0.2);
  });

  it('ranks by identity, then completeness', () => {
    const a = { identity: 0.9, completeness: 0.1 };
    const b = { identity: 0.6, completeness: 1 };
    const c = { identity: 0.6, completeness: 0.5 };
    expect([c, b, a].sort(byIdentityThenCompleteness)).toEqual([a, b, c]);
  });

  it('says each part in words: no raw weights or sums, internal kinds only as secondary detail', () => {
    const s = scoreOf(
      [{ key: 'source', weight: W.freedFd, effect: 'for', kind: 'freed-fd', text: 'its block list survived in a freed file descriptor (FD <0x1>)' }, part('chain-order', W.chainOrderGuessed, 'its place in the chain is a guess')],
      { recoverableGrains: 10, guessedGrains: 3, lostGrains: 7 },
      65536,
    );
    expect(s.identityReasons[0]).toEqual({ text: 'its block list survived in a freed file descriptor (FD <0x1>)', effect: 'for', kind: 'freed-fd' });
    expect(s.identityReasons.map((r) => r.effect)).toEqual(['for', 'against']);
    const all = [...s.identityReasons, ...s.completenessReasons].map((r) => r.text).join('\n');
    expect(all).not.toMatch(/[+-]0\.\d/);
    expect(all).not.toMatch(/freed-fd|carved-header/);
    expect(all).toMatch(/10 of its 20 grains \(50 %\) are recovered/);
    expect(all).toMatch(/3 grains sit in blocks placed by contiguity \(15 %;/);
    expect(all).toMatch(/7 grains are lost \(35 %\)/);
  });

  it('a delta that held nothing is said to hold nothing', () => {
    const s = scoreOf(fullEvidence, { recoverableGrains: 0, guessedGrains: 0, lostGrains: 0 }, 512);
    expect(s.confidence).toBe(0);
    expect(s.completenessReasons[0]!.text).toMatch(/no grain data/);
  });
});
