import { CorruptError } from '../../errors.js';
import { CachedSource, type ByteSource } from '../../io/byte-source.js';
import { defineStruct, u32, SECTOR } from '../../util/struct.js';
import type { DiskLayer } from '../types.js';
import { GRAIN_PARENT, GRAIN_ZERO, GrainMapLayer, ReasonList, type DirectoryLayout, type TableState } from './grain-map.js';

/**
 * vmfsSparse ("COWD", `-delta.vmdk`) extent reader. See docs/format-notes.md "COWD (vmfsSparse)".
 * Checked against qemu's reader (block/vmdk.c, vmdk_open_vmfs_sparse): the header fields after
 * the magic are version, flags, numSectors, grainSize, gdOffset, numGDEntries, freeSector; every
 * GT has 4096 u32 entries whatever the grain size.
 */
export const COWD_HEADER = defineStruct('COWD header', 0x800, {
  magic: [0x000, 'u32'],
  version: [0x004, 'u32'],
  flags: [0x008, 'u32'],
  numSectors: [0x00c, 'u32'],
  grainSize: [0x010, 'u32'], // sectors per grain (1 on ESXi)
  gdOffset: [0x014, 'u32'], // sector
  numGDEntries: [0x018, 'u32'],
  freeSector: [0x01c, 'u32'],
  // Root disks keep cylinders/heads/sectors at 0x20; deltas overlay the parent name there.
  parentFileName: [0x020, 'ascii', 1024],
  parentGeneration: [0x420, 'u32'],
  generation: [0x424, 'u32'],
  name: [0x428, 'ascii', 60],
  description: [0x464, 'ascii', 512],
  savedGeneration: [0x664, 'u32'],
  reserved: [0x668, 'bytes', 8],
  uncleanShutdown: [0x670, 'u32'],
});

/** "COWD" as stored (qemu compares the first four bytes big-endian against 'C','O','W','D'). */
/** "COWD", the first u32 of a vmfsSparse file. */
export const COWD_MAGIC = 0x44574f43;
export const COWD_GT_ENTRIES = 4096;
const GT_BYTES = COWD_GT_ENTRIES * 4;
const HEADER_SECTORS = COWD_HEADER.size / SECTOR;
/** Largest grain accepted: 1 MiB (ESXi uses 1 sector, old hosted VMDK3 files small powers of two). */
const MAX_GRAIN_SECTORS = 2048;
/** GD entry / GTE value 1: points into the header, so it can only mean "zeroed" (Xen Orchestra). */
const ZEROED = 1;

export function isCowdHeader(head: Uint8Array): boolean {
  return head.length >= 4 && u32(head, 0) === COWD_MAGIC;
}

/** Opens one VMFSSPARSE (COWD) extent file as a layer whose capacity comes from its header. */
export async function openCowdExtent(src: ByteSource, name: string): Promise<DiskLayer> {
  if (src.size < COWD_HEADER.size) {
    throw new CorruptError(`${name}: COWD file is 0x${src.size.toString(16)} bytes, shorter than its 0x800-byte header`);
  }
  const h = COWD_HEADER.parse(await src.read(0, COWD_HEADER.size));
  if (h.magic !== COWD_MAGIC) throw new CorruptError(`${name}: not a COWD file (magic 0x${h.magic.toString(16)})`);
  const g = h.grainSize;
  if (g === 0 || g > MAX_GRAIN_SECTORS || (g & (g - 1)) !== 0) {
    throw new CorruptError(`${name}: COWD grainSize ${g} is not a power of two in 1..${MAX_GRAIN_SECTORS}`);
  }
  if (h.numSectors === 0) throw new CorruptError(`${name}: COWD numSectors is 0`);
  if (h.gdOffset < HEADER_SECTORS) throw new CorruptError(`${name}: COWD gdOffset ${h.gdOffset} lies inside the header`);

  const warnings: string[] = [];
  const tableSectors = COWD_GT_ENTRIES * g;
  // numSectors is a u32, so at most 2^20 directory entries (4 MiB): bounded by construction.
  const tableCount = Math.ceil(h.numSectors / tableSectors);
  if (h.numGDEntries !== tableCount) {
    warnings.push(`${name}: COWD numGDEntries ${h.numGDEntries} differs from ${tableCount} needed for ${h.numSectors} sectors`);
  }
  if (h.uncleanShutdown !== 0) warnings.push(`${name}: COWD delta was not closed cleanly (uncleanShutdown set)`);
  if (h.parentFileName) warnings.push(`${name}: COWD header names parent "${h.parentFileName}"`);

  const gdBase = h.gdOffset * SECTOR;
  const meta = new CachedSource(src, 64 * 1024, 16); // GD reads: 4 bytes at a time, cached in 64 KiB blocks
  const grainBytes = g * SECTOR;

  async function loadTable(t: number, into?: Float64Array): Promise<TableState> {
    if (t >= h.numGDEntries) return { kind: 'missing', reason: `COWD grain directory has only ${h.numGDEntries} entries` };
    const at = gdBase + t * 4;
    if (at + 4 > src.size) return { kind: 'missing', reason: `COWD grain directory past end of ${name}` };
    const gde = u32(await meta.read(at, 4), 0);
    if (gde === 0) return { kind: 'parent' };
    if (gde === ZEROED) return { kind: 'zero' };
    if (gde < HEADER_SECTORS) return { kind: 'missing', reason: `COWD grain table pointer ${gde} points into the header` };
    if (gde * SECTOR + GT_BYTES > src.size) {
      return { kind: 'missing', reason: `COWD grain table at sector ${gde} past end of ${name} (size 0x${src.size.toString(16)})` };
    }
    const gt = await src.read(gde * SECTOR, GT_BYTES);
    const codes = into ?? new Float64Array(COWD_GT_ENTRIES);
    const reasons = new ReasonList();
    for (let i = 0; i < COWD_GT_ENTRIES; i++) {
      const e = u32(gt, i * 4);
      if (e === 0) codes[i] = GRAIN_PARENT;
      else if (e === ZEROED) codes[i] = GRAIN_ZERO;
      else if (e < HEADER_SECTORS) codes[i] = reasons.code('COWD grain pointer into the header');
      else codes[i] = e * SECTOR;
    }
    return { kind: 'table', codes, reasons: reasons.reasons };
  }

  // Directory entries that exist both in the header's count and in the file.
  const tablesInFile = Math.min(tableCount, h.numGDEntries, Math.max(0, Math.floor((src.size - gdBase) / 4)));

  const directory: DirectoryLayout = {
    base: gdBase,
    width: 4,
    classify(b, at) {
      const gde = u32(b, at);
      if (gde === 0) return 'empty';
      if (gde === ZEROED) return 'zero';
      return gde < HEADER_SECTORS || gde * SECTOR + GT_BYTES > src.size ? 'bad' : gde;
    },
  };

  return new GrainMapLayer({
    path: name,
    format: 'vmfsSparse',
    capacity: h.numSectors * SECTOR,
    grainBytes,
    grainsPerTable: COWD_GT_ENTRIES,
    source: src,
    tableCount,
    loadTable,
    tablesInFile,
    directory,
    beyondReason: h.numGDEntries < tableCount ? `COWD grain directory (${h.numGDEntries} entries) or ${name} ends before this range` : `COWD grain directory past end of ${name}`,
    cacheTables: 64,
    warnings,
  });
}
