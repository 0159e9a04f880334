import { UserError } from '../errors.js';

/**
 * RAID geometry: where logical chunk c of the LUN lives on the member disks.
 * Disk numbers are md's raid_disk indexes. The RAID 5/6 formulas follow the Linux md driver's
 * raid5_compute_sector (drivers/md/raid5.c, read for facts); "parity delay" (HP Smart Array) keeps
 * the parity on one disk for `parityDelay` rows, i.e. the rotation counts rows / parityDelay.
 */
export type RaidLevel = 'raid0' | 'raid1' | 'raid5' | 'raid6' | 'raid10' | 'jbod';
export type ParityLayout = 'left-asymmetric' | 'right-asymmetric' | 'left-symmetric' | 'right-symmetric';

export const RAID_LEVELS: readonly RaidLevel[] = ['raid0', 'raid1', 'raid5', 'raid6', 'raid10', 'jbod'];
export const PARITY_LAYOUTS: readonly ParityLayout[] = ['left-symmetric', 'left-asymmetric', 'right-symmetric', 'right-asymmetric'];
/** md allows chunks of 4 KiB and up; controllers go down to one sector. */
export const MIN_STRIPE = 512;
export const MAX_STRIPE = 4 * 1024 * 1024;
export const MAX_DISKS = 64;
export const MAX_PARITY_DELAY = 256;

export interface RaidGeometry {
  level: RaidLevel;
  /** raid_disks: members of the array, missing ones included. */
  disks: number;
  /** Chunk per member (md's chunk size); ignored for raid1 and jbod. */
  stripeBytes: number;
  /** raid5/raid6 only. */
  layout: ParityLayout | null;
  /** raid5/raid6 only: rows the parity stays on one disk (1 = md). */
  parityDelay: number;
}

export function hasParity(level: RaidLevel): boolean {
  return level === 'raid5' || level === 'raid6';
}

export function isStriped(level: RaidLevel): boolean {
  return level === 'raid0' || level === 'raid5' || level === 'raid6' || level === 'raid10';
}

/** Data chunks per row (raid10: per row of the raster, which holds disks / 2 chunks on even counts). */
export function dataDisks(g: RaidGeometry): number {
  switch (g.level) {
    case 'raid5':
      return g.disks - 1;
    case 'raid6':
      return g.disks - 2;
    default:
      return g.disks;
  }
}

export function checkGeometry(g: RaidGeometry): void {
  const min = { raid0: 1, raid1: 1, raid5: 3, raid6: 4, raid10: 2, jbod: 1 }[g.level];
  if (!Number.isInteger(g.disks) || g.disks < min || g.disks > MAX_DISKS) throw new UserError(`${g.level} needs ${min} to ${MAX_DISKS} disks, not ${g.disks}`);
  if (isStriped(g.level)) {
    const s = g.stripeBytes;
    if (!Number.isInteger(s) || s < MIN_STRIPE || s > MAX_STRIPE || s % 512 !== 0) {
      throw new UserError(`stripe size ${s} is not a multiple of 512 bytes from ${MIN_STRIPE} to ${MAX_STRIPE}`);
    }
  }
  if (hasParity(g.level)) {
    if (!g.layout || !PARITY_LAYOUTS.includes(g.layout)) throw new UserError(`${g.level} needs a layout: ${PARITY_LAYOUTS.join(', ')}`);
    if (!Number.isInteger(g.parityDelay) || g.parityDelay < 1 || g.parityDelay > MAX_PARITY_DELAY) {
      throw new UserError(`parity delay ${g.parityDelay} is not 1 to ${MAX_PARITY_DELAY}`);
    }
  }
}

/** One row of a RAID 5/6: the disk of each data chunk (by logical order), P, Q and the Q coefficient slot of each data chunk. */
export interface ParityRow {
  data: number[];
  p: number;
  /** -1 on raid5. */
  q: number;
  /** md's syndrome slot of data chunk k (Q = sum of g^slot · D). */
  qSlot: number[];
}

/** The parity row `row` (a stripe in md's words) of a raid5/raid6 geometry. */
export function parityRow(g: RaidGeometry, row: number): ParityRow {
  const n = g.disks;
  const nd = dataDisks(g);
  const r = Math.floor(row / g.parityDelay) % n;
  const left = g.layout === 'left-symmetric' || g.layout === 'left-asymmetric';
  const symmetric = g.layout === 'left-symmetric' || g.layout === 'right-symmetric';
  const data = new Array<number>(nd);
  let p: number;
  let q = -1;
  if (g.level === 'raid5') {
    p = left ? nd - r : r;
    for (let dd = 0; dd < nd; dd++) data[dd] = symmetric ? (p + 1 + dd) % n : dd >= p ? dd + 1 : dd;
  } else {
    p = left ? n - 1 - r : r;
    if (symmetric) {
      q = (p + 1) % n;
      for (let dd = 0; dd < nd; dd++) data[dd] = (p + 2 + dd) % n;
    } else if (p === n - 1) {
      // Q D D D P: Q wraps to disk 0 and the data shifts by one.
      q = 0;
      for (let dd = 0; dd < nd; dd++) data[dd] = dd + 1;
    } else {
      q = p + 1;
      for (let dd = 0; dd < nd; dd++) data[dd] = dd >= p ? dd + 2 : dd;
    }
  }
  const qSlot = new Array<number>(nd).fill(0);
  if (q >= 0) {
    // md numbers the syndrome sources walking the disks from the one after Q (disk 0 when Q is last).
    const slotOfDisk = new Array<number>(n).fill(-1);
    const d0 = q === n - 1 ? 0 : q + 1;
    let count = 0;
    for (let k = 0, i = d0; k < n; k++, i = (i + 1) % n) if (i !== p && i !== q) slotOfDisk[i] = count++;
    for (let dd = 0; dd < nd; dd++) qSlot[dd] = slotOfDisk[data[dd]!]!;
  }
  return { data, p, q, qSlot };
}

/** Where logical chunk c is: the disk(s) holding it (raid10: both copies) and the row on them. */
export interface ChunkPlace {
  disks: number[];
  rows: number[];
}

export function placeChunk(g: RaidGeometry, c: number): ChunkPlace {
  const n = g.disks;
  switch (g.level) {
    case 'raid0':
      return { disks: [c % n], rows: [Math.floor(c / n)] };
    case 'raid10': {
      // md near=2: the chunks' two copies follow each other across the disks, row by row.
      const a = 2 * c;
      return { disks: [a % n, (a + 1) % n], rows: [Math.floor(a / n), Math.floor((a + 1) / n)] };
    }
    case 'raid5':
    case 'raid6': {
      const nd = dataDisks(g);
      return { disks: [dataDiskOf(g, c)], rows: [Math.floor(c / nd)] };
    }
    default:
      throw new Error(`placeChunk: ${g.level} is not striped`);
  }
}

/** Chunks of data per raster row: what one row of every member adds to the LUN. */
export function rowDataChunks(g: RaidGeometry): number {
  return g.level === 'raid10' ? g.disks / 2 : dataDisks(g);
}

/** The disk of data chunk c on raid5/raid6, as parityRow(...).data but without allocating (detection calls it per landmark per hypothesis). */
export function dataDiskOf(g: RaidGeometry, c: number): number {
  const n = g.disks;
  const nd = dataDisks(g);
  const row = Math.floor(c / nd);
  const dd = c - row * nd;
  const r = Math.floor(row / g.parityDelay) % n;
  const left = g.layout === 'left-symmetric' || g.layout === 'left-asymmetric';
  const symmetric = g.layout === 'left-symmetric' || g.layout === 'right-symmetric';
  if (g.level === 'raid5') {
    const p = left ? nd - r : r;
    return symmetric ? (p + 1 + dd) % n : dd >= p ? dd + 1 : dd;
  }
  const p = left ? n - 1 - r : r;
  if (symmetric) return (p + 2 + dd) % n;
  return p === n - 1 ? dd + 1 : dd >= p ? dd + 2 : dd;
}

/** P and Q disks of a raid5/raid6 row (q = -1 on raid5), as parityRow but without allocating. */
export function parityDisksOf(g: RaidGeometry, row: number): { p: number; q: number } {
  const n = g.disks;
  const r = Math.floor(row / g.parityDelay) % n;
  const left = g.layout === 'left-symmetric' || g.layout === 'left-asymmetric';
  if (g.level === 'raid5') return { p: left ? n - 1 - r : r, q: -1 };
  const p = left ? n - 1 - r : r;
  const symmetric = g.layout === 'left-symmetric' || g.layout === 'right-symmetric';
  return { p, q: symmetric ? (p + 1) % n : p === n - 1 ? 0 : p + 1 };
}
