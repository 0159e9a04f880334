import { describe, expect, it } from 'vitest';
import { parityDisksOf, parityRow, placeChunk, type ParityLayout, type RaidGeometry } from '../../src/core/raid/layout.js';

/**
 * md's layouts as tables, worked out by hand from raid5_compute_sector in the kernel's
 * drivers/md/raid5.c (read for facts): row by row, what each disk holds ("P", "Q" or the logical
 * chunk number). RAID 6 tables also give each data chunk's syndrome slot, from raid6_d0 and
 * raid6_idx_to_slot (Q = sum g^slot · D, slots counted from the disk after Q).
 */
const RAID5_4: Record<ParityLayout, string[]> = {
  'left-symmetric': ['0 1 2 P', '4 5 P 3', '8 P 6 7', 'P 9 10 11', '12 13 14 P'],
  'left-asymmetric': ['0 1 2 P', '3 4 P 5', '6 P 7 8', 'P 9 10 11', '12 13 14 P'],
  'right-symmetric': ['P 0 1 2', '5 P 3 4', '7 8 P 6', '9 10 11 P', 'P 12 13 14'],
  'right-asymmetric': ['P 0 1 2', '3 P 4 5', '6 7 P 8', '9 10 11 P', 'P 12 13 14'],
};

const RAID6_5: Record<ParityLayout, string[]> = {
  'left-symmetric': ['Q 0 1 2 P', '3 4 5 P Q', '7 8 P Q 6', '11 P Q 9 10', 'P Q 12 13 14'],
  'left-asymmetric': ['Q 0 1 2 P', '3 4 5 P Q', '6 7 P Q 8', '9 P Q 10 11', 'P Q 12 13 14'],
  'right-symmetric': ['P Q 0 1 2', '5 P Q 3 4', '7 8 P Q 6', '9 10 11 P Q', 'Q 12 13 14 P'],
  'right-asymmetric': ['P Q 0 1 2', '3 P Q 4 5', '6 7 P Q 8', '9 10 11 P Q', 'Q 12 13 14 P'],
};

/** Syndrome slot of the chunk on each disk (- for P/Q), rows as above. */
const RAID6_5_SLOTS: Record<ParityLayout, string[]> = {
  // symmetric: the data follows Q, so slots are the logical order
  'left-symmetric': ['- 0 1 2 -', '0 1 2 - -', '1 2 - - 0', '2 - - 0 1', '- - 0 1 2'],
  'right-symmetric': ['- - 0 1 2', '2 - - 0 1', '1 2 - - 0', '0 1 2 - -', '- 0 1 2 -'],
  // asymmetric: slots walk the disks from Q + 1, not the logical order
  'left-asymmetric': ['- 0 1 2 -', '0 1 2 - -', '1 2 - - 0', '2 - - 0 1', '- - 0 1 2'],
  'right-asymmetric': ['- - 0 1 2', '2 - - 0 1', '1 2 - - 0', '0 1 2 - -', '- 0 1 2 -'],
};

function table(g: RaidGeometry, rows: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const pr = parityRow(g, r);
    const cells = new Array<string>(g.disks).fill('?');
    cells[pr.p] = 'P';
    if (pr.q >= 0) cells[pr.q] = 'Q';
    pr.data.forEach((d, k) => (cells[d] = String(r * pr.data.length + k)));
    out.push(cells.join(' '));
  }
  return out;
}

function slots(g: RaidGeometry, rows: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const pr = parityRow(g, r);
    const cells = new Array<string>(g.disks).fill('-');
    pr.data.forEach((d, k) => (cells[d] = String(pr.qSlot[k])));
    out.push(cells.join(' '));
  }
  return out;
}

describe('md layouts against raid5.c', () => {
  for (const layout of Object.keys(RAID5_4) as ParityLayout[]) {
    it(`raid5 ${layout}, 4 disks`, () => {
      expect(table({ level: 'raid5', disks: 4, stripeBytes: 65536, layout, parityDelay: 1 }, 5)).toEqual(RAID5_4[layout]);
    });
    it(`raid6 ${layout}, 5 disks, with syndrome slots`, () => {
      const g: RaidGeometry = { level: 'raid6', disks: 5, stripeBytes: 65536, layout, parityDelay: 1 };
      expect(table(g, 5)).toEqual(RAID6_5[layout]);
      expect(slots(g, 5)).toEqual(RAID6_5_SLOTS[layout]);
    });
  }

  it('placeChunk agrees with the rows (raid5 left-symmetric chunk 9 is on disk 1, row 3)', () => {
    expect(placeChunk({ level: 'raid5', disks: 4, stripeBytes: 4096, layout: 'left-symmetric', parityDelay: 1 }, 9)).toEqual({ disks: [1], rows: [3] });
  });

  it('raid0 and raid10 near=2 (md.4: copies of a chunk follow each other across the disks)', () => {
    const r0 = { level: 'raid0' as const, disks: 3, stripeBytes: 4096, layout: null, parityDelay: 1 };
    expect([0, 1, 2, 3, 7].map((c) => placeChunk(r0, c))).toEqual([
      { disks: [0], rows: [0] }, { disks: [1], rows: [0] }, { disks: [2], rows: [0] }, { disks: [0], rows: [1] }, { disks: [1], rows: [2] },
    ]);
    const r10 = { level: 'raid10' as const, disks: 4, stripeBytes: 4096, layout: null, parityDelay: 1 };
    expect([0, 1, 2].map((c) => placeChunk(r10, c))).toEqual([{ disks: [0, 1], rows: [0, 0] }, { disks: [2, 3], rows: [0, 0] }, { disks: [0, 1], rows: [1, 1] }]);
    // odd count: row 0 = A A B, row 1 = B C C
    const odd = { ...r10, disks: 3 };
    expect([0, 1, 2].map((c) => placeChunk(odd, c))).toEqual([{ disks: [0, 1], rows: [0, 0] }, { disks: [2, 0], rows: [0, 1] }, { disks: [1, 2], rows: [1, 1] }]);
  });

  it('parity delay keeps each rotation for that many rows', () => {
    const g: RaidGeometry = { level: 'raid5', disks: 4, stripeBytes: 4096, layout: 'left-symmetric', parityDelay: 3 };
    expect([0, 1, 2, 3, 5, 6, 11, 12].map((r) => parityRow(g, r).p)).toEqual([3, 3, 3, 2, 2, 1, 0, 3]);
  });
});

describe('placeChunk (allocation-free) agrees with parityRow', () => {
  it('every layout, delay, level, 3-8 disks, 200 chunks', () => {
    for (const level of ['raid5', 'raid6'] as const) {
      for (const layout of ['left-symmetric', 'left-asymmetric', 'right-symmetric', 'right-asymmetric'] as ParityLayout[]) {
        for (let disks = level === 'raid5' ? 3 : 4; disks <= 8; disks++) {
          for (const parityDelay of [1, 2, 5]) {
            const g: RaidGeometry = { level, disks, stripeBytes: 4096, layout, parityDelay };
            const nd = disks - (level === 'raid5' ? 1 : 2);
            for (let c = 0; c < 200; c++) expect(placeChunk(g, c).disks[0]).toBe(parityRow(g, Math.floor(c / nd)).data[c % nd]);
          }
        }
      }
    }
  });
});

describe('parityDisksOf (allocation-free) agrees with parityRow', () => {
  it('every layout, delay, level, 3-8 disks', () => {
    for (const level of ['raid5', 'raid6'] as const) {
      for (const layout of ['left-symmetric', 'left-asymmetric', 'right-symmetric', 'right-asymmetric'] as ParityLayout[]) {
        for (let disks = level === 'raid5' ? 3 : 4; disks <= 8; disks++) {
          for (const parityDelay of [1, 3]) {
            const g: RaidGeometry = { level, disks, stripeBytes: 4096, layout, parityDelay };
            for (let r = 0; r < 40; r++) {
              const pr = parityRow(g, r);
              expect(parityDisksOf(g, r)).toEqual({ p: pr.p, q: pr.q });
            }
          }
        }
      }
    }
  });
});
