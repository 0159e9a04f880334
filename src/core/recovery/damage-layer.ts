import { u32 } from '../util/struct.js';
import { CachedSource, type ByteSource } from '../io/byte-source.js';
import type { DiskLayer, LayerExtent } from '../vmdk/types.js';
import { COWD_TABLE_BYTES, COWD_ENTRIES, SESPARSE_GDE_ALLOCATED_HI, SESPARSE_TABLE_BYTES, type DeltaHeader } from './delta-header.js';
import { lostIn } from './rebuilt-file.js';
import type { BlockPlan, LostRun } from './types.js';

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
  }

  /** Why the whole table t is lost (its GD entry or its GT sits in a lost block), or null. */
  private async tableLoss(t: number): Promise<string | null> {
    if (t >= this.header.gdEntries) return null; // the inner reader reports these itself
    if (this.header.format === 'seSparse') return this.seSparseTableLoss(t);
    const at = this.header.gdOffset + t * 4;
    const gdLoss = lostIn(this.plan, at, 4);
    if (gdLoss) return `grain directory entry ${t} lost: ${gdLoss}`;
    const gde = u32(await this.file.read(at, 4), 0);
    if (gde <= 1) return null;
    const gtAt = gde * 512;
    if (gtAt + COWD_TABLE_BYTES > this.plan.fileSize) return null; // inner reader: missing (past end)
    const gtLoss = lostIn(this.plan, gtAt, COWD_TABLE_BYTES);
    return gtLoss ? `grain table ${t} lost: ${gtLoss}` : null;
  }

  private async seSparseTableLoss(t: number): Promise<string | null> {
    const at = this.header.gdOffset + t * 8;
    const gdLoss = lostIn(this.plan, at, 8);
    if (gdLoss) return `grain directory entry ${t} lost: ${gdLoss}`;
    const b = await this.file.read(at, 8);
    if (u32(b, 4) !== SESPARSE_GDE_ALLOCATED_HI) return null; // empty or corrupt: the inner reader says which
    const gtAt = this.header.gtOffset + u32(b, 0) * SESPARSE_TABLE_BYTES;
    if (gtAt + SESPARSE_TABLE_BYTES > this.plan.fileSize) return null;
    const gtLoss = lostIn(this.plan, gtAt, SESPARSE_TABLE_BYTES);
    return gtLoss ? `grain table ${t} lost: ${gtLoss}` : null;
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
      const tEnd = Math.min(end, (t + 1) * this.tableBytes);
      const loss = await this.tableLoss(t);
      if (loss) push(out, { kind: 'missing', offset: pos, length: tEnd - pos, reason: loss });
      else {
        for (const e of await this.inner.mapRange(pos, tEnd - pos)) {
          if (e.kind !== 'data' || !lostIn(this.plan, e.sourceOffset, e.length)) {
            push(out, e);
            continue;
          }
          // Split a data extent grain by grain where its bytes sit in lost blocks.
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
      }
      pos = tEnd;
    }
    return out;
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
export async function damageReport(layer: DiskLayer, signal?: AbortSignal): Promise<{ lostRuns: LostRun[]; recoverableGrains: number; lostGrains: number }> {
  const lostRuns: LostRun[] = [];
  let recoverable = 0;
  let lost = 0;
  const step = 256 * COWD_ENTRIES * layer.grainSize;
  const g = layer.grainSize;
  for (let pos = 0; pos < layer.capacity; pos += step) {
    if (signal?.aborted) break;
    const n = Math.min(step, layer.capacity - pos);
    for (const e of await layer.mapRange(pos, n)) {
      const grains = Math.ceil((e.offset + e.length) / g) - Math.floor(e.offset / g);
      if (e.kind === 'data') recoverable += grains;
      else if (e.kind === 'missing') {
        lost += grains;
        const prev = lostRuns[lostRuns.length - 1];
        const sector = e.offset / 512;
        const sectors = Math.ceil(e.length / 512);
        if (prev && prev.reason === e.reason && prev.sector + prev.sectors === sector) prev.sectors += sectors;
        else lostRuns.push({ sector, sectors, reason: e.reason });
      }
    }
  }
  return { lostRuns, recoverableGrains: recoverable, lostGrains: lost };
}

/** The first slice's name for the COWD-only layer. */
export const DamagedCowdLayer = DamagedDeltaLayer;
