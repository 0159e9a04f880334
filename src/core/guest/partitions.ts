import type { ByteSource } from '../io/byte-source.js';
import { readGpt } from '../partition/gpt.js';
import { defineStruct } from '../util/struct.js';
import { detectFs } from './detect.js';
import { MBR_EXTENDED, gptTypeName, mbrTypeName } from './partition-types.js';
import type { GuestPartition } from './types.js';

/** One entry of an MBR or EBR partition table (16 bytes at 0x1BE + 16 × i). */
const MBR_ENTRY = defineStruct('MBR partition entry', 0x10, {
  status: [0x00, 'u8'],
  type: [0x04, 'u8'],
  firstLba: [0x08, 'u32'],
  sectors: [0x0c, 'u32'],
});

const SECTOR = 512;
/** Longest EBR chain followed; Linux allows far fewer usable logicals, so more means a loop or corruption. */
const MAX_LOGICAL = 128;

export interface PartitionTable {
  scheme: 'mbr' | 'gpt' | 'none';
  sectorSize: number;
  partitions: GuestPartition[];
  warnings: string[];
}

interface RawEntry {
  status: number;
  type: number;
  firstLba: number;
  sectors: number;
}

function parseTable(sector: Uint8Array): RawEntry[] | null {
  if (sector.length < SECTOR || sector[0x1fe] !== 0x55 || sector[0x1ff] !== 0xaa) return null;
  const out: RawEntry[] = [];
  for (let i = 0; i < 4; i++) out.push(MBR_ENTRY.parse(sector, 0x1be + 16 * i));
  return out;
}

/**
 * The partition table of a disk (a recovered DiskChain, an exported image): GPT (through the
 * protective MBR, or a GPT without one), else MBR primaries plus the logical partitions of the
 * extended one, else — when sector 0 is itself a filesystem boot sector or the disk has no table —
 * one whole-disk pseudo-partition with scheme 'none'. Entries that reach past the disk are kept
 * but clipped, with a warning, so a truncated dump still shows what it can.
 */
export async function readPartitions(disk: ByteSource): Promise<PartitionTable> {
  const warnings: string[] = [];
  const whole = (): PartitionTable => ({
    scheme: 'none',
    sectorSize: SECTOR,
    partitions: disk.size > 0 ? [{ index: 1, scheme: 'none', type: '', typeName: 'Whole disk', name: '', offset: 0, length: disk.size }] : [],
    warnings,
  });
  if (disk.size < SECTOR) return whole();
  const gpt = await readGpt(disk);
  if (gpt) {
    const partitions: GuestPartition[] = [];
    for (const p of gpt.partitions) {
      const clipped = clip(disk, p.offset, p.length, `GPT entry ${p.index}`, warnings);
      if (!clipped) continue;
      partitions.push({ index: p.index, scheme: 'gpt', type: p.typeGuid, typeName: gptTypeName(p.typeGuid), name: p.name, ...clipped });
    }
    return { scheme: 'gpt', sectorSize: gpt.sectorSize, partitions, warnings: [...gpt.warnings, ...warnings] };
  }
  const sector0 = await disk.read(0, SECTOR);
  const entries = parseTable(sector0);
  // A FAT or NTFS boot sector also ends in 55 AA: a filesystem at offset 0 means no table.
  if (!entries || (await detectFs(disk)).type !== 'unknown') return whole();
  if (entries.some((e) => e.status !== 0 && e.status !== 0x80)) return whole();
  const partitions: GuestPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = entries[i]!;
    if (e.type === 0 || e.sectors === 0) continue;
    if (e.type === 0xee) warnings.push(`${disk.name}: protective MBR but no valid GPT`);
    const clipped = clip(disk, e.firstLba * SECTOR, e.sectors * SECTOR, `MBR entry ${i + 1}`, warnings);
    if (!clipped) continue;
    partitions.push({ index: i + 1, scheme: 'mbr', type: hex2(e.type), typeName: mbrTypeName(e.type), name: '', bootable: e.status === 0x80, ...clipped });
    if (MBR_EXTENDED.has(e.type)) partitions.push(...(await readLogicals(disk, e.firstLba, clipped.length / SECTOR, warnings)));
  }
  return { scheme: 'mbr', sectorSize: SECTOR, partitions, warnings };
}

/**
 * Follows the EBR chain of an extended partition: each EBR's first entry is a logical partition
 * (relative to that EBR), its second the next EBR (relative to the extended partition's start).
 * Bounded by MAX_LOGICAL and by a visited set, so a looping chain ends.
 */
async function readLogicals(disk: ByteSource, extStart: number, extSectors: number, warnings: string[]): Promise<GuestPartition[]> {
  const out: GuestPartition[] = [];
  const seen = new Set<number>();
  let ebr = extStart;
  for (let n = 0; n < MAX_LOGICAL; n++) {
    if (seen.has(ebr)) {
      warnings.push(`${disk.name}: EBR chain loops back to sector ${ebr}`);
      return out;
    }
    seen.add(ebr);
    if ((ebr + 1) * SECTOR > disk.size || ebr >= extStart + extSectors) {
      warnings.push(`${disk.name}: EBR at sector ${ebr} is outside the extended partition or the disk`);
      return out;
    }
    const t = parseTable(await disk.read(ebr * SECTOR, SECTOR));
    if (!t) {
      warnings.push(`${disk.name}: EBR at sector ${ebr} has no 55 AA signature`);
      return out;
    }
    const [logical, next] = [t[0]!, t[1]!];
    if (logical.type !== 0 && logical.sectors !== 0) {
      const index = 5 + out.length;
      const clipped = clip(disk, (ebr + logical.firstLba) * SECTOR, logical.sectors * SECTOR, `logical partition ${index}`, warnings);
      if (clipped) {
        out.push({ index, scheme: 'mbr', type: hex2(logical.type), typeName: mbrTypeName(logical.type), name: '', logical: true, bootable: logical.status === 0x80, ...clipped });
      }
    }
    if (next.type === 0 || next.sectors === 0 || !MBR_EXTENDED.has(next.type)) return out;
    ebr = extStart + next.firstLba;
  }
  warnings.push(`${disk.name}: more than ${MAX_LOGICAL} logical partitions; the rest are ignored`);
  return out;
}

function clip(disk: ByteSource, offset: number, length: number, what: string, warnings: string[]): { offset: number; length: number } | null {
  if (offset >= disk.size) {
    warnings.push(`${disk.name}: ${what} starts at 0x${offset.toString(16)}, past the end of the disk (0x${disk.size.toString(16)})`);
    return null;
  }
  if (offset + length > disk.size) {
    warnings.push(`${disk.name}: ${what} ends at 0x${(offset + length).toString(16)}, past the end of the disk; clipped`);
    length = disk.size - offset;
  }
  return { offset, length };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
