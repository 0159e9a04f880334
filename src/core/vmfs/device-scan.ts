import { CorruptError } from '../errors.js';
import { SliceSource, type ByteSource } from '../io/byte-source.js';
import { GPT_TYPE_VMFS, GPT_TYPE_VMFSL, readGpt } from '../partition/gpt.js';
import { isProtectiveMbr, MBR_TYPE_VMFS, parseMbr } from '../partition/mbr.js';
import { hex, u32 } from '../util/struct.js';
import { FS_DESCRIPTOR_OFFSET, VMFS_MAGIC, VMFSL_MAGIC } from './fs-descriptor.js';
import { hasLvmMagic, LVM_HEADER_OFFSET } from './lvm.js';
import type { PartitionInfo } from './types.js';

/** A place on a dump where VMFS may start: an LVM device (partition) or a bare logical volume. */
export interface PartitionCandidate {
  kind: 'lvm' | 'volume';
  source: ByteSource;
  info: PartitionInfo;
}

async function magicAt(src: ByteSource, at: number): Promise<number | null> {
  if (at + 4 > src.size) return null;
  return u32(await src.read(at, 4), 0);
}

/**
 * Finds VMFS on one dump: GPT partitions (VMFS or VMFS-L type, or any partition with the LVM
 * magic at +1 MiB), MBR type 0xFB partitions, a bare partition (LVM header at +1 MiB), or a bare
 * logical volume (FS descriptor at +2 MiB).
 */
export async function scanDump(src: ByteSource, index: number): Promise<{ candidates: PartitionCandidate[]; warnings: string[] }> {
  const warnings: string[] = [];
  const candidates: PartitionCandidate[] = [];
  const base = { source: index, sourceName: src.name, warnings: [] as string[] };
  const addPart = async (scheme: PartitionInfo['scheme'], idx: number, offset: number, length: number, type: string, isVmfsType: boolean) => {
    if (offset >= src.size) {
      warnings.push(`${src.name}: partition ${idx} starts at ${hex(offset)}, past the end of the dump`);
      return;
    }
    const pw: string[] = [];
    if (offset + length > src.size) {
      pw.push(`partition ${idx} ends past the end of the dump (truncated)`);
      length = src.size - offset;
    }
    const part = new SliceSource(src, offset, length, `${src.name}#p${idx}`);
    if (await hasLvmMagic(part)) {
      candidates.push({ kind: 'lvm', source: part, info: { ...base, scheme, index: idx, offset, length, type, warnings: pw } });
    } else if (isVmfsType) {
      const fsMagic = await magicAt(part, FS_DESCRIPTOR_OFFSET);
      if (fsMagic === VMFS_MAGIC || fsMagic === VMFSL_MAGIC) {
        candidates.push({ kind: 'volume', source: part, info: { ...base, scheme, index: idx, offset, length, type, warnings: pw } });
      } else {
        warnings.push(`${src.name}: VMFS partition ${idx} at ${hex(offset)} has no LVM header at +1 MiB`);
      }
    }
  };

  const sector0 = src.size >= 512 ? await src.read(0, 512) : new Uint8Array(0);
  const mbr = parseMbr(sector0);
  const gpt = await readGpt(src);
  if (gpt) {
    warnings.push(...gpt.warnings);
    const scheme = gpt.from === 'primary' ? 'gpt' : 'gpt-backup';
    for (const p of gpt.partitions) {
      await addPart(scheme, p.index, p.offset, p.length, p.typeGuid, p.typeGuid === GPT_TYPE_VMFS || p.typeGuid === GPT_TYPE_VMFSL);
    }
  } else if (mbr && mbr.length > 0 && !isProtectiveMbr(mbr)) {
    for (const p of mbr) {
      await addPart('mbr', p.index, p.offset, p.length, '0x' + p.type.toString(16).padStart(2, '0'), p.type === MBR_TYPE_VMFS);
    }
  } else if (mbr && isProtectiveMbr(mbr)) {
    warnings.push(`${src.name}: protective MBR but no valid GPT (primary and backup both unreadable)`);
  }
  if (candidates.length === 0) {
    if (await hasLvmMagic(src)) {
      candidates.push({ kind: 'lvm', source: src, info: { ...base, scheme: 'bare', index: 0, offset: 0, length: src.size, type: 'lvm' } });
    } else {
      const m = await magicAt(src, FS_DESCRIPTOR_OFFSET);
      if (m === VMFS_MAGIC || m === VMFSL_MAGIC) {
        candidates.push({ kind: 'volume', source: src, info: { ...base, scheme: 'bare', index: 0, offset: 0, length: src.size, type: 'volume' } });
      }
    }
  }
  return { candidates, warnings };
}

export function noVmfs(src: ByteSource): CorruptError {
  return new CorruptError(`${src.name}: no VMFS found (no GPT/MBR VMFS partition, no LVM header at ${hex(LVM_HEADER_OFFSET)}, no FS descriptor at ${hex(FS_DESCRIPTOR_OFFSET)})`);
}
