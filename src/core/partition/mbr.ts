import { defineStruct } from '../util/struct.js';

/** One primary entry of a classic MBR (16 bytes at 0x1BE + 16 × i). */
const MBR_ENTRY = defineStruct('MBR partition entry', 0x10, {
  status: [0x00, 'u8'],
  type: [0x04, 'u8'],
  firstLba: [0x08, 'u32'],
  sectors: [0x0c, 'u32'],
});

export const MBR_TYPE_VMFS = 0xfb;
export const MBR_TYPE_VMKCORE = 0xfc;
/** Protective MBR type: a GPT follows. */
export const MBR_TYPE_GPT = 0xee;

export interface MbrPartition {
  /** 1-based primary slot. */
  index: number;
  type: number;
  /** Byte offset and length in the disk (512-byte sectors: MBR addresses are always in 512 units here). */
  offset: number;
  length: number;
}

/** Non-empty primary entries of sector 0, or null when it carries no 0x55AA signature. */
export function parseMbr(sector0: Uint8Array): MbrPartition[] | null {
  if (sector0.length < 512 || sector0[0x1fe] !== 0x55 || sector0[0x1ff] !== 0xaa) return null;
  const out: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = MBR_ENTRY.parse(sector0, 0x1be + 16 * i);
    // Status must be 0x00 or 0x80: anything else means this sector is not an MBR (e.g. a boot sector).
    if (e.status !== 0 && e.status !== 0x80) return null;
    if (e.type === 0 || e.sectors === 0) continue;
    out.push({ index: i + 1, type: e.type, offset: e.firstLba * 512, length: e.sectors * 512 });
  }
  return out;
}

export function isProtectiveMbr(parts: readonly MbrPartition[]): boolean {
  return parts.some((p) => p.type === MBR_TYPE_GPT);
}
