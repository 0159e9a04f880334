import { OutOfRangeError } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import type { DiskFormat, DiskLayer, LayerExtent } from '../types.js';

/**
 * The part COWD and seSparse share: a grain directory whose entries point at grain tables of a
 * fixed number of entries, each entry saying "parent", "zero" or "data at file offset X".
 * A format supplies `loadTable(t)` (read + decode GD entry t and its GT); this class does the
 * range mapping, the bounds checks of data grains against the file, merging and caching.
 */

/** Decoded grain-table entry codes; >= 0 is a byte offset of grain data in the file. */
export const GRAIN_PARENT = -1;
export const GRAIN_ZERO = -2;
/** Missing grains are coded -(MISSING_BASE + index into the table's `reasons`). */
const MISSING_BASE = 3;

export type TableState =
  | { kind: 'parent' }
  | { kind: 'zero' }
  | { kind: 'missing'; reason: string }
  | { kind: 'table'; codes: Float64Array; reasons: string[]; notes?: Record<string, number> };

/** Collects per-table "missing" reasons, deduplicated, and codes them. */
export class ReasonList {
  readonly reasons: string[] = [];
  private readonly index = new Map<string, number>();
  code(reason: string): number {
    let i = this.index.get(reason);
    if (i === undefined) {
      i = this.reasons.length;
      this.reasons.push(reason);
      this.index.set(reason, i);
    }
    return -(MISSING_BASE + i);
  }
}

/**
 * One directory entry as the allocatedBytes scan sees it: no table (parent), a zeroed table, an
 * unusable pointer, or the table's location (a key: a table named by two entries counts once).
 */
export type DirectoryEntry = 'empty' | 'zero' | 'bad' | number;

/** The directory as a flat array of fixed-size entries, for the bulk allocatedBytes walk. */
export interface DirectoryLayout {
  /** Byte offset of entry 0 in the file. */
  base: number;
  /** Bytes per entry. */
  width: number;
  classify(b: Uint8Array, at: number): DirectoryEntry;
}

interface DirectoryScan {
  load: number[];
  zeroTables: number;
  missingTables: number;
}

/** Reads `count` directory entries in large chunks (cost bounded by the file, not the claimed capacity). */
async function scanDirectory(src: ByteSource, dir: DirectoryLayout, count: number): Promise<DirectoryScan> {
  const scan: DirectoryScan = { load: [], zeroTables: 0, missingTables: 0 };
  const seen = new Set<number>();
  const per = 8192;
  for (let t0 = 0; t0 < count; t0 += per) {
    const n = Math.min(per, count - t0);
    const b = await src.read(dir.base + t0 * dir.width, n * dir.width);
    for (let i = 0; i < n; i++) {
      const e = dir.classify(b, i * dir.width);
      if (e === 'empty') continue;
      if (e === 'zero') scan.zeroTables++;
      // A table shared by two directory entries is counted once (the second is corruption).
      else if (e === 'bad' || seen.has(e)) scan.missingTables++;
      else {
        seen.add(e);
        scan.load.push(t0 + i);
      }
    }
  }
  return scan;
}

export interface GrainMapOptions {
  path: string;
  format: DiskFormat;
  capacity: number; // bytes
  grainBytes: number;
  grainsPerTable: number;
  source: ByteSource;
  /** Number of directory entries the capacity needs (tables 0 .. count-1). */
  tableCount: number;
  /** Decodes into `codes` when given (the allocatedBytes pass reuses one array), else into a new array. */
  loadTable(t: number, codes?: Float64Array): Promise<TableState>;
  /**
   * Tables from this index on have their directory entry past the end of the file (or past the
   * directory): all missing with `beyondReason`, answered without a load per table so absurd
   * capacities over a short file stay cheap.
   */
  tablesInFile?: number;
  beyondReason?: string;
  /**
   * Directory layout for allocatedBytes: only the tables worth loading (non-empty, valid, each
   * counted once) are loaded; without it every table up to tablesInFile is.
   */
  directory?: DirectoryLayout;
  /** Decoded tables kept (each grainsPerTable × 8 bytes). */
  cacheTables?: number;
  warnings: string[];
  /** Turns per-format notes summed over all tables into warnings (allocatedBytes scan). */
  describeNotes?(notes: Record<string, number>): string[];
}

export class GrainMapLayer implements DiskLayer {
  readonly path: string;
  readonly format: DiskFormat;
  readonly capacity: number;
  readonly grainSize: number;
  readonly warnings: string[];
  private readonly tableBytes: number;
  private readonly cache = new Map<number, Promise<TableState>>();
  private readonly maxCache: number;
  private allocated: Promise<number> | null = null;
  private readonly tablesInFile: number;

  constructor(private readonly o: GrainMapOptions) {
    this.path = o.path;
    this.format = o.format;
    this.capacity = o.capacity;
    this.grainSize = o.grainBytes;
    this.warnings = o.warnings;
    this.tableBytes = o.grainBytes * o.grainsPerTable;
    this.maxCache = o.cacheTables ?? 64;
    this.tablesInFile = Math.min(o.tableCount, o.tablesInFile ?? o.tableCount);
  }

  /** Decoded table t, through a bounded LRU (promises, so concurrent readers share one load). */
  private table(t: number): Promise<TableState> {
    const hit = this.cache.get(t);
    if (hit) {
      this.cache.delete(t);
      this.cache.set(t, hit);
      return hit;
    }
    const p = this.load(t);
    this.cache.set(t, p);
    p.catch(() => this.cache.delete(t));
    if (this.cache.size > this.maxCache) this.cache.delete(this.cache.keys().next().value as number);
    return p;
  }

  private async load(t: number, scratch?: Float64Array): Promise<TableState> {
    const st = await this.o.loadTable(t, scratch);
    if (st.kind !== 'table') return st;
    // Data grains must lie inside the file (only the part of the last grain below capacity counts).
    const reasons = new ReasonList();
    for (const r of st.reasons) reasons.code(r);
    const size = this.o.source.size;
    const pastEnd = `grain data past end of ${this.o.source.name} (size 0x${size.toString(16)})`;
    const codes = st.codes;
    const firstGrainStart = t * this.tableBytes;
    let pastEndCode = 0;
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i]!;
      if (c < 0) continue;
      const gStart = firstGrainStart + i * this.o.grainBytes;
      if (gStart >= this.capacity) {
        codes[i] = GRAIN_PARENT; // entries past the disk end are meaningless
        continue;
      }
      const need = Math.min(this.o.grainBytes, this.capacity - gStart);
      if (c + need > size) codes[i] = pastEndCode ||= reasons.code(pastEnd);
    }
    return { kind: 'table', codes, reasons: reasons.reasons, notes: st.notes };
  }

  async mapRange(offset: number, length: number): Promise<LayerExtent[]> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.capacity) {
      throw new OutOfRangeError(`mapRange outside ${this.path}: offset 0x${offset.toString(16)} length 0x${length.toString(16)} capacity 0x${this.capacity.toString(16)}`);
    }
    const out: LayerExtent[] = [];
    const end = offset + length;
    const gb = this.o.grainBytes;
    const src = this.o.source;
    let pos = offset;
    while (pos < end) {
      const t = Math.floor(pos / this.tableBytes);
      const tStart = t * this.tableBytes;
      const tEnd = Math.min(end, tStart + this.tableBytes);
      if (t >= this.tablesInFile) {
        push(out, { kind: 'missing', offset: pos, length: end - pos, reason: this.o.beyondReason ?? 'grain directory missing' });
        break;
      }
      const st = await this.table(t);
      if (st.kind === 'parent' || st.kind === 'zero') push(out, { kind: st.kind, offset: pos, length: tEnd - pos });
      else if (st.kind === 'missing') push(out, { kind: 'missing', offset: pos, length: tEnd - pos, reason: st.reason });
      else {
        const codes = st.codes;
        const gLimit = Math.ceil((tEnd - tStart) / gb); // grains of this table inside the range
        let g = Math.floor((pos - tStart) / gb);
        while (g < gLimit) {
          // Scan a run of grains of one kind (data: also contiguous in the file) in the typed array.
          const c = codes[g]!;
          let h = g + 1;
          if (c >= 0) while (h < gLimit && codes[h] === c + (h - g) * gb) h++;
          else while (h < gLimit && codes[h] === c) h++;
          const runEnd = Math.min(tEnd, tStart + h * gb);
          const n = runEnd - pos;
          if (c >= 0) pushData(out, pos, n, src, c + (pos - (tStart + g * gb)));
          else if (c === GRAIN_PARENT) push(out, { kind: 'parent', offset: pos, length: n });
          else if (c === GRAIN_ZERO) push(out, { kind: 'zero', offset: pos, length: n });
          else push(out, { kind: 'missing', offset: pos, length: n, reason: st.reasons[-c - MISSING_BASE] ?? 'missing' });
          pos = runEnd;
          g = h;
        }
      }
      pos = tEnd;
    }
    return out;
  }

  /** Data bytes stored in this file, from metadata only (one pass over every table, uncached). */
  allocatedBytes(): Promise<number> {
    this.allocated ??= (async () => {
      let data = 0;
      let zero = 0;
      let missing = 0;
      const notes: Record<string, number> = {};
      if (this.tablesInFile < this.o.tableCount) missing += (this.o.tableCount - this.tablesInFile) * this.o.grainsPerTable;
      // One decode buffer for the whole pass: a table per GT would be garbage (2048 × 32 KiB for 4 GiB of 512-byte grains).
      const scratch = new Float64Array(this.o.grainsPerTable);
      let tables: Iterable<number>;
      if (this.o.directory) {
        const scan = await scanDirectory(this.o.source, this.o.directory, this.tablesInFile);
        zero += scan.zeroTables * this.o.grainsPerTable;
        missing += scan.missingTables * this.o.grainsPerTable;
        tables = scan.load;
      } else {
        tables = (function* (n: number) {
          for (let t = 0; t < n; t++) yield t;
        })(this.tablesInFile);
      }
      for (const t of tables) {
        const st = this.cache.get(t) ? await this.cache.get(t)! : await this.load(t, scratch);
        if (st.kind === 'missing') missing += this.o.grainsPerTable;
        else if (st.kind === 'zero') zero += this.o.grainsPerTable;
        if (st.kind !== 'table') continue;
        for (const c of st.codes) {
          if (c >= 0) data++;
          else if (c === GRAIN_ZERO) zero++;
          else if (c <= -MISSING_BASE) missing++;
        }
        for (const [k, v] of Object.entries(st.notes ?? {})) notes[k] = (notes[k] ?? 0) + v;
      }
      if (zero > 0) this.warnings.push(`${this.path}: ${zero} zeroed grain(s) read as zeros`);
      if (missing > 0) this.warnings.push(`${this.path}: ${missing} grain(s) missing (metadata points outside the file or is corrupt)`);
      if (this.o.describeNotes) this.warnings.push(...this.o.describeNotes(notes).map((w) => `${this.path}: ${w}`));
      return data * this.o.grainBytes;
    })();
    return this.allocated;
  }
}

function pushData(out: LayerExtent[], offset: number, length: number, source: ByteSource, sourceOffset: number): void {
  const prev = out[out.length - 1];
  if (prev && prev.kind === 'data' && prev.source === source && prev.offset + prev.length === offset && prev.sourceOffset + prev.length === sourceOffset) {
    prev.length += length;
    return;
  }
  out.push({ kind: 'data', offset, length, source, sourceOffset });
}

function push(out: LayerExtent[], e: Exclude<LayerExtent, { kind: 'data' }>): void {
  const prev = out[out.length - 1];
  if (prev && prev.kind === e.kind && prev.offset + prev.length === e.offset && (e.kind !== 'missing' || (prev.kind === 'missing' && prev.reason === e.reason))) {
    prev.length += e.length;
    return;
  }
  out.push(e);
}
