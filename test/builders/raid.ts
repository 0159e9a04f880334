import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { SparseFile } from './vmfs/sparse-file.js';

/**
 * Cuts a LUN dump into RAID member dumps, for the RAID tests and bench. Written apart from
 * src/core/raid on purpose: it walks each member row by row and asks, as md's compute_blocknr
 * does (drivers/md/raid5.c, read for facts), which logical chunk a disk holds, where the core maps
 * chunks to disks; Q is computed with a bitwise GF(2^8) multiply instead of tables. Every member
 * gets `offsets[i]` bytes of pseudo-random "controller metadata" before its data.
 */
export type Level = 'raid0' | 'raid1' | 'raid5' | 'raid6' | 'raid10' | 'jbod';
export type Layout = 'left-symmetric' | 'left-asymmetric' | 'right-symmetric' | 'right-asymmetric';

export interface ArraySpec {
  level: Level;
  disks: number;
  stripeBytes: number;
  layout?: Layout;
  parityDelay?: number;
  /** Start offset of each member (bytes of metadata before the data). */
  offsets: number[];
  /** Extra rows past the LUN's end, as a controller rounds the array up. */
  spareRows?: number;
  /** jbod: bytes of LUN per member (last takes the rest). */
  jbodSplit?: number[];
  seed?: number;
}

/** x · 2 in GF(2^8) mod 0x11d. */
const mul2 = (x: number) => ((x << 1) ^ (x & 0x80 ? 0x11d : 0)) & 0xff;
function gfMulSlow(a: number, b: number): number {
  let r = 0;
  for (; b; b >>= 1, a = mul2(a)) if (b & 1) r ^= a;
  return r;
}
const pow2 = (k: number) => {
  let x = 1;
  for (let i = 0; i < k; i++) x = mul2(x);
  return x;
};

/** For one row: P and Q disks, and for every disk the data index it holds (-1 for P/Q). From md's compute_blocknr. */
export function rowMap(spec: ArraySpec, row: number): { pd: number; qd: number; ddOfDisk: number[]; slotOfDisk: number[] } {
  const n = spec.disks;
  const six = spec.level === 'raid6';
  const nd = n - (six ? 2 : 1);
  const r = Math.floor(row / (spec.parityDelay ?? 1)) % n;
  const lay = spec.layout!;
  const pd = lay.startsWith('left') ? (six ? n - 1 - r : nd - r) : r;
  const qd = !six ? -1 : lay.endsWith('asymmetric') ? (pd === n - 1 ? 0 : pd + 1) : (pd + 1) % n;
  const ddOfDisk: number[] = [];
  for (let disk = 0; disk < n; disk++) {
    let i = disk;
    if (disk === pd || disk === qd) {
      ddOfDisk.push(-1);
      continue;
    }
    if (!six) {
      if (lay.endsWith('asymmetric')) {
        if (i > pd) i--;
      } else {
        if (i < pd) i += n;
        i -= pd + 1;
      }
    } else if (pd === n - 1) i--;
    else if (lay.endsWith('asymmetric')) {
      if (i > pd) i -= 2;
    } else {
      if (i < pd) i += n;
      i -= pd + 2;
    }
    ddOfDisk.push(i);
  }
  // raid6_d0 / raid6_idx_to_slot: syndrome slots count the data disks from the one after Q.
  const slotOfDisk = new Array<number>(n).fill(-1);
  if (six) {
    let count = 0;
    for (let k = 0, i = qd === n - 1 ? 0 : qd + 1; k < n; k++, i = (i + 1) % n) if (i !== pd && i !== qd) slotOfDisk[i] = count++;
  }
  return { pd, qd, ddOfDisk, slotOfDisk };
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

const isZero = (b: Uint8Array) => {
  for (let i = 0; i < b.length; i++) if (b[i]) return false;
  return true;
};

/** Writes `dir/member-<i>.img` for every disk; returns their paths (index = md raid_disk / jbod order). */
export function buildArray(lunPath: string, spec: ArraySpec, dir: string, prefix = 'member'): string[] {
  const fd = openSync(lunPath, 'r');
  const lunSize = fstatSync(fd).size;
  const readLun = (off: number, len: number): Uint8Array => {
    const b = new Uint8Array(len);
    if (off < lunSize) readSync(fd, b, 0, Math.min(len, lunSize - off), off);
    return b;
  };
  const n = spec.disks;
  const chunk = spec.stripeBytes;
  const rand = prng(spec.seed ?? 7);
  const paths = Array.from({ length: n }, (_, i) => path.join(dir, `${prefix}-${i}.img`));
  let dataPerMember: number;
  const level = spec.level;
  if (level === 'raid1') dataPerMember = lunSize;
  else if (level === 'jbod') dataPerMember = 0;
  else {
    const cols = level === 'raid0' ? n : level === 'raid10' ? n / 2 : level === 'raid5' ? n - 1 : n - 2;
    const rows = Math.ceil(lunSize / (cols * chunk)) + (spec.spareRows ?? 1);
    dataPerMember = rows * chunk;
  }
  const split = spec.jbodSplit ?? [];
  const jbodLens = level === 'jbod' ? Array.from({ length: n }, (_, i) => (i === n - 1 ? lunSize - split.slice(0, n - 1).reduce((a, b) => a + b, 0) : split[i]!)) : [];
  const files = paths.map((p, i) => new SparseFile(p, spec.offsets[i]! + (level === 'jbod' ? jbodLens[i]! : dataPerMember)));
  try {
    files.forEach((f, i) => {
      const hdr = new Uint8Array(spec.offsets[i]!);
      for (let k = 0; k < hdr.length; k += 4) new DataView(hdr.buffer).setUint32(k, rand(), true);
      if (hdr.length) f.write(0, hdr);
    });
    const put = (disk: number, at: number, b: Uint8Array) => {
      if (!isZero(b)) files[disk]!.write(spec.offsets[disk]! + at, b);
    };
    if (level === 'raid1') {
      for (let off = 0; off < lunSize; off += 1 << 20) {
        const b = readLun(off, Math.min(1 << 20, lunSize - off));
        for (let d = 0; d < n; d++) put(d, off, b);
      }
    } else if (level === 'jbod') {
      let pos = 0;
      jbodLens.forEach((len, d) => {
        for (let off = 0; off < len; off += 1 << 20) put(d, off, readLun(pos + off, Math.min(1 << 20, len - off)));
        pos += len;
      });
    } else {
      const rows = dataPerMember / chunk;
      for (let row = 0; row < rows; row++) {
        if (level === 'raid0') {
          for (let d = 0; d < n; d++) put(d, row * chunk, readLun((row * n + d) * chunk, chunk));
        } else if (level === 'raid10') {
          // near=2 on an even count: disks 2k and 2k+1 hold column k.
          for (let d = 0; d < n; d++) put(d, row * chunk, readLun((row * (n / 2) + (d >> 1)) * chunk, chunk));
        } else {
          const m = rowMap(spec, row);
          const nd = n - (level === 'raid6' ? 2 : 1);
          const p = new Uint8Array(chunk);
          const q = new Uint8Array(chunk);
          for (let d = 0; d < n; d++) {
            const dd = m.ddOfDisk[d]!;
            if (dd < 0) continue;
            const b = readLun((row * nd + dd) * chunk, chunk);
            put(d, row * chunk, b);
            if (isZero(b)) continue;
            const g = pow2(m.slotOfDisk[d]!);
            const times = Uint8Array.from({ length: 256 }, (_, x) => gfMulSlow(g, x));
            for (let i = 0; i < chunk; i++) {
              p[i]! ^= b[i]!;
              q[i]! ^= times[b[i]!]!;
            }
          }
          put(m.pd, row * chunk, p);
          if (level === 'raid6') put(m.qd, row * chunk, q);
        }
      }
    }
  } finally {
    files.forEach((f) => f.close());
    closeSync(fd);
  }
  return paths;
}
