import { COWD_GT_ENTRIES, COWD_HEADER, COWD_MAGIC } from '../vmdk/formats/cowd.js';
import { SESPARSE_CONST_HEADER, SESPARSE_GT_ENTRIES, SESPARSE_MAGIC_LO } from '../vmdk/formats/sesparse.js';
import { kdmvGeometry, parseKdmvHeader } from '../vmdk/formats/hosted-sparse.js';
import { KDMV_MAGIC } from '../vmdk/formats/kdmv-header.js';
import { RescueError } from '../errors.js';
import { SECTOR, u32 } from '../util/struct.js';
import type { DeltaFormat, RemnantKind } from './types.js';

/** Bytes read at a block start to recognise a delta header (the COWD header is 0x800). */
export const HEADER_PROBE_BYTES = 0x800;
const HEADER_SECTORS = 4;

/** A delta header that passed the sanity checks, with the file extent it implies. */
export interface DeltaHeader {
  format: DeltaFormat;
  capacityBytes: number;
  grainBytes: number;
  /** Bytes of the delta file the header says exist (COWD: freeSector; seSparse: the metadata only, until seSparseDataEnd). */
  fileSize: number;
  /** Grain directory byte offset and entries used (COWD: u32 sectors; seSparse: u64 GT slots). */
  gdOffset: number;
  gdEntries: number;
  /** seSparse: byte offset of the grain-table area (slot n at gtOffset + n × 32 KiB), grain area and its sectors. COWD: 0. */
  gtOffset: number;
  grainsOffset: number;
  grainsSectors: number;
  /** Notes on anything odd but tolerated (numGDEntries mismatch, unclean shutdown). */
  notes: string[];
}

/**
 * Recognises a COWD or seSparse header at the start of `head` and bounds every field against
 * `maxFileSize` (the volume: a delta cannot be larger). Returns null for anything else, so random
 * data that happens to start with 'COWD' is rejected here and never drives a read.
 */
export function probeDeltaHeader(head: Uint8Array, maxFileSize: number): DeltaHeader | null {
  const r = probeHeaderRemnant(head, maxFileSize);
  return r && 'format' in r ? r : null;
}

/** A block start that carries a header magic but is not a usable delta header, and why. */
export interface HeaderRejection {
  kind: RemnantKind;
  reason: string;
}

/**
 * probeDeltaHeader that also says why a block starting with a delta or KDMV magic is not taken
 * (a rejected remnant); null when no header magic is there at all. Never throws on bytes.
 */
export function probeHeaderRemnant(head: Uint8Array, maxFileSize: number): DeltaHeader | HeaderRejection | null {
  const m = head.length >= 4 ? u32(head, 0) : 0;
  try {
    if (m === COWD_MAGIC) return head.length >= HEADER_PROBE_BYTES ? why('cowd-header', probeCowd(head, maxFileSize)) : null;
    if (m === SESPARSE_MAGIC_LO && head.length >= SESPARSE_CONST_HEADER.size && u32(head, 4) === 0) return why('sesparse-header', probeSeSparse(head, maxFileSize));
    if (m === KDMV_MAGIC) return { kind: 'kdmv-header', reason: kdmvReason(head) };
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
    return { kind: m === COWD_MAGIC ? 'cowd-header' : m === KDMV_MAGIC ? 'kdmv-header' : 'sesparse-header', reason: e.message };
  }
  return null;
}

function why(kind: RemnantKind, r: DeltaHeader | string): DeltaHeader | HeaderRejection {
  return typeof r === 'string' ? { kind, reason: r } : r;
}

/**
 * A KDMV header in free space is a hosted sparse extent (monolithicSparse and the like), never a
 * VMFS snapshot delta: it is reported, not rebuilt. The header is still checked so the reason
 * says whether it was even valid.
 */
function kdmvReason(head: Uint8Array): string {
  const h = kdmvGeometry(parseKdmvHeader(head, 'KDMV header'), 'KDMV header', false, []);
  return `hosted sparse (KDMV) header, capacity ${h.capacitySectors * SECTOR}: not a VMFS snapshot delta, not rebuilt`;
}

function probeCowd(head: Uint8Array, maxFileSize: number): DeltaHeader | string {
  const h = COWD_HEADER.parse(head);
  if (h.version !== 1) return `COWD version ${h.version} (only 1 is known)`;
  const g = h.grainSize;
  if (g === 0 || g > 2048 || (g & (g - 1)) !== 0) return `COWD grainSize ${g} sectors is not a power of two up to 2048`;
  if (h.numSectors === 0) return 'COWD numSectors is 0';
  const tables = Math.ceil(h.numSectors / (COWD_GT_ENTRIES * g));
  if (h.numGDEntries === 0 || h.numGDEntries > tables * 2 + 1) return `COWD numGDEntries ${h.numGDEntries} does not fit a capacity of ${h.numSectors} sectors (${tables} tables)`;
  if (h.gdOffset < HEADER_SECTORS) return `COWD gdOffset ${h.gdOffset} lies inside the header`;
  const gdEnd = h.gdOffset * SECTOR + h.numGDEntries * 4;
  const fileSize = h.freeSector * SECTOR;
  if (fileSize < gdEnd || fileSize > maxFileSize) return `COWD freeSector ${h.freeSector} puts the file end outside [end of the grain directory, volume size]`;
  const notes: string[] = [];
  if (h.numGDEntries !== tables) notes.push(`numGDEntries ${h.numGDEntries} differs from ${tables} needed`);
  if (h.uncleanShutdown !== 0) notes.push('uncleanShutdown set');
  return { format: 'vmfsSparse', capacityBytes: h.numSectors * SECTOR, grainBytes: g * SECTOR, fileSize, gdOffset: h.gdOffset * SECTOR, gdEntries: h.numGDEntries, gtOffset: 0, grainsOffset: 0, grainsSectors: 0, notes };
}

function probeSeSparse(head: Uint8Array, maxFileSize: number): DeltaHeader | string {
  const h = SESPARSE_CONST_HEADER.parse(head);
  if (h.grainSize !== 8n || h.grainTableSize !== 64n) return `seSparse grainSize ${h.grainSize} / grainTableSize ${h.grainTableSize} (only 8 / 64 are known)`;
  const cap = h.capacity;
  if (cap === 0 || cap > 2 ** 37) return `seSparse capacity ${cap} sectors is out of range`;
  // grainsSize is the reserved grain area (ESXi sizes it to the capacity); the file holds only
  // the grains written so far, so the file size comes later from the grain tables (seSparseDataEnd).
  // Here only the metadata, which precedes the grains, must fit in the volume.
  const meta = h.grainsOffset * SECTOR;
  if (!Number.isSafeInteger(meta) || meta > maxFileSize || h.grainsOffset === 0 || h.grainsSize === 0 || h.grainsSize > 2 ** 40) return `seSparse grain area (offset ${h.grainsOffset}, ${h.grainsSize} sectors) is out of range`;
  // The metadata areas must lie inside the file, in order, before the grains.
  const gdEnd = h.grainDirOffset + h.grainDirSize;
  const gtEnd = h.grainTablesOffset + h.grainTablesSize;
  if (h.grainDirOffset < 2 || h.grainDirSize === 0 || gdEnd > h.grainTablesOffset || h.grainTablesSize === 0 || gtEnd > h.grainsOffset) return 'seSparse grain directory, grain tables and grains are not in order inside the file';
  const tables = Math.ceil(cap / (8 * SESPARSE_GT_ENTRIES));
  const gdEntries = Math.min(tables, h.grainDirSize * 64);
  const notes = gdEntries < tables ? [`grain directory holds ${h.grainDirSize * 64} entries, ${tables} needed`] : [];
  return { format: 'seSparse', capacityBytes: cap * SECTOR, grainBytes: 4096, fileSize: meta, gdOffset: h.grainDirOffset * SECTOR, gdEntries, gtOffset: h.grainTablesOffset * SECTOR, grainsOffset: h.grainsOffset * SECTOR, grainsSectors: h.grainsSize, notes };
}

/**
 * Sanity of one COWD grain table read from a guessed place: every entry is 0 (parent), 1 (zeroed)
 * or a grain sector inside [firstData, endSector) on a grain boundary relative to firstData, and
 * no sector is used twice. Returns the number of data grains, or -1 when the table does not fit.
 */
export function cowdTableFits(gt: Uint8Array, firstDataSector: number, endSector: number): number {
  const seen = new Set<number>();
  let data = 0;
  for (let i = 0; i < COWD_GT_ENTRIES; i++) {
    const e = u32(gt, i * 4);
    if (e <= 1) continue;
    if (e < firstDataSector || e >= endSector || seen.has(e)) return -1;
    seen.add(e);
    data++;
  }
  return data;
}

export const COWD_TABLE_BYTES = COWD_GT_ENTRIES * 4;
export const COWD_ENTRIES = COWD_GT_ENTRIES;

/** seSparse grain table bytes (4096 u64 entries) and the GD entry of an allocated table (high word). */
export const SESPARSE_TABLE_BYTES = SESPARSE_GT_ENTRIES * 8;
export const SESPARSE_GDE_ALLOCATED_HI = 0x10000000;

/**
 * Sanity of one seSparse grain table read from a guessed place: entry types 0 (parent, all bits
 * clear), 1 (unmapped), 2 (zero) or 3 (grain index inside the grain area, used once). Returns the
 * number of data grains, or -1 when the table does not fit.
 */
export function seSparseTableFits(gt: Uint8Array, grainsInArea: number): number {
  const seen = new Set<number>();
  let data = 0;
  for (let i = 0; i < SESPARSE_GT_ENTRIES; i++) {
    const lo = u32(gt, i * 8);
    const hi = u32(gt, i * 8 + 4);
    const type = hi >>> 28;
    if (type === 0) {
      if (lo !== 0 || hi !== 0) return -1;
      continue;
    }
    if (type === 1 || type === 2) continue;
    if (type !== 3) return -1;
    const index = ((hi & 0xffff) * 0x1_0000_0000 + lo) * 4096 + ((hi >>> 16) & 0xfff);
    if (index >= grainsInArea || seen.has(index)) return -1;
    seen.add(index);
    data++;
  }
  return data;
}
