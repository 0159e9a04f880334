import { CorruptError } from '../errors.js';
import { readUpTo, type ByteSource } from '../io/byte-source.js';
import { cString, defineStruct, hex, u32 } from '../util/struct.js';

/**
 * .vmsn / .vmss checkpoint container (docs/format-notes.md ".vmsd and .vmsn"): a 12-byte header (magic, version,
 * group count) and a table of 80-byte group descriptors (name[64], u64 position, u64 size), as
 * declared by crash-utility's vmware_vmss.h. No disk data lives here; we only want to know which
 * disks a snapshot used, so the embedded configuration's `<dev>.fileName = "…"` lines are found by
 * a bounded text scan (the tag that carries the config is not verified).
 */
const VMSN_HEADER = defineStruct('vmsn header', 12, {
  magic: [0x0, 'u32'],
  version: [0x4, 'u32'],
  groupCount: [0x8, 'u32'],
});
const VMSN_GROUP = defineStruct('vmsn group', 80, {
  name: [0x00, 'ascii', 64],
  position: [0x40, 'u64n'],
  size: [0x48, 'u64n'],
});

export const VMSN_MAGICS: Record<number, string> = {
  0xbed2bed2: 'checkpoint',
  0xbed3bed3: 'partial checkpoint',
  0xbad1bad1: 'restored checkpoint',
  0xbad2bad2: 'checkpoint (no restore)',
  0xbed0bed0: 'old 32-bit checkpoint',
  0xbed2bed0: 'old checkpoint',
};

const MAX_GROUPS = 4096;
/** Scan budget for config text: the config sits near the start; memory images can be GiBs. */
const SCAN_BYTES = 16 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export interface VmsnGroup {
  name: string;
  position: number;
  size: number;
}

export interface VmsnDisk {
  /** Device key, e.g. `scsi0:0`. */
  node: string;
  fileName: string;
}

export interface VmsnInfo {
  magic: number;
  kind: string;
  version: number;
  groups: VmsnGroup[];
  disks: VmsnDisk[];
  warnings: string[];
}

export function isVmsnHeader(head: Uint8Array): boolean {
  return head.length >= 4 && u32(head, 0) in VMSN_MAGICS;
}

const DISK_LINE = /\b((?:scsi|sata|ide|nvme)\d{1,3}:\d{1,3})\.fileName\s*=\s*"([^"\r\n\0]{1,1024})"/gi;

/** Reads the header, the group table and the disk file names of the embedded configuration. */
export async function parseVmsn(src: ByteSource): Promise<VmsnInfo> {
  const name = src.name;
  const head = await readUpTo(src, 0, 12);
  if (head.length < 12) throw new CorruptError(`${name}: ${head.length} bytes, too short for a checkpoint header`);
  const h = VMSN_HEADER.parse(head);
  const kind = VMSN_MAGICS[h.magic];
  if (!kind) throw new CorruptError(`${name}: not a .vmsn/.vmss file (magic ${hex(h.magic, 8)})`);
  const warnings: string[] = [];
  if (h.groupCount > MAX_GROUPS) throw new CorruptError(`${name}: ${h.groupCount} groups is out of range`);
  const table = await readUpTo(src, 12, h.groupCount * VMSN_GROUP.size);
  const complete = Math.floor(table.length / VMSN_GROUP.size);
  if (complete < h.groupCount) warnings.push(`${name}: group table truncated (${complete} of ${h.groupCount} groups)`);
  const groups: VmsnGroup[] = [];
  for (let i = 0; i < complete; i++) {
    const g = VMSN_GROUP.parse(table, i * VMSN_GROUP.size);
    const position = g.position <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g.position) : -1;
    const size = g.size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g.size) : -1;
    if (position < 0 || size < 0 || position > src.size) warnings.push(`${name}: group "${g.name}" points outside the file`);
    groups.push({ name: g.name, position, size });
  }
  const disks = await scanDisks(src);
  if (disks.length === 0) warnings.push(`${name}: no disk file names found in the first ${SCAN_BYTES} bytes`);
  return { magic: h.magic, kind, version: h.version, groups, disks, warnings };
}

/** Finds `<dev>.fileName = "…"` lines in the first SCAN_BYTES, chunk by chunk with overlap. */
async function scanDisks(src: ByteSource): Promise<VmsnDisk[]> {
  const found = new Map<string, VmsnDisk>();
  const end = Math.min(src.size, SCAN_BYTES);
  const overlap = 2048;
  for (let pos = 0; pos < end; pos += CHUNK) {
    const from = Math.max(0, pos - overlap);
    const bytes = await src.read(from, Math.min(end, pos + CHUNK) - from);
    // latin1-style decoding keeps byte positions and never fails on binary data.
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    for (const m of text.matchAll(DISK_LINE)) {
      const node = m[1]!.toLowerCase();
      const fileName = utf8(m[2]!);
      found.set(`${node}\0${fileName}`, { node, fileName });
    }
  }
  return [...found.values()];
}

function utf8(latin1: string): string {
  const b = new Uint8Array(latin1.length);
  for (let i = 0; i < latin1.length; i++) b[i] = latin1.charCodeAt(i);
  return cString(b);
}
