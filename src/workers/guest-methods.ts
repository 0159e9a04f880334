import * as Comlink from 'comlink';
import { UserError } from '../core/errors.js';
import { inspectDisk, openGuestFs, type GuestFs, type InspectedPartition } from '../core/guest/index.js';
import type { ByteSource } from '../core/io/byte-source.js';
import { guarded } from './common.js';
import { DISK_READ_MAX, GUEST_CHUNK, type GuestApi } from './guest.api.js';

/**
 * "Look inside a disk", worker side: a worker that holds a disk (the opened chain, a recovered
 * disk) spreads these methods into its Comlink API, e.g. `...createGuestApi(() => requireChain())`.
 */
export function createGuestApi(getDisk: () => ByteSource): GuestApi {
  let disk: ByteSource | null = null;
  let parts: InspectedPartition[] = [];
  const opened = new Map<number, Promise<GuestFs>>();

  async function current(): Promise<ByteSource> {
    const d = getDisk();
    if (d !== disk) {
      // Another disk was opened since: forget what was read from the previous one.
      disk = d;
      parts = (await inspectDisk(d)).partitions;
      opened.clear();
    }
    return d;
  }

  async function fsOf(index: number): Promise<GuestFs> {
    const d = await current();
    let p = opened.get(index);
    if (!p) {
      const part = parts.find((x) => x.index === index);
      if (!part) throw new UserError(`${d.name}: no partition ${index}`);
      p = openGuestFs(d, part).then((fs) => {
        if (!fs) throw new UserError(`${d.name}: partition ${index} holds ${part.fs.type}, which cannot be browsed here`);
        return fs;
      });
      p.catch(() => opened.delete(index));
      opened.set(index, p);
    }
    return p;
  }

  return {
    guestInspect: () =>
      guarded(async () => {
        const d = getDisk();
        const r = await inspectDisk(d);
        disk = d;
        parts = r.partitions;
        opened.clear();
        return { scheme: r.table.scheme, warnings: r.table.warnings, partitions: r.partitions, diskBytes: d.size };
      }),
    guestReaddir: (partition, path) => guarded(async () => (await fsOf(partition)).readdir(path)),
    guestReadlink: (partition, path) =>
      guarded(async () => {
        const fs = await fsOf(partition);
        if (!fs.readlink) throw new UserError(`${fs.kind} has no symbolic links`);
        return fs.readlink(path);
      }),
    guestRead: (partition, path, offset) =>
      guarded(async () => {
        const src = await (await fsOf(partition)).open(path);
        const n = Math.max(0, Math.min(GUEST_CHUNK, src.size - offset));
        const bytes = (await src.read(offset, n)).slice();
        return Comlink.transfer(bytes, [bytes.buffer]);
      }),
    guestReadDisk: (offset, length) =>
      guarded(async () => {
        const d = getDisk();
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > DISK_READ_MAX) {
          throw new UserError(`${d.name}: invalid disk read ${offset}+${length} (at most ${DISK_READ_MAX} bytes)`);
        }
        const n = Math.max(0, Math.min(length, d.size - offset));
        const bytes = (await d.read(offset, n)).slice();
        return Comlink.transfer(bytes, [bytes.buffer]);
      }),
  };
}
