import { UnsupportedError } from '../errors.js';
import { isAllZero, putU32, SECTOR } from '../util/struct.js';
import { encodeKdmvHeader, KDMV_FLAGS } from '../vmdk/formats/kdmv-header.js';
import type { DiskWriter, WriterContext } from './disk-writer.js';
import { GrainAssembler } from './grain-assembler.js';
import { ceilDiv, DESCRIPTOR_SECTORS, embeddedDescriptor, GRAIN_SECTORS, GTES_PER_GT, roundUp } from './kdmv-layout.js';
import { Appender, QueuedSink } from './sink-queue.js';

/** Where everything of a monolithicSparse file goes (sectors), as docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized" says. */
export function sparseLayout(capacityBytes: number) {
  const capacity = capacityBytes / SECTOR;
  const grains = ceilDiv(capacity, GRAIN_SECTORS);
  const gtCount = ceilDiv(grains, GTES_PER_GT);
  const gdSectors = ceilDiv(gtCount * 4, SECTOR);
  const rgdOffset = 1 + DESCRIPTOR_SECTORS;
  const rgtStart = rgdOffset + gdSectors;
  const gdOffset = rgtStart + 4 * gtCount;
  const gtStart = gdOffset + gdSectors;
  const overHead = roundUp(gtStart + 4 * gtCount, GRAIN_SECTORS);
  return { capacity, grains, gtCount, gdSectors, rgdOffset, rgtStart, gdOffset, gtStart, overHead };
}

function directory(gtCount: number, gdSectors: number, firstGt: number): Uint8Array {
  const gd = new Uint8Array(gdSectors * SECTOR);
  for (let i = 0; i < gtCount; i++) putU32(gd, i * 4, firstGt + 4 * i);
  return gd;
}

/**
 * monolithicSparse (KDMV v1, flags 0x3): header, descriptor at sector 1, redundant and primary
 * GD/GT allocated up front, then only the non-zero grains appended in LBA order. Each GT is
 * written (both copies) once its 32 MiB range is done, so only the current GT stays in memory.
 */
export async function createSparseWriter(ctx: WriterContext): Promise<DiskWriter> {
  if (ctx.capacity % SECTOR !== 0) throw new UnsupportedError(`capacity ${ctx.capacity} is not a whole number of sectors`);
  const L = sparseLayout(ctx.capacity);
  // GTEs are 32-bit sector numbers: the file may not grow past 2^32 sectors even if every grain is stored.
  if (L.overHead + L.grains * GRAIN_SECTORS >= 0x1_0000_0000) {
    throw new UnsupportedError(`${ctx.fileName}: ${ctx.capacity} bytes is too large for monolithicSparse (2 TiB limit); export as flat`);
  }
  const descriptor = embeddedDescriptor(ctx, 'monolithicSparse');
  const sink = await ctx.create(ctx.fileName);
  const q = new QueuedSink(sink, 8);
  const header = encodeKdmvHeader({
    version: 1,
    flags: KDMV_FLAGS.newlineCheck | KDMV_FLAGS.redundantGd,
    capacity: L.capacity,
    grainSize: GRAIN_SECTORS,
    descriptorOffset: 1,
    descriptorSize: DESCRIPTOR_SECTORS,
    numGTEsPerGT: GTES_PER_GT,
    rgdOffset: L.rgdOffset,
    gdOffset: L.gdOffset,
    overHead: L.overHead,
    compressAlgorithm: 0,
  });
  await q.write(0, header);
  await q.write(SECTOR, descriptor);
  await q.write(L.rgdOffset * SECTOR, directory(L.gtCount, L.gdSectors, L.rgtStart));
  await q.write(L.gdOffset * SECTOR, directory(L.gtCount, L.gdSectors, L.gtStart));

  const grainBytes = GRAIN_SECTORS * SECTOR;
  const out = new Appender(q, L.overHead * SECTOR);
  let gtIndex = -1;
  let gt = new Uint8Array(GTES_PER_GT * 4);
  let gtDirty = false;

  const flushGt = async () => {
    if (gtIndex >= 0 && gtDirty) {
      // Both copies are identical (docs/format-notes.md, KDMV); the grains they point to were appended before (same queue).
      await q.write((L.rgtStart + 4 * gtIndex) * SECTOR, gt);
      await q.write((L.gtStart + 4 * gtIndex) * SECTOR, gt);
      gt = new Uint8Array(GTES_PER_GT * 4);
    }
    gtDirty = false;
  };

  const grains = new GrainAssembler(ctx.capacity, grainBytes, async (g, grain) => {
    if (isAllZero(grain)) return; // GTE 0: reads as zeros (no parent)
    const t = Math.floor(g / GTES_PER_GT);
    if (t !== gtIndex) {
      await flushGt();
      gtIndex = t;
    }
    putU32(gt, (g % GTES_PER_GT) * 4, out.position / SECTOR);
    gtDirty = true;
    await out.append(grain.length === grainBytes ? grain : padGrain(grain, grainBytes));
  });

  return {
    files: [ctx.fileName],
    // Grains are copied into the Appender's batches (GrainAssembler copies partial ones).
    releasesData: true,
    put: (p) => grains.put(p),
    async finish() {
      await grains.finish();
      await flushGt();
      await out.flush();
      await q.drain();
      await sink.truncate(Math.max(out.position, L.overHead * SECTOR));
      await sink.close();
    },
    bytesWritten: () => q.bytesWritten,
  };
}

function padGrain(g: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(g);
  return b;
}
