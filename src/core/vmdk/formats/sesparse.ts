import { CorruptError, UnsupportedError } from '../../errors.js';
import { CachedSource, type ByteSource } from '../../io/byte-source.js';
import { defineStruct, isAllZero, u32, SECTOR } from '../../util/struct.js';
import type { DiskLayer } from '../types.js';
import { GRAIN_PARENT, GRAIN_ZERO, GrainMapLayer, ReasonList, type DirectoryLayout, type TableState } from './grain-map.js';

/**
 * seSparse (`-sesparse.vmdk`) extent reader. See docs/format-notes.md "seSparse". Offsets and sizes in
 * the headers are sectors. Checked against qemu's reader (block/vmdk.c, vmdk_open_se_sparse and
 * get_cluster_offset) and against qemu-img reading files made by test/builders/sesparse.ts.
 */
export const SESPARSE_CONST_HEADER = defineStruct('seSparse const header', 0x200, {
  magic: [0x00, 'u64n'],
  version: [0x08, 'u64n'],
  capacity: [0x10, 'u64'],
  grainSize: [0x18, 'u64n'],
  grainTableSize: [0x20, 'u64n'],
  flags: [0x28, 'u64n'],
  reserved1: [0x30, 'u64n'],
  reserved2: [0x38, 'u64n'],
  reserved3: [0x40, 'u64n'],
  reserved4: [0x48, 'u64n'],
  volatileHeaderOffset: [0x50, 'u64'],
  volatileHeaderSize: [0x58, 'u64'],
  journalHeaderOffset: [0x60, 'u64'],
  journalHeaderSize: [0x68, 'u64'],
  journalOffset: [0x70, 'u64'],
  journalSize: [0x78, 'u64'],
  grainDirOffset: [0x80, 'u64'],
  grainDirSize: [0x88, 'u64'],
  grainTablesOffset: [0x90, 'u64'],
  grainTablesSize: [0x98, 'u64'],
  freeBitmapOffset: [0xa0, 'u64'],
  freeBitmapSize: [0xa8, 'u64'],
  backmapOffset: [0xb0, 'u64'],
  backmapSize: [0xb8, 'u64'],
  grainsOffset: [0xc0, 'u64'],
  grainsSize: [0xc8, 'u64'],
  pad: [0xd0, 'bytes', 304],
});

export const SESPARSE_VOLATILE_HEADER = defineStruct('seSparse volatile header', 0x200, {
  magic: [0x00, 'u64n'],
  freeGTNumber: [0x08, 'u64n'],
  nextTxnSeqNumber: [0x10, 'u64n'],
  replayJournal: [0x18, 'u64n'],
  pad: [0x20, 'bytes', 480],
});

export const SESPARSE_MAGIC = 0xcafebaben;
/** The magic's low u32 (the high one is 0), as a header's first four bytes read. */
export const SESPARSE_MAGIC_LO = 0xcafebabe;
export const SESPARSE_VOLATILE_MAGIC = 0xcafecafen;
export const SESPARSE_VERSION = 0x0000000200000001n;
const GRAIN_SECTORS = 8;
const GT_SECTORS = 64;
export const SESPARSE_GT_ENTRIES = (GT_SECTORS * SECTOR) / 8; // 4096
/** seSparse tops out just under 64 TiB; anything above is corruption. */
const MAX_CAPACITY_SECTORS = 2 ** 37;
/** A GD entry for an allocated GT: top 32 bits exactly 0x10000000, low 32 bits the GT slot. */
const GDE_ALLOCATED_HI = 0x10000000;

export function isSeSparseHeader(head: Uint8Array): boolean {
  return head.length >= 16 && u32(head, 0) === SESPARSE_MAGIC_LO && u32(head, 4) === 0;
}

/** Opens one SESPARSE extent file as a layer whose capacity comes from its header. */
export async function openSeSparseExtent(src: ByteSource, name: string): Promise<DiskLayer> {
  if (src.size < SESPARSE_CONST_HEADER.size) {
    throw new CorruptError(`${name}: seSparse file is 0x${src.size.toString(16)} bytes, shorter than its header`);
  }
  const h = SESPARSE_CONST_HEADER.parse(await src.read(0, SESPARSE_CONST_HEADER.size));
  if (h.magic !== SESPARSE_MAGIC) throw new CorruptError(`${name}: not a seSparse file (magic 0x${h.magic.toString(16)})`);
  if (h.version !== SESPARSE_VERSION) throw new UnsupportedError(`${name}: seSparse version 0x${h.version.toString(16)} (only 0x200000001 is known)`);
  if (h.grainSize !== BigInt(GRAIN_SECTORS)) throw new UnsupportedError(`${name}: seSparse grainSize ${h.grainSize} (only 8 is known)`);
  if (h.grainTableSize !== BigInt(GT_SECTORS)) throw new UnsupportedError(`${name}: seSparse grainTableSize ${h.grainTableSize} (only 64 is known)`);
  if (h.flags !== 0n) throw new UnsupportedError(`${name}: seSparse flags 0x${h.flags.toString(16)} (unknown)`);
  if (h.capacity === 0 || h.capacity > MAX_CAPACITY_SECTORS) throw new CorruptError(`${name}: seSparse capacity ${h.capacity} sectors is out of range`);
  const fileSectors = Math.ceil(src.size / SECTOR);
  for (const [field, off] of [
    ['grainDirOffset', h.grainDirOffset],
    ['grainTablesOffset', h.grainTablesOffset],
    ['grainsOffset', h.grainsOffset],
    ['volatileHeaderOffset', h.volatileHeaderOffset],
  ] as const) {
    // Offsets are u64 sectors; beyond 2^41 sectors (1 PiB) they are noise, not a truncated file.
    if (off === 0 || off > 2 ** 41) throw new CorruptError(`${name}: seSparse ${field} ${off} is out of range`);
  }

  const warnings: string[] = [];
  if (h.reserved1 || h.reserved2 || h.reserved3 || h.reserved4 || !isAllZero(h.pad)) {
    warnings.push(`${name}: seSparse const header has non-zero reserved fields (qemu refuses such files)`);
  }
  if (h.volatileHeaderOffset < fileSectors) {
    const v = SESPARSE_VOLATILE_HEADER.parse(await src.read(h.volatileHeaderOffset * SECTOR, Math.min(SECTOR, src.size - h.volatileHeaderOffset * SECTOR)).then(pad512));
    if (v.magic !== SESPARSE_VOLATILE_MAGIC) warnings.push(`${name}: seSparse volatile header magic 0x${v.magic.toString(16)} (expected 0xcafecafe); ignored`);
    else if (v.replayJournal !== 0n) warnings.push(`${name}: dirty seSparse (replayJournal set): journal not replayed, reading the metadata as it is`);
  } else {
    warnings.push(`${name}: seSparse volatile header lies past the end of the file`);
  }

  const grainBytes = GRAIN_SECTORS * SECTOR;
  const gtBytes = GT_SECTORS * SECTOR;
  const tableCount = Math.ceil(h.capacity / (GRAIN_SECTORS * SESPARSE_GT_ENTRIES));
  const gdEntries = Math.floor((h.grainDirSize * SECTOR) / 8);
  if (gdEntries < tableCount) warnings.push(`${name}: seSparse grain directory holds ${gdEntries} entries, ${tableCount} needed`);
  const gtSlots = Math.floor(h.grainTablesSize / GT_SECTORS);
  const gdBase = h.grainDirOffset * SECTOR;
  const gtBase = h.grainTablesOffset * SECTOR;
  const grainsBase = h.grainsOffset * SECTOR;
  const meta = new CachedSource(src, 64 * 1024, 16); // GD entries, cached in 64 KiB blocks

  async function loadTable(t: number, into?: Float64Array): Promise<TableState> {
    if (t >= gdEntries) return { kind: 'missing', reason: `seSparse grain directory has only ${gdEntries} entries` };
    const at = gdBase + t * 8;
    if (at + 8 > src.size) return { kind: 'missing', reason: `seSparse grain directory past end of ${name}` };
    const b = await meta.read(at, 8);
    const lo = u32(b, 0);
    const hi = u32(b, 4);
    if (lo === 0 && hi === 0) return { kind: 'parent' };
    if (hi !== GDE_ALLOCATED_HI) return { kind: 'missing', reason: `seSparse corrupt grain directory entry 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}` };
    if (lo >= gtSlots) return { kind: 'missing', reason: `seSparse grain table slot ${lo} outside the ${gtSlots}-slot table area` };
    const gtAt = gtBase + lo * gtBytes;
    if (gtAt + gtBytes > src.size) return { kind: 'missing', reason: `seSparse grain table slot ${lo} past end of ${name} (size 0x${src.size.toString(16)})` };
    const gt = await src.read(gtAt, gtBytes);
    const codes = into ?? new Float64Array(SESPARSE_GT_ENTRIES);
    const reasons = new ReasonList();
    let unmapped = 0;
    for (let i = 0; i < SESPARSE_GT_ENTRIES; i++) {
      const elo = u32(gt, i * 8);
      const ehi = u32(gt, i * 8 + 4);
      switch (ehi >>> 28) {
        case 0:
          codes[i] = elo === 0 && ehi === 0 ? GRAIN_PARENT : reasons.code('seSparse corrupt grain table entry (type 0 with bits set)');
          break;
        case 1: // SCSI-unmapped: zeros, as qemu and Xen Orchestra read it
          unmapped++;
          codes[i] = GRAIN_ZERO;
          break;
        case 2:
          codes[i] = GRAIN_ZERO;
          break;
        case 3: {
          // index = bits 48..59 (low 12 bits of the index) | bits 0..47 (high 48 bits).
          const high = (ehi & 0xffff) * 0x1_0000_0000 + elo;
          const index = high * 4096 + ((ehi >>> 16) & 0xfff);
          const off = grainsBase + index * grainBytes;
          // Past the file end is handled by GrainMapLayer; unsafe numbers are plainly corrupt.
          codes[i] = Number.isSafeInteger(off) ? off : reasons.code('seSparse grain index out of range');
          break;
        }
        default:
          codes[i] = reasons.code('seSparse corrupt grain table entry (unknown type)');
      }
    }
    return { kind: 'table', codes, reasons: reasons.reasons, notes: unmapped ? { unmapped } : undefined };
  }

  const tablesInFile = Math.min(tableCount, gdEntries, Math.max(0, Math.floor((src.size - gdBase) / 8)));

  const directory: DirectoryLayout = {
    base: gdBase,
    width: 8,
    classify(b, at) {
      const lo = u32(b, at);
      const hi = u32(b, at + 4);
      if (lo === 0 && hi === 0) return 'empty';
      return hi !== GDE_ALLOCATED_HI || lo >= gtSlots || gtBase + (lo + 1) * gtBytes > src.size ? 'bad' : lo;
    },
  };

  return new GrainMapLayer({
    path: name,
    format: 'seSparse',
    capacity: h.capacity * SECTOR,
    grainBytes,
    grainsPerTable: SESPARSE_GT_ENTRIES,
    source: src,
    tableCount,
    loadTable,
    tablesInFile,
    directory,
    beyondReason: `seSparse grain directory (${gdEntries} entries) or ${name} ends before this range`,
    cacheTables: 32,
    warnings,
    describeNotes: (n) => (n.unmapped ? [`${n.unmapped} SCSI-unmapped grain(s) read as zeros`] : []),
  });
}

function pad512(b: Uint8Array): Uint8Array {
  if (b.length >= SECTOR) return b;
  const out = new Uint8Array(SECTOR);
  out.set(b);
  return out;
}
