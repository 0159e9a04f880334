import { isRescueError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { inspectDisk, openGuestFs } from './index.js';

/**
 * One guest file read from two disks: the recovered one (candidate over its parent) and the parent
 * alone (the base as the snapshot froze it), so a user sees both versions side by side.
 */

/** Bytes of each version of a compared file kept (the start of the file). */
export const COMPARE_HEAD = 64 * 1024;

export type FileVersion = { size: number; head: Uint8Array } | { missing: string };

export interface FileComparison {
  partition: number;
  path: string;
  recovered: FileVersion;
  /** null: the recovered disk has no parent (nothing to compare with). */
  base: FileVersion | null;
  /** Both exist and their first COMPARE_HEAD bytes and sizes are the same. */
  same: boolean;
}

async function version(disk: ByteSource, partition: number, path: string): Promise<FileVersion> {
  try {
    const { partitions } = await inspectDisk(disk);
    const part = partitions.find((p) => p.index === partition);
    if (!part) return { missing: `no partition ${partition}` };
    const fs = await openGuestFs(disk, part);
    if (!fs) return { missing: `partition ${partition} holds ${part.fs.type}, which cannot be browsed` };
    const f = await fs.open(path);
    return { size: f.size, head: await f.read(0, Math.min(COMPARE_HEAD, f.size)) };
  } catch (e) {
    // Not there, or unreadable on this side (damaged structures): said, and the other side still shown.
    if (isRescueError(e) && e.kind !== 'cancelled') return { missing: e.message.split('\n')[0]! };
    throw e;
  }
}

export async function compareGuestFile(recovered: ByteSource, base: ByteSource | null, partition: number, path: string): Promise<FileComparison> {
  const r = await version(recovered, partition, path);
  const b = base ? await version(base, partition, path) : null;
  const same = !!b && 'head' in r && 'head' in b && r.size === b.size && r.head.length === b.head.length && r.head.every((x, i) => x === b.head[i]);
  return { partition, path, recovered: r, base: b, same };
}
