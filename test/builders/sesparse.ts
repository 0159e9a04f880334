import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { deltaDescriptor, PositionalFile, randomCid, runContent, SECTOR, TableSpill, writesToRuns, type ByteRange, type DeltaWrite, type GrainRun } from './delta-common.js';

/**
 * Writes a seSparse delta following docs/vmdk-format.md §5 (independently of the reader):
 * const header (sector 0), volatile header (sector 1), journal header/journal (left empty),
 * grain directory, grain-table slots, free bitmap and backmap (left zero), then 4 KiB grains.
 * GT slots and grain indices are handed out in first-write order, as ESXi does, so GD entry i
 * need not point at slot i and grain indices need not follow the LBA.
 */
export interface SeSparseBuildOptions {
  dataPath: string;
  capacity: number; // bytes, sector multiple
  runs: Iterable<GrainRun>;
  /** First grain index handed out (lets a small test reach indices ≥ 4096 without 16 MiB of data). */
  firstGrainIndex?: number;
  /** Volatile header replayJournal value (reader tests). */
  replayJournal?: number;
}

export interface SeSparseBuildResult {
  dataPath: string;
  fileSize: number;
  dataGrains: number;
  tables: number;
  /** Header layout in sectors. */
  layout: { gdOffset: number; gdSize: number; gtOffset: number; gtSize: number; grainsOffset: number };
  /** Byte offset of each allocated GT by table index. */
  gtOffsets: Map<number, number>;
}

const GRAIN_SECTORS = 8;
const GRAIN_BYTES = GRAIN_SECTORS * SECTOR;
const GT_ENTRIES = 4096;
const GT_SECTORS = 64;

/** GT entry for an allocated grain: type 3, low 12 index bits at 48..59, the rest at 0..47. */
export function seSparseDataEntry(index: number): bigint {
  return 0x3000000000000000n | (BigInt(index % 4096) << 48n) | BigInt(Math.floor(index / 4096));
}

export function writeSeSparse(o: SeSparseBuildOptions): SeSparseBuildResult {
  const capSectors = o.capacity / SECTOR;
  if (!Number.isInteger(capSectors)) throw new Error(`bad seSparse capacity ${o.capacity}`);
  const tableCount = Math.ceil(capSectors / (GRAIN_SECTORS * GT_ENTRIES));
  // ESXi's layout for small disks (hostd.log of a 100 MiB disk), grown where the disk needs more.
  const journalHdr = 2;
  const journal = 2048;
  const gdOffset = 4096;
  const gdSize = Math.max(2048, Math.ceil((tableCount * 8) / SECTOR / 8) * 8);
  const gtOffset = gdOffset + gdSize;
  const gtSize = Math.max(2048, tableCount * GT_SECTORS);
  const bitmapOffset = gtOffset + gtSize;
  const bitmapSize = 2048;
  const backmapOffset = bitmapOffset + bitmapSize;
  const backmapSize = 2048;
  const grainsOffset = backmapOffset + backmapSize;

  const gd = new Map<number, number>(); // table -> slot
  const gtOffsets = new Map<number, number>();
  let nextGrain = o.firstGrainIndex ?? 0;
  let dataGrains = 0;
  let maxEnd = grainsOffset * SECTOR;
  const f = new PositionalFile(o.dataPath);
  const gts = new TableSpill(f, GT_ENTRIES * 8, 64);

  const table = (t: number): DataView => {
    let slot = gd.get(t);
    const fresh = slot === undefined;
    if (slot === undefined) {
      slot = gd.size;
      gd.set(t, slot);
      gtOffsets.set(t, (gtOffset + slot * GT_SECTORS) * SECTOR);
    }
    const b = gts.get(t, gtOffsets.get(t)!, fresh);
    return new DataView(b.buffer, b.byteOffset, b.length);
  };
  const grainIndex = (g: number): number => {
    const gt = table(Math.floor(g / GT_ENTRIES));
    const i = (g % GT_ENTRIES) * 8;
    const e = gt.getBigUint64(i, true);
    if (e >> 60n === 3n) return Number(((e >> 48n) & 0xfffn) | ((e & 0xffffffffffffn) << 12n));
    const idx = nextGrain++;
    gt.setBigUint64(i, seSparseDataEntry(idx), true);
    dataGrains++;
    return idx;
  };

  try {
    for (const run of o.runs) {
      if (run.kind !== 'data') {
        const type = run.kind === 'zero' ? 0x2000000000000000n : 0x1000000000000000n;
        for (let g = run.firstGrain; g < run.firstGrain + run.count; g++) {
          const gt = table(Math.floor(g / GT_ENTRIES));
          if (gt.getBigUint64((g % GT_ENTRIES) * 8, true) >> 60n === 3n) dataGrains--;
          gt.setBigUint64((g % GT_ENTRIES) * 8, type, true);
        }
        continue;
      }
      if (!run.bytes && !run.fill) {
        // A run without content is zeros: its grains are allocated, their bytes left a hole.
        for (let g = run.firstGrain; g < run.firstGrain + run.count; g++) maxEnd = Math.max(maxEnd, grainsOffset * SECTOR + (grainIndex(g) + 1) * GRAIN_BYTES);
        continue;
      }
      for (const [g0, buf] of runContent(run, GRAIN_BYTES)) {
        let startIdx = -1;
        let startByte = 0;
        let prev = -2;
        const n = buf.length / GRAIN_BYTES;
        for (let k = 0; k <= n; k++) {
          const idx = k < n ? grainIndex(g0 + k) : -1;
          if (idx !== prev + 1) {
            if (startIdx >= 0) {
              const at = grainsOffset * SECTOR + startIdx * GRAIN_BYTES;
              f.write(buf.subarray(startByte, k * GRAIN_BYTES), at);
              maxEnd = Math.max(maxEnd, at + (k * GRAIN_BYTES - startByte));
            }
            startIdx = idx;
            startByte = k * GRAIN_BYTES;
          }
          prev = idx;
        }
      }
    }
    gts.flushAll();

    const h = new DataView(new ArrayBuffer(SECTOR));
    const fields: [number, bigint | number][] = [
      [0x00, 0xcafebaben],
      [0x08, 0x0000000200000001n],
      [0x10, capSectors],
      [0x18, GRAIN_SECTORS],
      [0x20, GT_SECTORS],
      [0x50, 1], // volatile header
      [0x58, 1],
      [0x60, 2], // journal header
      [0x68, journalHdr],
      [0x70, journal], // journal
      [0x78, journal],
      [0x80, gdOffset],
      [0x88, gdSize],
      [0x90, gtOffset],
      [0x98, gtSize],
      [0xa0, bitmapOffset],
      [0xa8, bitmapSize],
      [0xb0, backmapOffset],
      [0xb8, backmapSize],
      [0xc0, grainsOffset],
      [0xc8, capSectors],
    ];
    for (const [off, v] of fields) h.setBigUint64(off, BigInt(v), true);
    f.write(new Uint8Array(h.buffer), 0);
    const vh = new DataView(new ArrayBuffer(SECTOR));
    vh.setBigUint64(0x00, 0xcafecafen, true);
    vh.setBigUint64(0x08, BigInt(gd.size), true); // freeGTNumber
    vh.setBigUint64(0x10, 1n, true);
    vh.setBigUint64(0x18, BigInt(o.replayJournal ?? 0), true);
    f.write(new Uint8Array(vh.buffer), SECTOR);
    const gdBytes = new Uint8Array(gdSize * SECTOR);
    const gdv = new DataView(gdBytes.buffer);
    for (const [t, slot] of gd) gdv.setBigUint64(t * 8, 0x1000000000000000n | BigInt(slot), true);
    f.write(gdBytes, gdOffset * SECTOR);
    f.truncate(maxEnd);
  } finally {
    f.close();
  }
  return { dataPath: o.dataPath, fileSize: maxEnd, dataGrains, tables: gd.size, layout: { gdOffset, gdSize, gtOffset, gtSize, grainsOffset }, gtOffsets };
}

export interface SeSparseDeltaOptions {
  dir: string;
  /** Files are `<name>.vmdk` (descriptor) and `<name>-sesparse.vmdk`. */
  name: string;
  capacity: number;
  writes?: readonly DeltaWrite[];
  zeroed?: readonly ByteRange[];
  unmapped?: readonly ByteRange[];
  runs?: Iterable<GrainRun>;
  firstGrainIndex?: number;
  parentFileNameHint: string;
  parentCid: string;
  cid?: string;
}

/** A seSparse delta plus its `seSparse` descriptor. */
export function buildSeSparseDelta(o: SeSparseDeltaOptions): SeSparseBuildResult & { descriptorPath: string; cid: string } {
  const dataName = `${o.name}-sesparse.vmdk`;
  const res = writeSeSparse({
    dataPath: path.join(o.dir, dataName),
    capacity: o.capacity,
    runs: o.runs ?? writesToRuns(o.capacity, GRAIN_BYTES, o.writes, o.zeroed, o.unmapped),
    firstGrainIndex: o.firstGrainIndex,
  });
  const cid = o.cid ?? randomCid(o.capacity ^ (o.name.length * 7919) ^ res.dataGrains);
  const descriptorPath = path.join(o.dir, `${o.name}.vmdk`);
  writeFileSync(
    descriptorPath,
    deltaDescriptor({ createType: 'seSparse', extentType: 'SESPARSE', capacity: o.capacity, dataFileName: dataName, cid, parentCid: o.parentCid, parentFileNameHint: o.parentFileNameHint }),
  );
  return { ...res, descriptorPath, cid };
}
