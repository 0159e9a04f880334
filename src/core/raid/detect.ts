import { RescueError, throwIfAborted, UserError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { isAllZero } from '../util/struct.js';
import { scanMembers, type MemberScan, type ScanProgress } from './detect-scan.js';
import { gfMulTable, gfMulXor, gfPow2, xorInto } from './gf256.js';
import { VOLUME_IN_PARTITION } from './landmarks.js';
import { stripeFromRises, type StripeStat } from './stripe-stats.js';
import {
  dataDiskOf,
  dataDisks,
  MAX_DISKS,
  MAX_PARITY_DELAY,
  MAX_STRIPE,
  MIN_STRIPE,
  PARITY_LAYOUTS,
  parityDisksOf,
  parityRow,
  type ParityLayout,
  type RaidGeometry,
  type RaidLevel,
} from './layout.js';
import { arrayCapacity, type RaidConfig } from './raid-source.js';

/**
 * Finds a RAID's parameters from its member dumps alone (any order, any names): the landmarks of
 * the VMFS LUN (detect-scan.ts) say which member holds which LUN byte; every hypothesis (level,
 * disks, stripe, layout, parity delay) that maps all of them onto one role and one start offset per
 * member is kept; members without landmarks are aligned by sectors they share with another member
 * (mirror copies, parity equal to a lone data chunk); then parity (P, and Q on RAID 6) and mirror
 * checks on sampled rows rank what is left. When two hypotheses still describe different arrays,
 * detection refuses (RaidUndecidedError) and says what it found.
 */

export interface RaidOverrides {
  level?: RaidLevel;
  stripeBytes?: number;
  layout?: ParityLayout;
  parityDelay?: number;
  /** Given-member indexes in role order (md raid_disk; jbod: concatenation); null = a missing member. */
  order?: (number | null)[];
  /** Start offset per given-member index. */
  offsets?: Map<number, number>;
}

export interface DetectedMember {
  /** Index in the list given. */
  index: number;
  name: string;
  /** md raid_disk (raid10: data column, shared by the two copies; jbod: concatenation order). */
  role: number;
  offsetBytes: number;
  /** Landmarks of this member that the result explains. */
  landmarks: number;
}

export interface RaidDetection {
  level: RaidLevel;
  stripeBytes: number | null;
  layout: ParityLayout | null;
  parityDelay: number | null;
  /** Members of the array, missing ones included. */
  disks: number;
  members: DetectedMember[];
  missing: number;
  sizeBytes: number;
  confidence: number;
  evidence: string[];
}

export interface DetectOptions {
  overrides?: RaidOverrides;
  signal?: AbortSignal;
  onProgress?: (p: ScanProgress & { phase: 'read' | 'fit' | 'check' }) => void;
}

/** Detection could not decide; `found` says what it saw (for the CLI's JSON and the app). */
export class RaidUndecidedError extends RescueError {
  readonly found: { evidence: string[]; candidates: string[]; landmarks: { member: string; count: number }[] };
  constructor(message: string, found: RaidUndecidedError['found']) {
    super('unsupported', message);
    this.name = 'RaidUndecidedError';
    this.found = found;
  }
}

interface Hyp {
  level: RaidLevel;
  /** raid_disks; raid10: 2 × columns. */
  disks: number;
  stripe: number;
  layout: ParityLayout | null;
  delay: number;
  volBase: number;
}

interface Fit {
  hyp: Hyp;
  roles: (number | null)[];
  offsets: (number | null)[];
  /** Landmarks explained per member. */
  explained: number[];
  consistent: number;
  inconsistent: number;
  notes: string[];
  /** Members whose landmarks fit another free role as well. */
  unsure: number[];
  /** The hypothesis had more role assignments than were kept: its alternatives are not all known. */
  truncated: boolean;
  score: number;
}

/** Landmarks a member may fail to explain (stale metadata of an older volume; on a parity member, XORs of several landmarks), as a share. */
const TOLERANCE = 0.2;
const STRIPES = Array.from({ length: Math.log2(MAX_STRIPE / MIN_STRIPE) + 1 }, (_, k) => MIN_STRIPE << k);
const DELAYS = [...Array.from({ length: 16 }, (_, k) => k + 1), 32, 64, 128, MAX_PARITY_DELAY];
/** Landmarks per member used in fitting (spread over its positions). */
const FIT_SAMPLE = 192;
const CHECK_ROWS = 48;
const CHECK_BYTES = 64 * 1024;
/** Distinct arrays whose rows are checked (best fits first). */
const FITS_CHECKED = 24;
const CHECK_BUDGET = 28 * 1024 * 1024;
/** Bytes of check reads kept for the next fits, all members together. */
const CACHE_LIMIT = 64 * 1024 * 1024;
/** Role assignments kept per hypothesis. */
const MAX_ASSIGNMENTS = 12;

const hypText = (h: Hyp) =>
  `${h.level} of ${h.disks}${h.level === 'raid1' || h.level === 'jbod' ? '' : `, stripe ${h.stripe}`}${h.layout ? `, ${h.layout}` : ''}${h.layout && h.delay > 1 ? `, parity delay ${h.delay}` : ''}`;

function geometryOf(h: Hyp): RaidGeometry {
  return { level: h.level, disks: h.disks, stripeBytes: h.stripe, layout: h.layout, parityDelay: h.delay };
}

/** Logical LUN byte -> role (raid10: column) and byte inside the member's data area. */
function mapLun(h: Hyp, g: RaidGeometry, L: number): { role: number; x: number } {
  if (h.level === 'raid1') return { role: -1, x: L };
  const c = Math.floor(L / h.stripe);
  const within = L - c * h.stripe;
  if (h.level === 'raid0' || h.level === 'raid10') {
    const cols = h.level === 'raid10' ? h.disks / 2 : h.disks;
    return { role: c % cols, x: Math.floor(c / cols) * h.stripe + within };
  }
  const nd = dataDisks(g);
  return { role: dataDiskOf(g, c), x: Math.floor(c / nd) * h.stripe + within };
}

interface Obs {
  pos: number;
  lun?: number;
  vol?: number;
}

/**
 * One observation per group of landmarks that sit at the same distance from the LUN or volume
 * offset they name (the cluster headers of one group, the FDs of one chunk): a stale copy of a
 * metadata region then counts once, like the region it copies.
 */
function sampleObs(scan: MemberScan): Obs[] {
  // First and last landmark of each group: the group's extent still tells stripe sizes apart.
  const groups = new Map<string, Obs[]>();
  for (const l of scan.landmarks) {
    const key = l.lun !== undefined ? `l${l.pos - l.lun}` : `v${l.pos - l.vol!}`;
    const g = groups.get(key);
    if (!g) groups.set(key, [l]);
    else g[1] = l;
  }
  const all = [...groups.values()].flat();
  if (all.length <= FIT_SAMPLE) return all;
  const out: Obs[] = [];
  for (let k = 0; k < FIT_SAMPLE; k++) out.push(all[Math.floor((k * all.length) / FIT_SAMPLE)]!);
  return out;
}

const keyOf = (role: number, off: number) => (role + 1) * 2 ** 36 + off / 512;
const roleOf = (key: number) => Math.floor(key / 2 ** 36) - 1;
const offOf = (key: number) => (key % 2 ** 36) * 512;

/**
 * Fits one hypothesis: every member's landmarks must agree on one role and one offset. On parity
 * levels a landmark may also be read as the parity copy of a row whose only data it is (P, or Q
 * when its syndrome slot is 0), so a member can have several candidate (role, offset) pairs; the
 * pairs are then chosen so that no role is taken twice, data readings first.
 */
function fit(h: Hyp, obs: Obs[][], sizes: number[], ov: RaidOverrides): Fit[] {
  const g = geometryOf(h);
  const fixedRole = (m: number) => {
    if (!ov.order) return undefined;
    const k = ov.order.indexOf(m);
    if (k < 0) return undefined;
    return h.level === 'raid10' ? k >> 1 : k;
  };
  const parity = h.level === 'raid5' || h.level === 'raid6';
  const nd = dataDisks(g);
  /** Per member: candidate keys (explaining all but the tolerated share), best first; [] = no landmarks. */
  const options: { key: number; count: number; data: number }[][] = [];
  const totals: number[] = [];
  for (let m = 0; m < obs.length; m++) {
    const votes = new Map<number, number>();
    const dataVotes = new Map<number, number>();
    const total = obs[m]!.length;
    totals.push(total);
    for (const o of obs[m]!) {
      const L = o.lun ?? h.volBase + o.vol!;
      if (L < 0) continue;
      const { role, x } = mapLun(h, g, L);
      const off = o.pos - x;
      if (off < 0 || off % 512 !== 0 || off > sizes[m]!) continue;
      const k = keyOf(role, off);
      votes.set(k, (votes.get(k) ?? 0) + 1);
      dataVotes.set(k, (dataVotes.get(k) ?? 0) + 1);
      if (parity) {
        const pr = parityDisksOf(g, Math.floor(Math.floor(L / h.stripe) / nd));
        const kp = keyOf(pr.p, off);
        votes.set(kp, (votes.get(kp) ?? 0) + 1);
        if (pr.q >= 0) {
          const kq = keyOf(pr.q, off);
          votes.set(kq, (votes.get(kq) ?? 0) + 1);
        }
      }
    }
    const need = total - Math.max(total >= 3 ? 1 : 0, Math.floor(total * TOLERANCE));
    const fr = fixedRole(m);
    const fo = ov.offsets?.get(m);
    // Data readings first: a landmark read as a parity copy is weaker evidence (it also fits arrays with a member missing).
    const opts = [...votes]
      .filter(([k, v]) => v >= need && (fr === undefined || h.level === 'raid1' || roleOf(k) === fr) && (fo === undefined || offOf(k) === fo))
      .map(([key, count]) => ({ key, count, data: dataVotes.get(key) ?? 0 }))
      .sort((a, b) => b.data - a.data || b.count - a.count);
    if (total > 0 && opts.length === 0) return [];
    options.push(opts);
  }
  // Choose one option per member so that roles stay unique (raid10: two per column).
  const cap = h.level === 'raid1' ? Infinity : h.level === 'raid10' ? 2 : 1;
  const used = new Map<number, number>();
  const pick: number[] = new Array<number>(obs.length).fill(-1);
  // Every assignment, not just the first: with a member missing, a member's landmarks may fit a data
  // role and a parity role alike, and only the parity checks on rows tell them apart.
  const picks: number[][] = [];
  const dfs = (m: number): void => {
    if (picks.length >= MAX_ASSIGNMENTS) return;
    if (m === obs.length) {
      picks.push(pick.slice());
      return;
    }
    if (options[m]!.length === 0) return dfs(m + 1);
    for (let i = 0; i < options[m]!.length; i++) {
      const r = h.level === 'raid1' ? -1 : roleOf(options[m]![i]!.key);
      if ((used.get(r) ?? 0) >= cap) continue;
      used.set(r, (used.get(r) ?? 0) + 1);
      pick[m] = i;
      dfs(m + 1);
      pick[m] = -1;
      used.set(r, used.get(r)! - 1);
    }
  };
  dfs(0);
  const fits: Fit[] = [];
  for (const chosen of picks) {
    const roles: (number | null)[] = [];
    const offsets: (number | null)[] = [];
    const explained: number[] = [];
    let consistent = 0;
    let inconsistent = 0;
    let asData = 0;
    for (let m = 0; m < obs.length; m++) {
      const o = chosen[m]! >= 0 ? options[m]![chosen[m]!]! : null;
      asData += o?.data ?? 0;
      roles.push(o && h.level !== 'raid1' ? roleOf(o.key) : (fixedRole(m) ?? null));
      offsets.push(o ? offOf(o.key) : (ov.offsets?.get(m) ?? null));
      explained.push(o?.count ?? 0);
      consistent += o?.count ?? 0;
      inconsistent += o ? totals[m]! - o.count : 0;
    }
    if (consistent === 0) continue;
    // A member whose landmarks fit as well on another free role (data here, a parity copy there) is not placed by them.
    const taken = new Set(roles);
    const unsure: number[] = [];
    options.forEach((opts, m) => {
      const c = chosen[m]! >= 0 ? opts[chosen[m]!]! : null;
      if (c && h.level !== 'raid1' && opts.some((o) => o !== c && o.count >= c.count && !taken.has(roleOf(o.key)))) unsure.push(m);
    });
    fits.push({ hyp: h, roles, offsets, explained, consistent, inconsistent, notes: [], unsure, truncated: picks.length >= MAX_ASSIGNMENTS, score: asData + (consistent - asData) / 4 - 10 * inconsistent });
  }
  return fits;
}

function* hypotheses(given: number, volBases: number[], ov: RaidOverrides): Generator<Hyp> {
  const levels: RaidLevel[] = ov.level ? [ov.level] : ['raid0', 'raid5', 'raid6', 'raid10', 'raid1'];
  const stripes = ov.stripeBytes ? [ov.stripeBytes] : STRIPES;
  const layouts = ov.layout ? [ov.layout] : PARITY_LAYOUTS;
  const delays = ov.parityDelay ? [ov.parityDelay] : DELAYS;
  for (const volBase of volBases) {
    for (const level of levels) {
      let counts: number[];
      if (ov.order) counts = [ov.order.length];
      else if (level === 'raid5') counts = [given, given + 1];
      else if (level === 'raid6') counts = [given, given + 1, given + 2];
      else if (level === 'raid10') counts = Array.from({ length: given }, (_, k) => 2 * (Math.ceil(given / 2) + k)).filter((n) => n >= 4 && n <= 2 * given);
      else counts = [given];
      for (const disks of counts) {
        if (disks > MAX_DISKS || (level === 'raid5' && disks < 3) || (level === 'raid6' && disks < 4) || (level === 'raid10' && disks % 2)) continue;
        if (level === 'raid1') {
          yield { level, disks, stripe: 0, layout: null, delay: 1, volBase };
          continue;
        }
        for (const stripe of stripes) {
          if (level !== 'raid5' && level !== 'raid6') {
            yield { level, disks, stripe, layout: null, delay: 1, volBase };
            continue;
          }
          for (const layout of layouts) for (const delay of delays) yield { level, disks, stripe, layout, delay, volBase };
        }
      }
    }
  }
}

/** Relative offset of member b to member a from sectors both hold (mirror copies, parity = lone data): posB - posA, when one value dominates. */
function sharedDelta(a: MemberScan, b: MemberScan): { delta: number; votes: number } | null {
  const votes = new Map<number, number>();
  let n = 0;
  for (const [h, pa] of a.prints) {
    const pb = b.prints.get(h);
    if (pb === undefined) continue;
    n++;
    votes.set(pb - pa, (votes.get(pb - pa) ?? 0) + 1);
  }
  let best = 0;
  let delta = 0;
  for (const [d, v] of votes) if (v > best) [delta, best] = [d, v];
  return best >= 3 && best * 2 > n ? { delta, votes: best } : null;
}

/** Places members without landmarks: by an override, or by shared sectors with a placed member (levels with copies or parity only). */
function complete(f: Fit, scans: MemberScan[], ov: RaidOverrides, given: number): Fit | null {
  const h = f.hyp;
  const cols = h.level === 'raid10' ? h.disks / 2 : h.level === 'raid1' ? 1 : h.disks;
  for (let m = 0; m < given; m++) {
    if (f.offsets[m] !== null && (f.roles[m] !== null || h.level === 'raid1')) continue;
    if (f.offsets[m] === null && h.level !== 'raid0') {
      // Shared sectors sit at the same data position on both copies: off_m = off_a + delta.
      for (let a = 0; a < given && f.offsets[m] === null; a++) {
        if (a === m || f.offsets[a] === null || f.explained[a] === 0) continue;
        const d = sharedDelta(scans[a]!, scans[m]!);
        if (!d) continue;
        const off = f.offsets[a]! + d.delta;
        if (off < 0 || off % 512) continue;
        f.offsets[m] = off;
        f.notes.push(`member ${m + 1}: start offset ${off} from ${d.votes} sectors it shares with member ${a + 1}`);
        if (h.level === 'raid10' && f.roles[m] === null) f.roles[m] = f.roles[a]!;
      }
    }
    if (f.offsets[m] === null) return null;
    if (f.roles[m] === null && h.level !== 'raid1') {
      const cap = h.level === 'raid10' ? 2 : 1;
      const free: number[] = [];
      for (let r = 0; r < cols; r++) if (f.roles.filter((x) => x === r).length < cap) free.push(r);
      const unplaced = f.roles.filter((x, i) => x === null && i !== m).length;
      // The last free role goes to the last unplaced member only when the array has no missing member.
      if (free.length !== 1 || unplaced > 0 || h.disks !== given) return null;
      f.roles[m] = free[0]!;
      f.notes.push(`member ${m + 1}: role ${free[0]} is the only one left`);
    }
  }
  void ov;
  return f;
}

/**
 * The checks' reads: the fits checked share most rows (same offsets, same stripe), so reads are
 * cached (up to CACHE_LIMIT), and each member gives the checks at most CHECK_BUDGET bytes (with the scan's 228 MiB,
 * 256 MiB in all); past it a read answers null and the row is not checked.
 */
class CheckReader {
  private readonly cache = new Map<string, Uint8Array>();
  private cached = 0;
  private readonly spent: number[];
  constructor(private readonly members: readonly ByteSource[]) {
    this.spent = members.map(() => 0);
  }
  async read(m: number, at: number, len: number): Promise<Uint8Array | null> {
    const key = `${m}:${at}:${len}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (this.spent[m]! + len > CHECK_BUDGET) return null;
    this.spent[m]! += len;
    const b = await this.members[m]!.read(at, len);
    if (this.cached + len <= CACHE_LIMIT) {
      this.cache.set(key, b);
      this.cached += len;
    }
    return b;
  }
}

/** Reads row `row` (a prefix of each chunk) of every placed member. */
async function readRow(f: Fit, members: readonly ByteSource[], reader: CheckReader, row: number, len: number): Promise<(Uint8Array | null)[] | null> {
  const byDisk: (Uint8Array | null)[] = new Array<Uint8Array | null>(f.hyp.disks).fill(null);
  const h = f.hyp;
  const stripe = h.level === 'raid1' ? len : h.stripe;
  for (let m = 0; m < members.length; m++) {
    const at = f.offsets[m]! + row * stripe;
    if (at + len > members[m]!.size) return null;
    const disk = h.level === 'raid10' ? 2 * f.roles[m]! + (byDisk[2 * f.roles[m]!] ? 1 : 0) : h.level === 'raid1' ? m : f.roles[m]!;
    const b = await reader.read(m, at, len);
    if (!b) return null;
    byDisk[disk] = b;
  }
  return byDisk;
}

const same = (a: Uint8Array, b: Uint8Array) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** Parity and mirror checks on sampled rows; adjusts the fit's score. Returns false when the rows contradict it. */
async function check(f: Fit, members: readonly ByteSource[], reader: CheckReader, scans: MemberScan[], signal?: AbortSignal): Promise<boolean> {
  const h = f.hyp;
  if (h.level === 'raid0' || h.level === 'jbod') return true;
  const g = geometryOf(h);
  const stripe = h.level === 'raid1' ? CHECK_BYTES : h.stripe;
  const len = Math.min(stripe, CHECK_BYTES);
  const span = Math.min(...members.map((m, i) => m.size - f.offsets[i]!));
  const rows = Math.floor(span / stripe);
  if (rows <= 0) return false;
  // Rows where the landmarks are (known nonzero), then rows spread over the whole member.
  const wanted = new Set<number>();
  scans.forEach((s, m) => {
    const lm = s.landmarks;
    for (let k = 0; k < Math.min(8, lm.length); k++) {
      const row = Math.floor((lm[Math.floor((k * lm.length) / 8)]!.pos - f.offsets[m]!) / stripe);
      if (row >= 0 && row < rows) wanted.add(row);
    }
  });
  for (let k = 0; k < CHECK_ROWS / 2; k++) wanted.add(Math.min(rows - 1, k * Math.max(1, Math.floor((64 * 1024 * 1024) / stripe / (CHECK_ROWS / 2)))));
  for (let k = 0; k < CHECK_ROWS / 2; k++) wanted.add(Math.floor(((k + 0.5) * rows) / (CHECK_ROWS / 2)));
  let good = 0;
  let bad = 0;
  let dupAgree = 0;
  let dupDisagree = 0;
  // Landmarks read as parity copies: the data chunk they copy must hold the same sector, where its member is present.
  let copyAgree = 0;
  let copyDisagree = 0;
  if (h.level === 'raid5' || h.level === 'raid6') {
    for (let m = 0; m < members.length; m++) {
      const lm = scans[m]!.landmarks;
      for (let k = 0; k < Math.min(16, lm.length); k++) {
        const o = lm[Math.floor((k * lm.length) / Math.min(16, lm.length))]!;
        const L = o.lun ?? h.volBase + o.vol!;
        if (L < 0) continue;
        const { role, x } = mapLun(h, g, L);
        if (role === f.roles[m] || f.offsets[m]! + x !== o.pos) continue;
        const pq = parityDisksOf(g, Math.floor(Math.floor(L / h.stripe) / dataDisks(g)));
        if (f.roles[m] !== pq.p && f.roles[m] !== pq.q) continue; // one of the tolerated unexplained landmarks
        const holder = f.roles.indexOf(role);
        if (holder < 0 || f.offsets[holder]! + x + 512 > members[holder]!.size) continue;
        // Parity copies a sector where the other data is zero there: the bytes that made it a landmark (magic, own address) must match.
        const [a, b] = await Promise.all([reader.read(m, o.pos, 12), reader.read(holder, f.offsets[holder]! + x, 12)]);
        if (!a || !b) continue;
        same(a, b) ? copyAgree++ : copyDisagree++;
      }
    }
  }
  const complete = f.roles.filter((r) => r !== null).length === h.disks || h.level === 'raid1';
  // RAID 6 with one member missing keeps one redundancy: a missing P leaves Q to check, a missing Q
  // leaves P, a missing data chunk is rebuilt from P and Q checks it. Without this the roles of the
  // present members are checked by nothing but their landmarks.
  let lost = -1;
  if (h.level === 'raid6' && !complete) {
    const free = Array.from({ length: h.disks }, (_, r) => r).filter((r) => !f.roles.includes(r));
    if (free.length === 1) lost = free[0]!;
  }
  for (const row of wanted) {
    throwIfAborted(signal);
    const chunks = await readRow(f, members, reader, row, len);
    if (!chunks) continue;
    const present = chunks.filter((c): c is Uint8Array => c !== null);
    const nonzero = present.filter((c) => !isAllZero(c));
    if (nonzero.length === 0) continue;
    if (h.level === 'raid1' || h.level === 'raid10') {
      const pairs = h.level === 'raid1' ? [present] : Array.from({ length: h.disks / 2 }, (_, k) => [chunks[2 * k], chunks[2 * k + 1]].filter((c): c is Uint8Array => c !== null));
      for (const p of pairs) if (p.length > 1) (p.every((c) => same(c, p[0]!)) ? good++ : bad++);
      continue;
    }
    const pr = parityRow(g, row);
    if (complete || lost >= 0) {
      const acc = new Uint8Array(len);
      const row = chunks.slice();
      for (const d of [...pr.data, pr.p]) if (d !== lost) xorInto(acc, row[d]!);
      // A missing data chunk is what P leaves over; with P or data missing, P checks nothing.
      if (lost >= 0 && lost !== pr.q) {
        if (lost !== pr.p) row[lost] = acc;
      } else isAllZero(acc) ? good++ : bad++;
      if (h.level === 'raid6' && lost !== pr.q) {
        const q = row[pr.q]!.slice();
        pr.data.forEach((d, k) => gfMulXor(q, row[d]!, gfMulTable(gfPow2(pr.qSlot[k]!))));
        isAllZero(q) ? good++ : bad++;
      }
    }
    // A row whose only data is one chunk holds it twice: there and as P (and as Q on RAID 6 when its
    // syndrome slot is 0, so with a member missing the two seen may be the data and Q); P or Q must be one of the two.
    if (nonzero.length === 2 && same(nonzero[0]!, nonzero[1]!)) {
      const disks = chunks.map((c, d) => (c && !isAllZero(c) ? d : -1)).filter((d) => d >= 0);
      if (disks.length === 2) disks.includes(pr.p) || disks.includes(pr.q) ? dupAgree++ : dupDisagree++;
    }
  }
  f.notes.push(
    h.level === 'raid1' || h.level === 'raid10'
      ? `mirror check: ${good} of ${good + bad} sampled nonzero rows equal on both copies`
      : `${complete || lost >= 0 ? `parity check: ${good} of ${good + bad} sampled checks hold${h.level === 'raid6' ? (lost >= 0 ? ' (P or Q, member missing: its chunks rebuilt from P)' : ' (P and Q)') : ''}; ` : ''}rows whose lone data chunk equals P: ${dupAgree} agree, ${dupDisagree} disagree`,
  );
  if (copyAgree + copyDisagree) f.notes.push(`landmarks read as parity copies: ${copyAgree} match their data chunk, ${copyDisagree} do not`);
  if (bad > Math.max(1, (good + bad) * 0.1) || dupDisagree > Math.max(1, dupAgree * 0.2) || copyDisagree > Math.max(1, copyAgree)) return false;
  // A parity sector XORs several data sectors: three FDs at one offset make a false lock with a mixed address, so a few copies may not match.
  f.score += 4 * good + 2 * dupAgree + copyAgree - 2 * copyDisagree;
  return true;
}

const sameHyp = (a: Hyp, b: Hyp) =>
  a.level === b.level && a.disks === b.disks && a.stripe === b.stripe && a.layout === b.layout && a.delay === b.delay && a.volBase === b.volBase;

/** Two fits describe the same array when every sampled LUN chunk maps to the same member and place. */
function sameArray(a: Fit, b: Fit, lunSize: number, given: number): boolean {
  const ha = a.hyp;
  const hb = b.hyp;
  if (ha.level === 'raid1' || hb.level === 'raid1' || ha.volBase !== hb.volBase) return ha.level === hb.level && ha.volBase === hb.volBase;
  const ga = geometryOf(ha);
  const gb = geometryOf(hb);
  const step = Math.max(512, Math.floor(lunSize / 4096 / 512) * 512);
  for (let L = 0; L < lunSize; L += step) {
    for (const LL of [L, L + Math.min(ha.stripe, hb.stripe) - 512]) {
      const pa = mapLun(ha, ga, LL);
      const pb = mapLun(hb, gb, LL);
      const ma = a.roles.indexOf(pa.role);
      const mb = b.roles.indexOf(pb.role);
      if (ma !== mb || (ma >= 0 && ma < given && a.offsets[ma]! + pa.x !== b.offsets[mb]! + pb.x)) return false;
    }
  }
  return true;
}

export async function detectRaid(members: readonly ByteSource[], opts: DetectOptions = {}): Promise<RaidDetection> {
  const ov = opts.overrides ?? {};
  const given = members.length;
  if (given < 1 || given > MAX_DISKS) throw new UserError(`RAID detection needs 1 to ${MAX_DISKS} members, not ${given}`);
  validateOverrides(ov, given);
  const scans = await scanMembers(members, (p) => opts.onProgress?.({ phase: 'read', ...p }), opts.signal);
  const counts = scans.map((s, i) => ({ member: members[i]!.name, count: s.landmarks.length }));
  const facts = scans.map((s) => s.facts);
  const partition = facts.find((f) => f.partitionOffset !== undefined)?.partitionOffset;
  const gptSize = facts.find((f) => f.sizeBytes !== undefined)?.sizeBytes;
  const evidence: string[] = counts.map((c, i) => `member ${i + 1} (${c.member}): ${c.count} landmark(s) in ${scans[i]!.bytesRead} bytes read${kindsText(scans[i]!)}`);
  if (partition !== undefined) evidence.push(`GPT/MBR: VMFS partition at ${partition}`);
  if (gptSize !== undefined) evidence.push(`GPT: LUN of ${gptSize} bytes (backup header LBA + 1)`);
  const volBases = partition !== undefined ? [partition + VOLUME_IN_PARTITION] : [0x100000 + VOLUME_IN_PARTITION, VOLUME_IN_PARTITION];
  const undecided = (msg: string, candidates: string[] = []) => new RaidUndecidedError(msg, { evidence, candidates, landmarks: counts });
  if (counts.every((c) => c.count === 0)) throw undecided('no VMFS or GPT landmark in any member: cannot tell the RAID layout (give --level, --stripe, --layout, --delay, --order and --offset)');

  if (ov.level === 'jbod' || (!ov.level && given >= 1)) {
    const j = fitJbod(scans, members, ov);
    if (j && (ov.level === 'jbod' || j.members.length === given)) {
      if (ov.level === 'jbod' || given > 1) {
        const det = finishJbod(j, members, gptSize, evidence);
        if (det) {
          // A concatenation also fits a single-member "array"; striped fits are tried when it does not explain every member.
          if (ov.level === 'jbod') return det;
          if (det.members.every((m) => m.landmarks > 0)) return det;
        }
      }
    }
    if (ov.level === 'jbod') throw undecided('jbod: could not place every member (each needs a landmark: a GPT header or VMFS metadata); give --order and --offset');
  }

  const obs = scans.map(sampleObs);
  const sizes = members.map((m) => m.size);
  const fits: Fit[] = [];
  let tried = 0;
  for (const h of hypotheses(given, volBases, ov)) {
    if (++tried % 2048 === 0) {
      throwIfAborted(opts.signal);
      opts.onProgress?.({ phase: 'fit', done: tried, total: tried });
      await Promise.resolve();
    }
    fits.push(...fit(h, obs, sizes, ov));
  }
  // Fewer missing members and more explained landmarks first.
  const completed = fits
    .map((f) => complete(f, scans, ov, given))
    .filter((f): f is Fit => f !== null)
    .sort((a, b) => b.score - a.score || a.hyp.disks - b.hyp.disks || a.hyp.delay - b.hyp.delay || a.hyp.stripe - b.hyp.stripe);
  if (completed.length === 0) {
    const partial = fits.slice(0, 5).map((f) => `${hypText(f.hyp)} (members without landmarks: ${f.offsets.map((o, i) => (o === null ? i + 1 : 0)).filter(Boolean).join(', ')})`);
    throw undecided(
      fits.length ? 'some members hold no landmark and no sector shared with a placed member: give their --offset (and --order)' : 'no RAID level, stripe size and layout explains the landmarks found',
      partial,
    );
  }
  // Keep one fit per distinct array (hypotheses that map every byte the same way are one answer).
  const distinct: Fit[] = [];
  const lunSize = gptSize ?? Math.min(...sizes) * given;
  for (const f of completed) {
    if (distinct.length >= FITS_CHECKED) break;
    if (!distinct.some((d) => sameArray(d, f, lunSize, given))) distinct.push(f);
  }
  const checked: Fit[] = [];
  const failed = new Set<Fit>();
  const reader = new CheckReader(members);
  for (const f of distinct) {
    opts.onProgress?.({ phase: 'check', done: checked.length + failed.size, total: distinct.length });
    if (await check(f, members, reader, scans, opts.signal)) checked.push(f);
    else failed.add(f);
  }
  checked.sort((a, b) => b.score - a.score);
  if (checked.length === 0) throw undecided('the landmarks fit, but parity or mirror checks contradict every fitting layout', distinct.map((f) => hypText(f.hyp)));
  // An array with a member missing explains more by construction (its chunks are unseen): among fits
  // that score alike, the one with fewer missing members is the answer, and only fits with as many
  // missing members can make it ambiguous.
  const top = checked[0]!.score;
  const near = (a: number, b: number) => a >= b - Math.abs(b) * 0.1;
  const fewest = Math.min(...checked.filter((f) => near(f.score, top)).map((f) => f.hyp.disks));
  const pool = checked.filter((f) => f.hyp.disks === fewest);
  let best = pool[0]!;
  let second = pool[1];
  let byStats: StripeStat | null = null;
  if (second && near(second.score, best.score)) {
    // The landmarks and rows leave several arrays standing: where they differ in stripe size, the
    // statistics of zero-to-nonzero transitions may pick one (reported, at a lower confidence).
    const rivals = pool.filter((f) => near(f.score, best.score));
    const fits = rivals.map((f) => ({ f, st: stripeFromRises(scans.map((s) => s.rises), f.offsets) })).filter((x) => x.st?.stripe === x.f.hyp.stripe);
    const pick = fits.length === 1 ? fits[0]! : null;
    if (pick && rivals.every((f) => f === pick.f || f.hyp.stripe !== pick.f.hyp.stripe)) {
      byStats = pick.st;
      second = rivals.find((f) => f !== pick.f);
      best = pick.f;
    }
  }
  if (!byStats && second && near(second.score, best.score)) {
    throw undecided(`the evidence fits more than one array: ${hypText(best.hyp)} or ${hypText(second.hyp)} (give --level, --stripe, --layout, --delay or --order)`, checked.map((f) => `${hypText(f.hyp)} (score ${f.score})`));
  }
  // A member whose landmarks fit another role as well is placed only when every other assignment
  // of that hypothesis was checked on rows (P and Q over-determine a RAID 6 row with one member
  // missing) and failed.
  const alternatives = completed.filter((f) => f !== best && sameHyp(f.hyp, best.hyp) && !sameArray(f, best, lunSize, given));
  if (best.unsure.length && (best.truncated || alternatives.some((f) => !failed.has(f)))) {
    throw undecided(
      `${hypText(best.hyp)} fits, but the landmarks of member(s) ${best.unsure.map((m) => m + 1).join(', ')} fit another role of a missing member as well, and the rows cannot tell (give --order)`,
      checked.map((f) => `${hypText(f.hyp)} (score ${f.score})`),
    );
  }
  if (best.unsure.length) best.notes.push(`member(s) ${best.unsure.map((m) => m + 1).join(', ')}: the landmarks fit another role as well; the ${alternatives.length} other assignment(s) fail the parity check`);
  return result(best, second ?? checked.find((f) => f !== best), members, gptSize, evidence, byStats);
}

function kindsText(s: MemberScan): string {
  const by = new Map<string, number>();
  for (const l of s.landmarks) by.set(l.kind, (by.get(l.kind) ?? 0) + 1);
  return by.size ? ` (${[...by].map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
}

function result(best: Fit, second: Fit | undefined, members: readonly ByteSource[], gptSize: number | undefined, evidence: string[], byStats: StripeStat | null): RaidDetection {
  const h = best.hyp;
  const det: RaidDetection = {
    level: h.level,
    stripeBytes: h.level === 'raid1' ? null : h.stripe,
    layout: h.layout,
    parityDelay: h.layout ? h.delay : null,
    disks: h.level === 'raid1' ? members.length : h.disks,
    members: members.map((m, i) => ({ index: i, name: m.name, role: h.level === 'raid1' ? i : best.roles[i]!, offsetBytes: best.offsets[i]!, landmarks: best.explained[i]! })),
    missing: h.level === 'raid1' ? 0 : h.disks - members.length,
    sizeBytes: 0,
    confidence: 0,
    evidence: [...evidence, `${hypText(h)}: ${best.consistent} landmark(s) explained, ${best.inconsistent} not`, ...best.notes],
  };
  const capacity = arrayCapacity(toRaidConfig(det, members));
  det.sizeBytes = gptSize !== undefined && gptSize <= capacity ? gptSize : capacity;
  if (gptSize !== undefined && gptSize > capacity) det.evidence.push(`GPT says ${gptSize} bytes but the members hold ${capacity}: a member is short`);
  const explainedShare = best.consistent / Math.max(1, best.consistent + best.inconsistent);
  const anchored = best.explained.filter((e) => e > 0).length / members.length;
  const margin = second && best.score > 0 ? Math.max(0, 1 - Math.max(0, second.score) / best.score) : second ? 0 : 1;
  det.confidence = Math.min(1, Math.round(100 * explainedShare * (0.5 + 0.5 * anchored) * (0.5 + 0.5 * margin)) / 100);
  if (byStats) {
    // The margin above is ~0 (the rivals fit alike); the statistic decided, and says how strongly.
    det.confidence = Math.round(100 * Math.min(0.6, explainedShare * byStats.share * (1 - byStats.shareDouble / 2))) / 100;
    det.evidence.push(
      `stripe size from statistics, not landmarks (lower confidence): ${Math.round(100 * byStats.share)}% of ${byStats.rises} zero-to-nonzero transitions fall on ${byStats.stripe}-byte boundaries, ${Math.round(100 * byStats.shareDouble)}% on ${2 * byStats.stripe}-byte ones`,
    );
  }
  if (second) det.evidence.push(`next best: ${hypText(second.hyp)} (score ${second.score} against ${best.score})`);
  return det;
}

/** The RaidConfig (members by raid_disk) of a detection over the members it was run on. */
export function toRaidConfig(det: RaidDetection, members: readonly ByteSource[]): RaidConfig {
  const byDisk: (ByteSource | null)[] = new Array<ByteSource | null>(det.disks).fill(null);
  const offsets = new Array<number>(det.disks).fill(0);
  for (const m of det.members) {
    let disk = m.role;
    if (det.level === 'raid10') disk = byDisk[2 * m.role] ? 2 * m.role + 1 : 2 * m.role;
    if (disk < 0 || disk >= det.disks || byDisk[disk]) throw new UserError(`member ${m.name}: role ${m.role} is taken twice or out of range`);
    byDisk[disk] = members[m.index]!;
    offsets[disk] = m.offsetBytes;
  }
  return {
    level: det.level,
    disks: det.disks,
    stripeBytes: det.stripeBytes ?? 0,
    layout: det.layout,
    parityDelay: det.parityDelay ?? 1,
    members: byDisk,
    offsets,
    sizeBytes: det.sizeBytes || undefined,
  };
}

function validateOverrides(ov: RaidOverrides, given: number): void {
  if (ov.order) {
    const seen = new Set<number>();
    for (const i of ov.order) {
      if (i === null) continue;
      if (i < 0 || i >= given || seen.has(i)) throw new UserError('--order must name each member at most once');
      seen.add(i);
    }
    if (seen.size !== given) throw new UserError(`--order names ${seen.size} of the ${given} members: name them all (and "missing" for a member you do not have)`);
  }
  for (const [, off] of ov.offsets ?? []) if (!Number.isSafeInteger(off) || off < 0 || off % 512) throw new UserError(`--offset ${off} is not a multiple of 512 bytes`);
}

// ---- JBOD: members one after another ----------------------------------------------------------

interface JbodFit {
  members: { index: number; offset: number; start: number; landmarks: number }[];
  volBase: number;
}

/**
 * JBOD: the member with the primary GPT (or the MBR) starts the LUN; each next one starts where
 * the previous ends, and its landmarks fix its own offset. Tries every order of the rest.
 */
function fitJbod(scans: MemberScan[], members: readonly ByteSource[], ov: RaidOverrides): JbodFit | null {
  const given = members.length;
  const part = scans.find((s) => s.facts.partitionOffset !== undefined)?.facts.partitionOffset;
  const volBase = (part ?? 0x100000) + VOLUME_IN_PARTITION;
  const lunOf = (o: { lun?: number; vol?: number }) => o.lun ?? volBase + o.vol!;
  /** Offset that explains most of member m's landmarks when its data starts at LUN `start`. */
  const offsetAt = (m: number, start: number): { offset: number; landmarks: number } | null => {
    const votes = new Map<number, number>();
    for (const o of scans[m]!.landmarks) {
      const off = o.pos - (lunOf(o) - start);
      // The landmark must lie in the member's data area (a mirror's landmarks put its start past its end).
      if (off >= 0 && off <= o.pos && off < members[m]!.size) votes.set(off, (votes.get(off) ?? 0) + 1);
    }
    let best = 0;
    let offset = -1;
    for (const [k, v] of votes) if (v > best) [offset, best] = [k, v];
    const total = scans[m]!.landmarks.length;
    if (best === 0 || total - best > Math.floor(total * TOLERANCE)) return null;
    const fixed = ov.offsets?.get(m);
    if (fixed !== undefined && fixed !== offset) return null;
    return { offset, landmarks: best };
  };
  const firsts = ov.order ? [ov.order[0]!] : scans.map((s, i) => (s.landmarks.some((l) => l.kind === 'gpt-primary' || l.kind === 'mbr') ? i : -1)).filter((i) => i >= 0);
  for (const first of firsts) {
    if (first === null) continue;
    const f0 = offsetAt(first, 0);
    if (!f0) continue;
    const chain = [{ index: first, offset: f0.offset, start: 0, landmarks: f0.landmarks }];
    const rest = new Set(Array.from({ length: given }, (_, i) => i).filter((i) => i !== first));
    let ok = true;
    while (rest.size && ok) {
      const prev = chain[chain.length - 1]!;
      const start = prev.start + members[prev.index]!.size - prev.offset;
      const want = ov.order?.[chain.length];
      const options = [...rest].filter((m) => want === undefined || want === m).map((m) => ({ m, o: offsetAt(m, start) })).filter((x) => x.o);
      if (options.length !== 1) {
        ok = false;
        break;
      }
      const { m, o } = options[0]!;
      chain.push({ index: m, offset: o!.offset, start, landmarks: o!.landmarks });
      rest.delete(m);
    }
    if (ok) return { members: chain, volBase };
  }
  return null;
}

function finishJbod(j: JbodFit, members: readonly ByteSource[], gptSize: number | undefined, evidence: string[]): RaidDetection | null {
  const det: RaidDetection = {
    level: 'jbod',
    stripeBytes: null,
    layout: null,
    parityDelay: null,
    disks: members.length,
    members: members.map((m, i) => {
      const k = j.members.findIndex((x) => x.index === i);
      const c = j.members[k]!;
      return { index: i, name: m.name, role: k, offsetBytes: c.offset, landmarks: c.landmarks };
    }),
    missing: 0,
    sizeBytes: 0,
    confidence: 0,
    evidence: [...evidence, `jbod: members concatenated in the order ${j.members.map((m) => m.index + 1).join(', ')}, each one's landmarks at the LUN offsets that order gives`],
  };
  const capacity = j.members.reduce((s, m) => s + members[m.index]!.size - m.offset, 0);
  det.sizeBytes = gptSize !== undefined && gptSize <= capacity ? gptSize : capacity;
  // Every member explained by its own landmarks; the backup GPT header on the last one closes the chain.
  const closed = gptSize !== undefined && gptSize <= capacity;
  det.confidence = closed ? 0.95 : 0.75;
  return det;
}
