import { CorruptError, UserError } from '../errors.js';
import { checkRange, ExtentSource, SliceSource, type ByteSource, type SourceRun } from '../io/byte-source.js';
import { readInto, type ReadIntoSource } from '../io/read-into.js';
import { gfInv, gfMulTable, gfMulXor, gfPow2, xorInto } from './gf256.js';
import { checkGeometry, dataDisks, hasParity, isStriped, parityRow, placeChunk, type RaidGeometry } from './layout.js';

/** An array to present: its geometry, the member disks by raid_disk index (null = missing) and where each one's data starts. */
export interface RaidConfig extends RaidGeometry {
  /** By raid_disk index (jbod: concatenation order); null for a missing member. */
  members: (ByteSource | null)[];
  /** Bytes of controller metadata before the data, per member (same index). */
  offsets: number[];
  /** The LUN's size when known (its GPT's); default: the array's capacity. */
  sizeBytes?: number;
}

/** Members each array can lose and still be read. */
export function maxMissing(g: RaidGeometry): number {
  return g.level === 'raid5' ? 1 : g.level === 'raid6' ? 2 : g.level === 'raid1' ? g.disks - 1 : g.level === 'raid10' ? Math.floor(g.disks / 2) : 0;
}

/** Bytes of data each member holds from its start offset (the shortest present member decides). */
function memberSpan(cfg: RaidConfig): number {
  let span = Infinity;
  cfg.members.forEach((m, i) => {
    if (m) span = Math.min(span, m.size - cfg.offsets[i]!);
  });
  return span;
}

/** The array's capacity in bytes: whole rows of every present member. */
export function arrayCapacity(cfg: RaidConfig): number {
  if (cfg.level === 'jbod') return cfg.members.reduce((s, m, i) => s + (m ? m.size - cfg.offsets[i]! : 0), 0);
  const span = memberSpan(cfg);
  if (!Number.isFinite(span) || span <= 0) return 0;
  if (cfg.level === 'raid1') return span;
  const rows = Math.floor(span / cfg.stripeBytes);
  const chunks = cfg.level === 'raid10' ? Math.floor((rows * cfg.disks) / 2) : rows * dataDisks(cfg);
  return chunks * cfg.stripeBytes;
}

function checkConfig(cfg: RaidConfig): void {
  checkGeometry(cfg);
  if (cfg.members.length !== cfg.disks || cfg.offsets.length !== cfg.disks) throw new UserError(`${cfg.level}: ${cfg.disks} disks but ${cfg.members.length} members and ${cfg.offsets.length} offsets`);
  cfg.members.forEach((m, i) => {
    const off = cfg.offsets[i]!;
    if (!Number.isSafeInteger(off) || off < 0 || (m && off > m.size)) throw new UserError(`member ${m?.name ?? i}: start offset ${off} is outside the member`);
  });
  const missing = cfg.members.filter((m) => !m).length;
  if (missing > maxMissing(cfg)) throw new UserError(`${cfg.level} of ${cfg.disks} disks cannot be read with ${missing} member(s) missing (at most ${maxMissing(cfg)})`);
  if (cfg.level === 'raid10') {
    for (let d = 0; d < cfg.disks; d += 2) {
      if (cfg.disks % 2 === 0 && !cfg.members[d] && !cfg.members[d + 1]) throw new UserError(`raid10: both copies of data column ${d / 2} are missing`);
    }
    if (cfg.disks % 2 && missing > 0) throw new UserError('raid10 on an odd number of disks is read only with every member present');
  }
}

/** The LUN of an array as one ByteSource: striped levels computed chunk by chunk, raid1 and jbod as extents. */
export function openRaid(cfg: RaidConfig, name = `${cfg.level} of ${cfg.disks}`): ByteSource {
  checkConfig(cfg);
  const capacity = arrayCapacity(cfg);
  const size = cfg.sizeBytes ?? capacity;
  if (!Number.isSafeInteger(size) || size < 0 || size > capacity) {
    throw new CorruptError(`${name}: LUN size ${size} is larger than the array's capacity ${capacity} (a member is shorter than the array)`);
  }
  if (cfg.level === 'raid1') {
    const i = cfg.members.findIndex((m) => m);
    return new SliceSource(cfg.members[i]!, cfg.offsets[i]!, size, name);
  }
  if (cfg.level === 'jbod') {
    const runs: SourceRun[] = [];
    let pos = 0;
    cfg.members.forEach((m, i) => {
      const len = Math.min(m!.size - cfg.offsets[i]!, size - pos);
      if (len > 0) runs.push({ offset: pos, length: len, source: m, sourceOffset: cfg.offsets[i]! });
      pos += Math.max(0, len);
    });
    return new ExtentSource(runs, size, name);
  }
  return new StripedSource(cfg, size, name);
}

/** Pieces of one read served in parallel, a bounded number at a time. */
const PARALLEL = 32;

class StripedSource implements ReadIntoSource {
  private readonly chunk: number;
  private readonly nd: number;
  constructor(
    private readonly cfg: RaidConfig,
    readonly size: number,
    readonly name: string,
  ) {
    if (!isStriped(cfg.level)) throw new Error(`${cfg.level} is not striped`);
    this.chunk = cfg.stripeBytes;
    this.nd = dataDisks(cfg);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  async readInto(offset: number, dest: Uint8Array): Promise<void> {
    checkRange(this, offset, dest.length);
    const end = offset + dest.length;
    const jobs: Promise<void>[] = [];
    for (let pos = offset; pos < end; ) {
      const c = Math.floor(pos / this.chunk);
      const within = pos - c * this.chunk;
      const n = Math.min(this.chunk - within, end - pos);
      jobs.push(this.fillChunk(c, within, dest.subarray(pos - offset, pos - offset + n)));
      if (jobs.length >= PARALLEL) await Promise.all(jobs.splice(0));
      pos += n;
    }
    await Promise.all(jobs);
  }

  private memberRead(disk: number, row: number, within: number, dest: Uint8Array): Promise<void> {
    return readInto(this.cfg.members[disk]!, this.cfg.offsets[disk]! + row * this.chunk + within, dest);
  }

  private async fillChunk(c: number, within: number, dest: Uint8Array): Promise<void> {
    const place = placeChunk(this.cfg, c);
    for (let k = 0; k < place.disks.length; k++) {
      if (this.cfg.members[place.disks[k]!]) return this.memberRead(place.disks[k]!, place.rows[k]!, within, dest);
    }
    if (!hasParity(this.cfg.level)) throw new Error(`no copy of chunk ${c}`); // checkConfig rules this out
    return this.rebuild(place.rows[0]!, c % this.nd, within, dest);
  }

  /** Data chunk dd of `row` from the other members: P alone (raid5, or raid6 with P), else Q, else P and Q together. */
  private async rebuild(row: number, dd: number, within: number, dest: Uint8Array): Promise<void> {
    const pr = parityRow(this.cfg, row);
    const present = (d: number) => d >= 0 && this.cfg.members[d] !== null;
    const piece = async (d: number) => {
      const b = new Uint8Array(dest.length);
      await this.memberRead(d, row, within, b);
      return b;
    };
    const others = pr.data.map((d, k) => ({ d, k })).filter((x) => x.k !== dd);
    const lost = others.filter((x) => !present(x.d));
    const have = others.filter((x) => present(x.d));
    const pieces = await Promise.all(have.map((x) => piece(x.d)));
    if (lost.length === 0 && present(pr.p)) {
      dest.set(await piece(pr.p));
      for (const b of pieces) xorInto(dest, b);
      return;
    }
    // Q syndrome of what is present, into dest (then Q_missing = Q ^ that).
    const qPart = await piece(pr.q);
    have.forEach((x, i) => gfMulXor(qPart, pieces[i]!, gfMulTable(gfPow2(pr.qSlot[x.k]!))));
    if (lost.length === 0) {
      // P is missing too: D = Qpart · g^-slot.
      const t = gfMulTable(gfInv(gfPow2(pr.qSlot[dd]!)));
      for (let i = 0; i < dest.length; i++) dest[i] = t[qPart[i]!]!;
      return;
    }
    // Two data chunks missing: D_t = (Qxy ^ g^u · Pxy) / (g^t ^ g^u).
    const pxy = await piece(pr.p);
    for (const b of pieces) xorInto(pxy, b);
    const gu = gfPow2(pr.qSlot[lost[0]!.k]!);
    gfMulXor(qPart, pxy, gfMulTable(gu));
    const t = gfMulTable(gfInv(gfPow2(pr.qSlot[dd]!) ^ gu));
    for (let i = 0; i < dest.length; i++) dest[i] = t[qPart[i]!]!;
  }
}
