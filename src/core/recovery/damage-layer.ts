import { u32 } from '../util/struct.js';
import { CachedSource, type ByteSource } from '../io/byte-source.js';
import type { DiskLayer, LayerExtent } from '../vmdk/types.js';
import { COWD_TABLE_BYTES, COWD_ENTRIES, SESPARSE_GDE_ALLOCATED_HI, SESPARSE_TABLE_BYTES, type DeltaHeader } from './delta-header.js';
import { lostIn } from './rebuilt-file.js';
import type { BlockPlan, GuessedRun, LostRun } from './types.js';

/**
 * A rebuilt delta layer (COWD or seSparse) with its damage applied: a grain-table range whose GD
 * entry or GT lies in a lost block, and a data grain stored in a lost block, are reported as
 * 'missing' (the chain then reads the parent there). Everything else is the inner reader's answer.
 */
export class DamagedDeltaLayer implements DiskLayer {
  readonly path: string;
  readonly format: DiskLayer['format'];
  readonly capacity: number;
  readonly grainSize: number;
  private readonly tableBytes: number;
  private readonly file: ByteSource;
  /**
   * No block of the plan is lost or absent and the whole GD lies inside the file: no table can be
   * lost, so mapRange asks the inner reader for a whole range at once, not table by table.
   */
  private readonly tablesIntact: boolean;

  constructor(
    private readonly inner: DiskLayer,
    file: ByteSource,
    private readonly header: DeltaHeader,
    private readonly plan: BlockPlan,
  ) {
    this.file = new CachedSource(file, 64 * 1024, 16); // GD entries, 4 bytes at a time
    this.path = inner.path;
    this.format = inner.format;
    this.capacity = inner.capacity;
    this.grainSize = inner.grainSize;
    this.tableBytes = COWD_ENTRIES * header.grainBytes; // seSparse: 4096 grains per table too
    const gdLen = header.format === 'seSparse' ? 8 : 4;
    this.tablesIntact = plan.lost.size === 0 && plan.absent.length === 0 && header.gdOffset + header.gdEntries * gdLen <= plan.fileSize;
  }

  /** Why the whole table t is lost (its GD entry or its GT sits in a lost block), or null. */
  private async tableLoss(t: number): Promise<string | null> {
    const span = await this.tableSpan(t);
    if (!span) return null;
    const gdLoss = lostIn(this.plan, span.gdAt, span.gdLen);
    if (gdLoss) return `grain directory entry ${t} lost: ${gdLoss}`;
    const gtLoss = span.gtAt >= 0 ? lostIn(this.plan, span.gtAt, span.gtLen) : null;
    return gtLoss ? `grain table ${t} lost: ${gtLoss}` : null;
  }

  /**
   * Where table t's GD entry and GT sit in the file (gtAt -1: no table, or one the inner reader
   * reports itself); null past the GD. The GD entry is read only when its block is not lost.
   */
  private async tableSpan(t: number): Promise<{ gdAt: number; gdLen: number; gtAt: number; gtLen: number } | null> {
    if (t >= this.header.gdEntries) return null; // the inner reader reports these itself
    const se = this.header.format === 'seSparse';
    const gdLen = se ? 8 : 4;
    const gdAt = this.header.gdOffset + t * gdLen;
    const gtLen = se ? SESPARSE_TABLE_BYTES : COWD_TABLE_BYTES;
    if (lostIn(this.plan, gdAt, gdLen)) return { gdAt, gdLen, gtAt: -1, gtLen };
    const b = await this.file.read(gdAt, gdLen);
    let gtAt = -1;
    if (se) {
      if (u32(b, 4) === SESPARSE_GDE_ALLOCATED_HI) gtAt = this.header.gtOffset + u32(b, 0) * SESPARSE_TABLE_BYTES; // else empty or corrupt: the inner reader says which
    } else if (u32(b, 0) > 1) gtAt = u32(b, 0) * 512;
    if (gtAt + gtLen > this.plan.fileSize) gtAt = -1; // inner reader: missing (past end)
    return { gdAt, gdLen, gtAt, gtLen };
  }

  /**
   * A data extent of this layer split where its content's place in the file is inferred: the
   * grain's table, or the grain itself, sits in a block the plan placed by contiguity
   * (reason set), not where an FD, pointer block or the header fixes it (reason null).
   */
  async guessedParts(offset: number, length: number, sourceOffset: number): Promise<{ offset: number; length: number; reason: string | null }[]> {
    const guessed = this.plan.guessed;
    if (!guessed || guessed.size === 0) return [{ offset, length, reason: null }];
    const out: { offset: number; length: number; reason: string | null }[] = [];
    const bs = this.plan.blockSize;
    let p = 0;
    while (p < length) {
      const t = Math.floor((offset + p) / this.tableBytes);
      const span = await this.tableSpan(t);
      const tableWhy = span ? (guessedIn(this.plan, span.gdAt, span.gdLen) ?? (span.gtAt >= 0 ? guessedIn(this.plan, span.gtAt, span.gtLen) : null)) : null;
      // Up to the next table or source block boundary, whichever comes first.
      const src = sourceOffset + p;
      const step = Math.min(length - p, (t + 1) * this.tableBytes - (offset + p), (Math.floor(src / bs) + 1) * bs - src);
      const why = tableWhy ? `grain table ${t} ${tableWhy}` : guessedIn(this.plan, src, step);
      const prev = out[out.length - 1];
      if (prev && prev.reason === why) prev.length += step;
      else out.push({ offset: offset + p, length: step, reason: why });
      p += step;
    }
    return out;
  }

  async mapRange(offset: number, length: number): Promise<LayerExtent[]> {
    const out: LayerExtent[] = [];
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      const t = Math.floor(pos / this.tableBytes);
      if (t >= this.header.gdEntries) {
        // Past the GD: no table of ours can be lost there; the inner reader answers in one go.
        for (const e of await this.inner.mapRange(pos, end - pos)) push(out, e);
        break;
      }
      // Every table intact: up to the end of the GD in one call (the tables' data still checked).
      const tEnd = this.tablesIntact ? Math.min(end, this.header.gdEntries * this.tableBytes) : Math.min(end, (t + 1) * this.tableBytes);
      const loss = this.tablesIntact ? null : await this.tableLoss(t);
      if (loss) push(out, { kind: 'missing', offset: pos, length: tEnd - pos, reason: loss });
      else for (const e of await this.inner.mapRange(pos, tEnd - pos)) this.pushChecked(out, e);
      pos = tEnd;
    }
    return out;
  }

  /** Appends an extent of the inner reader, a data extent split grain by grain where its bytes sit in lost blocks. */
  private pushChecked(out: LayerExtent[], e: LayerExtent): void {
    if (e.kind !== 'data' || !lostIn(this.plan, e.sourceOffset, e.length)) return push(out, e);
    let p = e.offset;
    while (p < e.offset + e.length) {
      const gEnd = Math.min(e.offset + e.length, (Math.floor(p / this.grainSize) + 1) * this.grainSize);
      const src = e.sourceOffset + (p - e.offset);
      const why = lostIn(this.plan, src, gEnd - p);
      if (why) push(out, { kind: 'missing', offset: p, length: gEnd - p, reason: `grain data lost: ${why}` });
      else push(out, { kind: 'data', offset: p, length: gEnd - p, source: e.source, sourceOffset: src });
      p = gEnd;
    }
  }

  allocatedBytes(): Promise<number> {
    return this.inner.allocatedBytes();
  }
}

function push(out: LayerExtent[], e: LayerExtent): void {
  const prev = out[out.length - 1];
  if (prev && prev.offset + prev.length === e.offset && prev.kind === e.kind) {
    if (e.kind === 'data' && prev.kind === 'data') {
      if (prev.source === e.source && prev.sourceOffset + prev.length === e.sourceOffset) return void (prev.length += e.length);
    } else if (e.kind === 'missing' && prev.kind === 'missing') {
      if (prev.reason === e.reason) return void (prev.length += e.length);
    } else return void (prev.length += e.length);
  }
  out.push({ ...e });
}

/**
 * Walks a damaged layer once (table by table, so the cost is bounded by the GD, not the
 * capacity's bytes) and totals recoverable data grains and lost runs.
 */
export async function damageReport(layer: DiskLayer, signal?: AbortSignal): Promise<{ lostRuns: LostRun[]; recoverableGrains: number; lostGrains: number; guessedGrains: number; guessedRuns: GuessedRun[] }> {
  const lostRuns: LostRun[] = [];
  const guessedRuns: GuessedRun[] = [];
  let recoverable = 0;
  let lost = 0;
  let guessed = 0;
  const step = 256 * COWD_ENTRIES * layer.grainSize;
  const g = layer.grainSize;
  for (let pos = 0; pos < layer.capacity; pos += step) {
    if (signal?.aborted) break;
    const n = Math.min(step, layer.capacity - pos);
    for (const e of await layer.mapRange(pos, n)) {
      const grains = Math.ceil((e.offset + e.length) / g) - Math.floor(e.offset / g);
      if (e.kind === 'data' && layer instanceof DamagedDeltaLayer) {
        for (const part of await layer.guessedParts(e.offset, e.length, e.sourceOffset)) {
          const n = Math.ceil((part.offset + part.length) / g) - Math.floor(part.offset / g);
          if (part.reason === null) recoverable += n;
          else {
            guessed += n;
            appendRun(guessedRuns, part.offset, part.length, part.reason);
          }
        }
      } else if (e.kind === 'data') recoverable += grains;
      else if (e.kind === 'missing') {
        lost += grains;
        appendRun(lostRuns, e.offset, e.length, e.reason);
      }
    }
  }
  return { lostRuns, recoverableGrains: recoverable, lostGrains: lost, guessedGrains: guessed, guessedRuns };
}

/** Distinct reasons kept per merged run (a long run over many reused blocks may have one each). */
const MAX_RUN_REASONS = 16;
/** Said last when a merged run had more causes than it lists. */
const MORE_REASONS = 'and other reasons of the same kinds';

/** A reason with its numbers blanked: per-grain reasons that differ only by offset are one kind. */
const reasonKind = (r: string) => r.replace(/0x[0-9a-f]+|\d+/gi, '#');

/**
 * Appends disk bytes [offset, offset + length) to `runs` in sectors: adjacent to the last run, it
 * extends that run (one range, whatever the reasons) and adds its reason to the run's `reasons`.
 * Past MAX_RUN_REASONS, only a reason of a kind not listed yet is added (a lost grain table after
 * many lost grains stays visible), up to twice that bound.
 */
export function appendRun(runs: { sector: number; sectors: number; reason: string; reasons: string[] }[], offset: number, length: number, reason: string): void {
  const prev = runs[runs.length - 1];
  const sector = offset / 512;
  const sectors = Math.ceil(length / 512);
  if (prev && prev.sector + prev.sectors === sector) {
    prev.sectors += sectors;
    const list = prev.reasons;
    if (list.includes(reason)) return;
    const more = list[list.length - 1] === MORE_REASONS;
    const named = more ? list.length - 1 : list.length;
    if (named < MAX_RUN_REASONS) list.splice(named, 0, reason);
    else {
      const kind = reasonKind(reason);
      if (named < 2 * MAX_RUN_REASONS && !list.some((r) => reasonKind(r) === kind)) list.splice(named, 0, reason);
      if (!more) list.push(MORE_REASONS);
    }
    prev.reason = list.join('; ');
  } else runs.push({ sector, sectors, reason, reasons: [reason] });
}

/** Why file bytes [offset, offset + length) sit at an inferred place (first guessed block's reason), or null. */
export function guessedIn(plan: BlockPlan, offset: number, length: number): string | null {
  const g = plan.guessed;
  if (!g || g.size === 0 || length <= 0) return null;
  const bs = plan.blockSize;
  for (let i = Math.floor(offset / bs); i <= Math.floor((offset + length - 1) / bs); i++) {
    const r = g.get(i);
    if (r) return r;
  }
  return null;
}
