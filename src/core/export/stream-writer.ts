import { UnsupportedError } from '../errors.js';
import { isAllZero, putU32, putU64, SECTOR } from '../util/struct.js';
import { deflateZlib } from './deflate.js';
import {
  COMPRESS_DEFLATE,
  encodeKdmvHeader,
  encodeMarker,
  GD_AT_END,
  KDMV_FLAGS,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  type KdmvHeaderValues,
} from '../vmdk/formats/kdmv-header.js';
import type { DiskWriter, WriterContext } from './disk-writer.js';
import { GrainAssembler } from './grain-assembler.js';
import { ceilDiv, DESCRIPTOR_SECTORS, embeddedDescriptor, GRAIN_SECTORS, GTES_PER_GT, roundUp } from './kdmv-layout.js';
import { Appender, QueuedSink } from './sink-queue.js';

/** Grains compressed concurrently ahead of the (strictly sequential) record writes. */
const COMPRESS_AHEAD = 8;

/**
 * streamOptimized (KDMV v3, flags 0x30001; docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized"): header with GD_AT_END, descriptor, then in
 * LBA order the compressed grain records; after each GT's grains a GT marker + GT; then GD marker
 * + GD, footer marker + footer (the header with the real gdOffset), end-of-stream marker last.
 * Only the GD stays in memory. The file is written strictly sequentially.
 */
export async function createStreamWriter(
  ctx: WriterContext,
  deflate: (data: Uint8Array) => Promise<Uint8Array> = deflateZlib,
): Promise<DiskWriter> {
  if (ctx.capacity % SECTOR !== 0) throw new UnsupportedError(`capacity ${ctx.capacity} is not a whole number of sectors`);
  const capacity = ctx.capacity / SECTOR;
  const gtCount = ceilDiv(ceilDiv(capacity, GRAIN_SECTORS), GTES_PER_GT);
  const gdSectors = ceilDiv(gtCount * 4, SECTOR);
  const overHead = roundUp(1 + DESCRIPTOR_SECTORS, GRAIN_SECTORS);
  const descriptor = embeddedDescriptor(ctx, 'streamOptimized');
  const headerValues: KdmvHeaderValues = {
    version: 3,
    flags: KDMV_FLAGS.newlineCheck | KDMV_FLAGS.compressed | KDMV_FLAGS.markers,
    capacity,
    grainSize: GRAIN_SECTORS,
    descriptorOffset: 1,
    descriptorSize: DESCRIPTOR_SECTORS,
    numGTEsPerGT: GTES_PER_GT,
    rgdOffset: 0,
    gdOffset: GD_AT_END,
    overHead,
    compressAlgorithm: COMPRESS_DEFLATE,
  };
  const sink = await ctx.create(ctx.fileName);
  const q = new QueuedSink(sink, 4);
  const out = new Appender(q, 0);
  await out.append(encodeKdmvHeader(headerValues));
  await out.append(descriptor);
  await out.append(new Uint8Array((overHead - 1 - DESCRIPTOR_SECTORS) * SECTOR));

  const gd = new Uint8Array(gdSectors * SECTOR);
  let gtIndex = -1;
  let gt = new Uint8Array(GTES_PER_GT * 4);
  let gtUsed = false;
  const ahead: { g: number; z: Promise<Uint8Array> }[] = [];

  const writeRecord = async (g: number, z: Uint8Array) => {
    // GTEs are 32-bit sector numbers.
    if (out.position / SECTOR >= 0xffff0000) throw new UnsupportedError(`${ctx.fileName}: compressed output passes 2 TiB, too large for streamOptimized; export as flat`);
    const rec = new Uint8Array(roundUp(12 + z.length, SECTOR));
    putU64(rec, 0, g * GRAIN_SECTORS);
    putU32(rec, 8, z.length);
    rec.set(z, 12);
    putU32(gt, (g % GTES_PER_GT) * 4, out.position / SECTOR);
    gtUsed = true;
    await out.append(rec);
  };
  const drainOne = async () => {
    const a = ahead.shift()!;
    await writeRecord(a.g, await a.z);
  };
  const flushGt = async () => {
    while (ahead.length > 0) await drainOne();
    if (gtIndex >= 0 && gtUsed) {
      await out.append(encodeMarker(4, MARKER_GT));
      putU32(gd, gtIndex * 4, out.position / SECTOR);
      await out.append(gt);
      gt = new Uint8Array(GTES_PER_GT * 4);
    }
    gtUsed = false;
  };

  const grains = new GrainAssembler(ctx.capacity, GRAIN_SECTORS * SECTOR, async (g, grain) => {
    if (isAllZero(grain)) return;
    const t = Math.floor(g / GTES_PER_GT);
    if (t !== gtIndex) {
      await flushGt();
      gtIndex = t;
    }
    const z = deflate(grain);
    z.catch(() => {});
    ahead.push({ g, z });
    if (ahead.length >= COMPRESS_AHEAD) await drainOne();
  });

  return {
    files: [ctx.fileName],
    put: (p) => grains.put(p),
    async finish() {
      await grains.finish();
      await flushGt();
      await out.append(encodeMarker(gdSectors, MARKER_GD));
      const gdOffset = out.position / SECTOR;
      await out.append(gd);
      await out.append(encodeMarker(1, MARKER_FOOTER));
      await out.append(encodeKdmvHeader({ ...headerValues, gdOffset }));
      await out.append(encodeMarker(0, MARKER_EOS));
      await out.flush();
      await q.drain();
      await sink.close();
    },
    bytesWritten: () => q.bytesWritten,
  };
}
