import type { ByteSource } from '../io/byte-source.js';
import { readUpTo } from '../io/byte-source.js';
import { cString, u16, u32 } from '../util/struct.js';
import type { GuestFsType } from './types.js';

export interface DetectedFs {
  type: GuestFsType;
  label?: string;
}

const ascii = (b: Uint8Array, at: number, len: number) => String.fromCharCode(...b.subarray(at, at + len));
const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

// ext2/3/4 feature bits that tell the generations apart (as blkid does).
const EXT3_COMPAT_JOURNAL = 0x4;
const EXT2_INCOMPAT_KNOWN = 0x2 | 0x10; // filetype, meta_bg
const EXT2_RO_KNOWN = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir
const EXT3_INCOMPAT_KNOWN = EXT2_INCOMPAT_KNOWN | 0x4; // + recover
const EXT_INCOMPAT_JOURNAL_DEV = 0x8;

/**
 * Which filesystem (or volume format) starts at offset 0 of `part`, from magic numbers only:
 * NTFS, exFAT, FAT12/16/32 (by cluster count, as the FAT spec says), ext2/3/4, XFS, Linux LVM2
 * physical volume, Linux swap. Reads at most the first 64 KiB; never throws on garbage.
 */
export async function detectFs(part: ByteSource): Promise<DetectedFs> {
  const head = await readUpTo(part, 0, 64 * 1024);
  if (head.length >= 512) {
    if (ascii(head, 3, 8) === 'NTFS    ') return { type: 'ntfs' };
    if (ascii(head, 3, 8) === 'EXFAT   ') return { type: 'exfat' };
    if (ascii(head, 0, 4) === 'XFSB') return { type: 'xfs', label: cString(head.subarray(0x6c, 0x6c + 12)) || undefined };
    const fat = detectFat(head);
    if (fat) return fat;
  }
  if (head.length >= 2048 && u16(head, 1024 + 0x38) === 0xef53) return detectExt(head.subarray(1024, 2048));
  // LVM2 label: "LABELONE" in one of the first four sectors, "LVM2 001" at +0x18.
  for (let s = 0; s < 4 && (s + 1) * 512 <= head.length; s++) {
    if (ascii(head, s * 512, 8) === 'LABELONE' && ascii(head, s * 512 + 0x18, 8) === 'LVM2 001') return { type: 'lvm2-pv' };
  }
  // Swap signature: the last 10 bytes of the first page, for the page sizes Linux uses.
  for (const page of [4096, 8192, 16384, 65536]) {
    if (head.length < page) break;
    const sig = ascii(head, page - 10, 10);
    if (sig === 'SWAPSPACE2' || sig === 'SWAP-SPACE') return { type: 'swap', label: cString(head.subarray(0x41c, 0x42c)) || undefined };
  }
  return { type: 'unknown' };
}

function detectExt(sb: Uint8Array): DetectedFs {
  const compat = u32(sb, 0x5c);
  const incompat = u32(sb, 0x60);
  const ro = u32(sb, 0x64);
  const label = cString(sb.subarray(0x78, 0x88)) || undefined;
  if (incompat & EXT_INCOMPAT_JOURNAL_DEV) return { type: 'unknown', label };
  if ((incompat & ~EXT3_INCOMPAT_KNOWN) !== 0 || (ro & ~EXT2_RO_KNOWN) !== 0) return { type: 'ext4', label };
  return { type: compat & EXT3_COMPAT_JOURNAL ? 'ext3' : 'ext2', label };
}

/** FAT boot sector: a plausible BPB, then the type from the count of data clusters. */
function detectFat(b: Uint8Array): DetectedFs | null {
  if (b[0x1fe] !== 0x55 || b[0x1ff] !== 0xaa) return null;
  if (b[0] !== 0xeb && b[0] !== 0xe9) return null;
  const bps = u16(b, 0x0b);
  const spc = b[0x0d]!;
  const reserved = u16(b, 0x0e);
  const nFats = b[0x10]!;
  const rootEntries = u16(b, 0x11);
  const total = u16(b, 0x13) || u32(b, 0x20);
  const fatSize = u16(b, 0x16) || u32(b, 0x24);
  if (!isPow2(bps) || bps < 512 || bps > 4096 || !isPow2(spc) || reserved === 0 || nFats < 1 || nFats > 2 || fatSize === 0 || total === 0) return null;
  const rootSectors = Math.ceil((rootEntries * 32) / bps);
  const dataSectors = total - (reserved + nFats * fatSize + rootSectors);
  if (dataSectors <= 0) return null;
  const clusters = Math.floor(dataSectors / spc);
  const type = clusters < 4085 ? 'fat12' : clusters < 65525 ? 'fat16' : 'fat32';
  const labelAt = type === 'fat32' ? 0x47 : 0x2b;
  const label = ascii(b, labelAt, 11).replace(/[\s\0]+$/, '');
  return { type, label: label && label !== 'NO NAME' ? label : undefined };
}
