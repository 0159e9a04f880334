import { describe, expect, it } from 'vitest';
import { probeHeaderRemnant } from '../../src/core/recovery/delta-header.js';
import { mergeCarvedRejected, type RangeEvidence } from '../../src/core/recovery/free-ranges.js';
import { MAX_REJECTED, Rejections } from '../../src/core/recovery/rejected.js';

/** Rejected remnants: bounded list, full count, and why a block with a header magic is not taken. */
describe('rejected remnants', () => {
  it('keeps the first MAX_REJECTED, counts all, counts one structure once', () => {
    const r = new Rejections();
    for (let i = 0; i < 250; i++) r.add('fd', i * 2048, `slot ${i}`);
    r.add('fd', 0, 'again');
    expect(r.count).toBe(250);
    expect(r.list.length).toBe(MAX_REJECTED);
    expect(r.list[0]).toEqual({ kind: 'fd', volOffset: 0, reason: 'slot 0' });
  });

  it('merges range results: counts add up, the list is in volume order', () => {
    const range = (offsets: number[], count: number): RangeEvidence => ({ range: { startBlock: 0, endBlock: 1 }, freeBlocks: 0, freeBytes: 0, headers: [], rejected: offsets.map((volOffset) => ({ kind: 'cowd-header', volOffset, reason: 'x' })), rejectedCount: count });
    const m = mergeCarvedRejected([range([5 << 20, 7 << 20], 2), range([1 << 20], 300), { range: { startBlock: 1, endBlock: 2 }, freeBlocks: 0, freeBytes: 0, headers: [] }]);
    expect(m.rejectedCount).toBe(302);
    expect(m.rejected.map((x) => x.volOffset)).toEqual([1 << 20, 5 << 20, 7 << 20]);
  });

  const block = (magic: number[], fill: (dv: DataView) => void = () => {}) => {
    const b = new Uint8Array(0x800);
    b.set(magic, 0);
    fill(new DataView(b.buffer));
    return b;
  };

  it('a seSparse header whose capacity is above 2^53 is rejected with the field, not thrown', () => {
    const b = block([0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0], (dv) => {
      dv.setBigUint64(8, 0x200000001n, true);
      dv.setBigUint64(0x10, 0x6ad96630f7e79d2bn, true);
    });
    expect(probeHeaderRemnant(b, 1 << 30)).toEqual({ kind: 'sesparse-header', reason: expect.stringMatching(/capacity = 0x6ad96630f7e79d2b is out of range/) });
  });

  it('COWD and KDMV magics with garbage are rejected with a reason; bytes without a magic are nothing', () => {
    expect(probeHeaderRemnant(block([0x43, 0x4f, 0x57, 0x44, 2]), 1 << 30)).toEqual({ kind: 'cowd-header', reason: 'COWD version 2 (only 1 is known)' });
    expect(probeHeaderRemnant(block([0x4b, 0x44, 0x4d, 0x56, 9]), 1 << 30)).toEqual({ kind: 'kdmv-header', reason: expect.stringMatching(/KDMV version 9/) });
    expect(probeHeaderRemnant(block([1, 2, 3, 4]), 1 << 30)).toBeNull();
  });
});
