import { GPT_ENTRY, GPT_HEADER, GPT_TYPE_VMFS, guidToString } from '../partition/gpt.js';
import { MBR_TYPE_GPT, MBR_TYPE_VMFS, parseMbr } from '../partition/mbr.js';
import { crc32 } from '../util/crc32.js';
import { u32 } from '../util/struct.js';
import { ADDR_FB, ZLA_FB } from '../vmfs/address.js';
import { parseLandmark as parseVmfsLandmark, VMFS6_DIR_MAGIC } from '../vmfs/deep/landmarks.js';
import { FD_LOCK_MAGIC, FD_META, FD_TYPE } from '../vmfs/fd.js';
import { VMFS_MAGIC } from '../vmfs/fs-descriptor.js';
import { LVM_MAGIC } from '../vmfs/lvm.js';

/**
 * Sectors of a VMFS LUN that say where they belong, found in a member dump. Each one is an
 * observation "member byte `pos` holds LUN byte L", with L either absolute (`lun`: GPT headers
 * carry their own LBA, the MBR is LBA 0) or relative to the volume start (`vol`: lock headers of
 * FDs and resource clusters and heartbeat slots carry their own volume offset; the LVM header and
 * the FS descriptor sit at fixed volume offsets).
 */
export type LandmarkKind = 'gpt-primary' | 'gpt-backup' | 'mbr' | 'lvm-header' | 'fs-descriptor' | 'lock' | 'heartbeat' | 'directory';

export interface Landmark {
  kind: LandmarkKind;
  /** Byte offset in the member dump. */
  pos: number;
  /** Absolute LUN offset, when the sector tells it. */
  lun?: number;
  /** Volume offset (volume byte 0 = partition + VOLUME_IN_PARTITION), when the sector tells it. */
  vol?: number;
}

/**
 * Directory blocks name their own directory's FD ('.'), not their place; the place comes from that
 * FD, found as a lock landmark (on any member): its first block address. Collected per member while
 * scanning, joined once every member is read (resolveDirectories).
 */
export interface DirClues {
  /** Directory blocks seen: member position and the FD address of '.'. */
  blocks: { pos: number; self: number }[];
  /** Directory FD address -> volume offset of its first block (VMFS3/5 directories held in file blocks). */
  homes: Map<number, number>;
}

/** What the GPT headers and MBR found say about the LUN. */
export interface LunFacts {
  /** (backup LBA + 1) sectors, from a valid header. */
  sizeBytes?: number;
  /** Byte offset of the VMFS partition. */
  partitionOffset?: number;
}

/** Where volume byte 0 sits in a VMFS partition: after the 16 MiB LVM reserve and the 1 MiB LVM header (docs/format-notes.md "VMFS geometry the builder and RAID detection use"). */
export const VOLUME_IN_PARTITION = 0x1100000;
/** The LVM header is at partition + 1 MiB, i.e. 16 MiB before volume byte 0. */
const LVM_IN_VOLUME = 0x100000 - VOLUME_IN_PARTITION;
const FS_DESCRIPTOR_IN_VOLUME = 0x200000;
/** Lock magics of FDs (0x10C00001) and resource cluster headers (0x10C00002-7). */
const LOCK_LAST = 0x10c00007;
const HEARTBEAT = [0xabcdef01, 0xabcdef02];
/** VMFS3/5 FD: metadata at 0x200, block slots at 0x400 (docs/vmfs-format.md §7). */
const FD5_META = 0x200;
const FD5_SLOTS = 0x400;
/** A VMFS3/5 linear directory starts with the '.' entry: its type word is 2 (directory). */
const DIR5_FIRST_WORD = FD_TYPE.directory;
/** Volume offsets above this are not a VMFS volume's (64 TiB). */
const MAX_VOL = 2 ** 46;

function gptHeader(buf: Uint8Array, at: number): { myLba: number; altLba: number; entriesLba: number; numEntries: number; entrySize: number } | null {
  if (at + 512 > buf.length) return null;
  let h;
  try {
    h = GPT_HEADER.parse(buf, at);
  } catch {
    return null;
  }
  if (h.signature !== 'EFI PART' || h.headerSize < 0x5c || h.headerSize > 512) return null;
  const copy = buf.slice(at, at + h.headerSize);
  copy.fill(0, 0x10, 0x14);
  if (crc32(copy) !== h.headerCrc) return null;
  return { myLba: h.currentLba, altLba: h.backupLba, entriesLba: h.entriesLba, numEntries: h.numEntries, entrySize: h.entrySize };
}

/**
 * Scans `buf` (member bytes from `base`) sector by sector. Adds landmarks to `out` and LUN facts
 * to `facts`. The GPT entries are read only when they follow their header in the same buffer.
 */
export function scanLandmarks(buf: Uint8Array, base: number, out: Landmark[], facts: LunFacts, dirs?: DirClues): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  for (let at = 0; at + 512 <= buf.length; at += 512) {
    const magic = dv.getUint32(at, true);
    const pos = base + at;
    if (magic === 0x20494645 && dv.getUint32(at + 4, true) === 0x54524150) {
      // "EFI PART"
      const h = gptHeader(buf, at);
      if (!h || h.myLba === 0) continue;
      if (h.myLba === 1) {
        out.push({ kind: 'gpt-primary', pos, lun: 512 });
        facts.sizeBytes ??= (h.altLba + 1) * 512;
        const entries = at + (h.entriesLba - 1) * 512;
        if (h.entrySize >= 0x80 && h.entrySize <= 4096 && h.numEntries <= 1024 && entries >= 0) {
          for (let i = 0; i < h.numEntries && entries + (i + 1) * h.entrySize <= buf.length; i++) {
            const e = GPT_ENTRY.parse(buf, entries + i * h.entrySize);
            if (guidToString(e.typeGuid) === GPT_TYPE_VMFS && e.firstLba > 0) {
              facts.partitionOffset ??= e.firstLba * 512;
              break;
            }
          }
        }
      } else {
        out.push({ kind: 'gpt-backup', pos, lun: h.myLba * 512 });
        facts.sizeBytes ??= (h.myLba + 1) * 512;
      }
      continue;
    }
    if (magic === FD_LOCK_MAGIC || (magic > FD_LOCK_MAGIC && magic <= LOCK_LAST) || magic === HEARTBEAT[0] || magic === HEARTBEAT[1]) {
      const own = dv.getUint32(at + 4, true) + dv.getUint32(at + 8, true) * 2 ** 32;
      if (own % 512 === 0 && own < MAX_VOL && own >= 0x200000) {
        out.push({ kind: magic >= 0xabcdef01 ? 'heartbeat' : 'lock', pos, vol: own });
        if (dirs && magic === FD_LOCK_MAGIC) directoryHome(buf, at, dirs);
      }
      continue;
    }
    if (dirs && (magic === DIR5_FIRST_WORD || magic === VMFS6_DIR_MAGIC)) {
      const d = parseVmfsLandmark(buf, at, pos);
      if (d?.kind === 'directory') {
        dirs.blocks.push({ pos, self: d.self });
        continue;
      }
    }
    if (magic === LVM_MAGIC) {
      out.push({ kind: 'lvm-header', pos, vol: LVM_IN_VOLUME });
      continue;
    }
    if (magic === VMFS_MAGIC) {
      out.push({ kind: 'fs-descriptor', pos, vol: FS_DESCRIPTOR_IN_VOLUME });
      continue;
    }
    if (buf[at + 0x1fe] === 0x55 && buf[at + 0x1ff] === 0xaa) {
      const parts = parseMbr(buf.subarray(at, at + 512));
      const vmfs = parts?.find((p) => p.type === MBR_TYPE_VMFS);
      if (!parts || !(vmfs || parts.some((p) => p.type === MBR_TYPE_GPT))) continue;
      out.push({ kind: 'mbr', pos, lun: 0 });
      if (vmfs) facts.partitionOffset ??= vmfs.offset;
    }
  }
}

/** A VMFS3/5 directory FD whose first slot is a file block: where that block (its first directory block) lies in the volume. */
function directoryHome(buf: Uint8Array, at: number, dirs: DirClues): void {
  const f = FD_META.fields;
  const m = at + FD5_META;
  if (at + FD5_SLOTS + 4 > buf.length) return;
  if (u32(buf, m + f.type[0]) !== FD_TYPE.directory || u32(buf, m + f.zla[0]) !== ZLA_FB) return;
  const address = u32(buf, m + f.descAddr[0]);
  const blockSize = u32(buf, m + f.blockSize[0]);
  const slot = u32(buf, at + FD5_SLOTS);
  if ((address & 7) !== 4 || u32(buf, m + f.blockSize[0] + 4) !== 0 || (slot & 7) !== ADDR_FB) return;
  // File blocks of 1 to 256 MiB (VMFS5 uses 1 MiB); FB n is at volume offset n x blockSize.
  if (blockSize < 0x100000 || blockSize > 0x10000000 || (blockSize & (blockSize - 1)) !== 0) return;
  const vol = (slot >>> 6) * blockSize;
  if (vol > 0 && vol < MAX_VOL) dirs.homes.set(address, vol);
}

/** Directory landmarks: each directory block whose FD was found (on any member) is placed at the volume offset of that FD's first block. */
export function resolveDirectories(clues: readonly DirClues[], out: Landmark[][]): void {
  const homes = new Map<number, number>();
  for (const c of clues) for (const [a, v] of c.homes) homes.set(a, v);
  clues.forEach((c, m) => {
    for (const b of c.blocks) {
      const vol = homes.get(b.self);
      if (vol !== undefined) out[m]!.push({ kind: 'directory', pos: b.pos, vol });
    }
  });
}
