import { runContent, SECTOR, type GrainRun } from './grain-runs.js';

/** A delta file being written: positional writes and reads (bytes never written read as zeros). */
export interface CowdOutput {
  write(buf: Uint8Array, pos: number): void;
  read(buf: Uint8Array, pos: number): void;
  /** Sets the final file length. */
  truncate(size: number): void;
  close?(): void;
}

/**
 * Writes a vmfsSparse (COWD) delta the way ESXi lays it out: 2 KiB header, grain directory at
 * sector 4, then grain tables (4096 u32 entries, 32 sectors) and grains appended at freeSector in
 * the order they are first written. Written independently of the reader from the format notes
 * (docs/format-notes.md "COWD (vmfsSparse)"), so qemu-img is the judge of both.
 */
export interface CowdBuildOptions {
  /** Where the delta file goes (positional writes; grain tables spill there and are read back). */
  out: CowdOutput;
  capacity: number; // bytes, sector multiple
  grainSectors?: number; // default 1 (ESXi)
  /** Grain runs in any order (write order = file order); later runs overwrite grains in place. */
  runs: Iterable<GrainRun>;
  /** GD entries forced to 1 ("zeroed table"), for reader tests. */
  zeroedTables?: readonly number[];
  /** Header numGDEntries override (reader tests). */
  numGDEntries?: number;
  parentFileName?: string;
}

export interface CowdBuildResult {
  fileSize: number;
  dataGrains: number;
  tables: number;
  /** Sector of each allocated GT by table index (for tests that damage one). */
  gtSectors: Map<number, number>;
}

const GT_ENTRIES = 4096;
const GT_SECTORS = (GT_ENTRIES * 4) / SECTOR;

export function writeCowdTo(o: CowdBuildOptions): CowdBuildResult {
  const grainSectors = o.grainSectors ?? 1;
  const grainBytes = grainSectors * SECTOR;
  const numSectors = o.capacity / SECTOR;
  if (!Number.isInteger(numSectors) || numSectors >= 2 ** 32) throw new Error(`bad COWD capacity ${o.capacity}`);
  const tableCount = Math.ceil(numSectors / (GT_ENTRIES * grainSectors));
  const gdOffset = 4;
  const gdSectors = Math.ceil((tableCount * 4) / SECTOR);
  const gd = new Uint32Array(tableCount);
  for (const t of o.zeroedTables ?? []) gd[t] = 1;
  let freeSector = gdOffset + gdSectors;
  const f = o.out;
  const gts = new TableSpill(f, GT_ENTRIES * 4, 64);
  const gtSectors = new Map<number, number>();
  let dataGrains = 0;

  const table = (t: number): DataView => {
    let fresh = false;
    if (gd[t] === 0 || gd[t] === 1) {
      gd[t] = freeSector;
      gtSectors.set(t, freeSector);
      freeSector += GT_SECTORS;
      fresh = true;
    }
    const b = gts.get(t, gd[t]! * SECTOR, fresh);
    return new DataView(b.buffer, b.byteOffset, b.length);
  };
  /** File sector of grain g, allocating it if it is not stored yet. */
  const grainSector = (g: number): number => {
    const gt = table(Math.floor(g / GT_ENTRIES));
    const i = (g % GT_ENTRIES) * 4;
    let s = gt.getUint32(i, true);
    if (s <= 1) {
      s = freeSector;
      freeSector += grainSectors;
      gt.setUint32(i, s, true);
      dataGrains++;
    }
    return s;
  };

  try {
    for (const run of o.runs) {
      if (run.kind === 'unmapped') throw new Error('COWD has no unmapped grains');
      if (run.kind === 'zero') {
        for (let g = run.firstGrain; g < run.firstGrain + run.count; g++) {
          const gt = table(Math.floor(g / GT_ENTRIES));
          if (gt.getUint32((g % GT_ENTRIES) * 4, true) > 1) dataGrains--;
          gt.setUint32((g % GT_ENTRIES) * 4, 1, true);
        }
        continue;
      }
      if (!run.bytes && !run.fill) {
        // A run without content is zeros: its grains are allocated, their bytes left a hole.
        for (let g = run.firstGrain; g < run.firstGrain + run.count; g++) grainSector(g);
        continue;
      }
      for (const [g0, buf] of runContent(run, grainBytes)) {
        // Coalesce grains that land next to each other in the file into one write.
        let startSector = -1;
        let startByte = 0;
        let prevSector = -2;
        const n = buf.length / grainBytes;
        for (let k = 0; k <= n; k++) {
          const s = k < n ? grainSector(g0 + k) : -1;
          if (s !== prevSector + grainSectors) {
            if (startSector >= 0) f.write(buf.subarray(startByte, k * grainBytes), startSector * SECTOR);
            startSector = s;
            startByte = k * grainBytes;
          }
          prevSector = s;
        }
      }
    }
    gts.flushAll();
    const header = new Uint8Array(4 * SECTOR);
    const h = new DataView(header.buffer);
    header.set([0x43, 0x4f, 0x57, 0x44], 0); // "COWD"
    h.setUint32(0x04, 1, true); // version (ESXi)
    h.setUint32(0x08, 3, true); // flags (ESXi)
    h.setUint32(0x0c, numSectors, true);
    h.setUint32(0x10, grainSectors, true);
    h.setUint32(0x14, gdOffset, true);
    h.setUint32(0x18, o.numGDEntries ?? tableCount, true);
    h.setUint32(0x1c, freeSector, true);
    if (o.parentFileName) header.set(new TextEncoder().encode(o.parentFileName).subarray(0, 1023), 0x20);
    f.write(header, 0);
    const gdBytes = new Uint8Array(gdSectors * SECTOR);
    const gdv = new DataView(gdBytes.buffer);
    gd.forEach((v, i) => gdv.setUint32(i * 4, v, true));
    f.write(gdBytes, gdOffset * SECTOR);
    f.truncate(freeSector * SECTOR);
  } finally {
    f.close?.();
  }
  return { fileSize: freeSector * SECTOR, dataGrains, tables: gtSectors.size, gtSectors };
}


/**
 * Keeps grain tables in memory while they are being filled, spilling the least recently touched
 * ones to the file (and reading them back if touched again), so any write order works with a
 * bounded amount of memory.
 */
export class TableSpill {
  private readonly live = new Map<number, Uint8Array>();
  private readonly positions = new Map<number, number>();
  constructor(
    private readonly file: Pick<CowdOutput, 'write' | 'read'>,
    private readonly tableBytes: number,
    private readonly max = 64,
  ) {}
  get(t: number, at: number, fresh: boolean): Uint8Array {
    let b = this.live.get(t);
    if (b) {
      this.live.delete(t);
      this.live.set(t, b);
      return b;
    }
    b = new Uint8Array(this.tableBytes);
    if (!fresh) this.file.read(b, at);
    this.live.set(t, b);
    this.positions.set(t, at);
    if (this.live.size > this.max) {
      const oldest = this.live.keys().next().value as number;
      this.file.write(this.live.get(oldest)!, this.positions.get(oldest)!);
      this.live.delete(oldest);
    }
    return b;
  }
  flushAll(): void {
    for (const [t, b] of this.live) this.file.write(b, this.positions.get(t)!);
    this.live.clear();
  }
}
