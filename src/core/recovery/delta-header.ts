import { COWD_HEADER } from '../vmdk/formats/cowd.js';
import { SESPARSE_CONST_HEADER } from '../vmdk/formats/sesparse.js';
import { SECTOR, u32 } from '../util/struct.js';
import type { DeltaFormat } from './types.js';

/** Bytes read at a block start to recognise a delta header (the COWD header is 0x800). */
export const HEADER_PROBE_BYTES = 0x800;
const COWD_MAGIC = 0x44574f43;
const COWD_GT_ENTRIES = 4096;
const HEADER_SECTORS = 4;

/** A delta header that passed the sanity checks, with the file extent it implies. */
export interface DeltaHeader {
  format: DeltaFormat;
  capacityBytes: number;
  grainBytes: number;
  /** Bytes of the delta file the header says exist (COWD: freeSector; seSparse: end of the grain area). */
  fileSize: number;
  /** COWD only: grain directory byte offset and entries. */
  gdOffset: number;
  gdEntries: number;
  /** Notes on anything odd but tolerated (numGDEntries mismatch, unclean shutdown). */
  notes: string[];
}

/**
 * Recognises a COWD or seSparse header at the start of `head` and bounds every field against
 * `maxFileSize` (the volume: a delta cannot be larger). Returns null for anything else, so random
 * data that happens to start with 'COWD' is rejected here and never drives a read.
 */
export function probeDeltaHeader(head: Uint8Array, maxFileSize: number): DeltaHeader | null {
  if (head.length >= HEADER_PROBE_BYTES && u32(head, 0) === COWD_MAGIC) return probeCowd(head, maxFileSize);
  if (head.length >= SESPARSE_CONST_HEADER.size && u32(head, 0) === 0xcafebabe && u32(head, 4) === 0) return probeSeSparse(head, maxFileSize);
  return null;
}

function probeCowd(head: Uint8Array, maxFileSize: number): DeltaHeader | null {
  const h = COWD_HEADER.parse(head);
  if (h.version !== 1) return null;
  const g = h.grainSize;
  if (g === 0 || g > 2048 || (g & (g - 1)) !== 0) return null;
  if (h.numSectors === 0) return null;
  const tables = Math.ceil(h.numSectors / (COWD_GT_ENTRIES * g));
  if (h.numGDEntries === 0 || h.numGDEntries > tables * 2 + 1) return null;
  if (h.gdOffset < HEADER_SECTORS) return null;
  const gdEnd = h.gdOffset * SECTOR + h.numGDEntries * 4;
  const fileSize = h.freeSector * SECTOR;
  if (fileSize < gdEnd || fileSize > maxFileSize) return null;
  const notes: string[] = [];
  if (h.numGDEntries !== tables) notes.push(`numGDEntries ${h.numGDEntries} differs from ${tables} needed`);
  if (h.uncleanShutdown !== 0) notes.push('uncleanShutdown set');
  return { format: 'vmfsSparse', capacityBytes: h.numSectors * SECTOR, grainBytes: g * SECTOR, fileSize, gdOffset: h.gdOffset * SECTOR, gdEntries: h.numGDEntries, notes };
}

function probeSeSparse(head: Uint8Array, maxFileSize: number): DeltaHeader | null {
  const h = SESPARSE_CONST_HEADER.parse(head);
  if (h.grainSize !== 8n || h.grainTableSize !== 64n) return null;
  const cap = h.capacity;
  if (cap === 0 || cap > 2 ** 37) return null;
  const end = h.grainsOffset + h.grainsSize;
  if (!Number.isSafeInteger(end * SECTOR) || end * SECTOR > maxFileSize || h.grainsOffset === 0) return null;
  return { format: 'seSparse', capacityBytes: cap * SECTOR, grainBytes: 4096, fileSize: end * SECTOR, gdOffset: h.grainDirOffset * SECTOR, gdEntries: 0, notes: [] };
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
