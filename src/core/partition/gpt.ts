import type { ByteSource } from '../io/byte-source.js';
import { crc32 } from '../util/crc32.js';
import { defineStruct, hex } from '../util/struct.js';

/** GPT header (UEFI spec), at LBA 1 (primary) and at the last LBA (backup). */
export const GPT_HEADER = defineStruct('GPT header', 0x5c, {
  signature: [0x00, 'ascii', 8],
  revision: [0x08, 'u32'],
  headerSize: [0x0c, 'u32'],
  headerCrc: [0x10, 'u32'],
  currentLba: [0x18, 'u64'],
  backupLba: [0x20, 'u64'],
  firstUsableLba: [0x28, 'u64'],
  lastUsableLba: [0x30, 'u64'],
  diskGuid: [0x38, 'bytes', 16],
  entriesLba: [0x48, 'u64'],
  numEntries: [0x50, 'u32'],
  entrySize: [0x54, 'u32'],
  entriesCrc: [0x58, 'u32'],
});

export const GPT_ENTRY = defineStruct('GPT partition entry', 0x80, {
  typeGuid: [0x00, 'bytes', 16],
  uniqueGuid: [0x10, 'bytes', 16],
  firstLba: [0x20, 'u64'],
  lastLba: [0x28, 'u64'],
  attributes: [0x30, 'u64n'],
  name: [0x38, 'bytes', 72],
});

export const GPT_TYPE_VMFS = 'AA31E02A-400F-11DB-9590-000C2911D1B8';
/** ESXi 7+ OSDATA (VMFS-L); same on-disk family, FS magic 0x2FABF15F. */
export const GPT_TYPE_VMFSL = '4EB2EA39-7855-4790-A79E-FAE495E21F8D';

/** Entry arrays larger than this are corrupt (the spec minimum is 16 KiB; real tables are 16–32 KiB). */
const MAX_ENTRY_ARRAY = 4 * 1024 * 1024;

export interface GptPartition {
  /** 1-based entry number. */
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  name: string;
  offset: number;
  length: number;
}

export interface GptTable {
  sectorSize: number;
  /** 'primary' when LBA 1 was valid; 'backup' when the primary was damaged and the last-LBA copy was used. */
  from: 'primary' | 'backup';
  diskGuid: string;
  partitions: GptPartition[];
  warnings: string[];
}

/**
 * GUID text from its on-disk bytes: the first three fields are little-endian, the last two
 * big-endian ("mixed-endian"), so AA31E02A-400F-… is stored 2A E0 31 AA 0F 40 ….
 */
export function guidToString(b: Uint8Array): string {
  const h = (i: number) => b[i]!.toString(16).padStart(2, '0');
  const part = (idx: number[]) => idx.map(h).join('');
  return `${part([3, 2, 1, 0])}-${part([5, 4])}-${part([7, 6])}-${part([8, 9])}-${part([10, 11, 12, 13, 14, 15])}`.toUpperCase();
}

export function guidToBytes(text: string): Uint8Array {
  const hexs = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hexs)) throw new Error(`bad GUID ${text}`);
  const raw = Array.from({ length: 16 }, (_, i) => parseInt(hexs.slice(2 * i, 2 * i + 2), 16));
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Uint8Array.from(order.map((i) => raw[i]!));
}

interface HeaderCheck {
  ok: boolean;
  why?: string;
  h?: ReturnType<typeof GPT_HEADER.parse>;
  entries?: Uint8Array;
}

async function readHeader(src: ByteSource, lba: number, sectorSize: number): Promise<HeaderCheck> {
  const at = lba * sectorSize;
  if (lba < 1 || at + sectorSize > src.size) return { ok: false, why: `header LBA ${lba} is outside the dump` };
  const sector = await src.read(at, sectorSize);
  // Signature first: a sector without it is simply not a GPT header (e.g. data in the last
  // sector of an MBR disk), so its other fields must not be parsed, let alone judged corrupt.
  if (String.fromCharCode(...sector.subarray(0, 8)) !== 'EFI PART') return { ok: false, why: `no "EFI PART" signature at LBA ${lba}` };
  let h: ReturnType<typeof GPT_HEADER.parse>;
  try {
    h = GPT_HEADER.parse(sector);
  } catch (e) {
    // A signed header with an impossible 64-bit field is damaged: fall back to the other copy.
    return { ok: false, why: `${(e as Error).message} at LBA ${lba}` };
  }
  if (h.headerSize < 0x5c || h.headerSize > sectorSize) return { ok: false, why: `header size ${h.headerSize} at LBA ${lba}` };
  const copy = sector.slice(0, h.headerSize);
  copy.fill(0, 0x10, 0x14); // the CRC covers the header with its own CRC field zeroed
  const crc = crc32(copy);
  if (crc !== h.headerCrc) return { ok: false, why: `header CRC ${hex(h.headerCrc, 8)} != computed ${hex(crc, 8)} at LBA ${lba}` };
  if (h.currentLba !== lba) return { ok: false, why: `header at LBA ${lba} says it is at LBA ${h.currentLba}` };
  if (h.entrySize < 0x80 || h.entrySize % 8 !== 0 || h.entrySize > 4096) return { ok: false, why: `entry size ${h.entrySize}` };
  const arrayBytes = h.numEntries * h.entrySize;
  if (h.numEntries === 0 || arrayBytes > MAX_ENTRY_ARRAY) return { ok: false, why: `${h.numEntries} entries of ${h.entrySize} bytes` };
  const eAt = h.entriesLba * sectorSize;
  if (h.entriesLba < 1 || eAt + arrayBytes > src.size) return { ok: false, why: `entry array at LBA ${h.entriesLba} is outside the dump` };
  const entries = await src.read(eAt, arrayBytes);
  const ecrc = crc32(entries);
  if (ecrc !== h.entriesCrc) return { ok: false, why: `entry array CRC ${hex(h.entriesCrc, 8)} != computed ${hex(ecrc, 8)}` };
  return { ok: true, h, entries };
}

function utf16Name(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = b[i]! | (b[i + 1]! << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Reads the GPT of a disk dump: primary at LBA 1, falling back to the backup at the last LBA
 * (or where the primary's backupLba says) when the primary's header or entry-array CRC is bad.
 * Tries 512- then 4096-byte logical sectors. Null when no valid GPT is present.
 */
export async function readGpt(src: ByteSource, name = src.name): Promise<GptTable | null> {
  for (const sectorSize of [512, 4096]) {
    if (src.size < sectorSize * 3) continue;
    const warnings: string[] = [];
    let from: GptTable['from'] = 'primary';
    let check = await readHeader(src, 1, sectorSize);
    if (!check.ok) {
      const sig = await src.read(sectorSize, 8);
      const hadPrimary = new TextDecoder().decode(sig) === 'EFI PART';
      const lastLba = Math.floor(src.size / sectorSize) - 1;
      const backup = await readHeader(src, lastLba, sectorSize);
      if (!backup.ok) {
        if (hadPrimary) warnings.push(`${name}: primary GPT damaged (${check.why}) and backup unusable (${backup.why})`);
        continue;
      }
      warnings.push(`${name}: primary GPT damaged (${check.why}); using the backup GPT at LBA ${lastLba}`);
      check = backup;
      from = 'backup';
    }
    const h = check.h!;
    const entries = check.entries!;
    const partitions: GptPartition[] = [];
    for (let i = 0; i < h.numEntries; i++) {
      const e = GPT_ENTRY.parse(entries, i * h.entrySize);
      if (e.typeGuid.every((x) => x === 0)) continue;
      if (e.lastLba < e.firstLba) {
        warnings.push(`${name}: GPT entry ${i + 1} ends (LBA ${e.lastLba}) before it starts (LBA ${e.firstLba}); skipped`);
        continue;
      }
      const offset = e.firstLba * sectorSize;
      const length = (e.lastLba - e.firstLba + 1) * sectorSize;
      if (!Number.isSafeInteger(offset + length)) continue;
      partitions.push({
        index: i + 1,
        typeGuid: guidToString(e.typeGuid),
        uniqueGuid: guidToString(e.uniqueGuid),
        name: utf16Name(e.name),
        offset,
        length,
      });
    }
    return { sectorSize, from, diskGuid: guidToString(h.diskGuid), partitions, warnings };
  }
  return null;
}
