import { RescueError } from '../errors.js';
import { ADDR_PB, ADDR_PB2, ADDR_SB, ZLA_DOUBLE, ZLA_PB, ZLA_PB2, ZLA_SB } from './address.js';
import { decodeFd } from './address.js';
import type { FileDescriptor } from './fd.js';
import { SYSTEM_FD, type VmfsFs } from './filesystem.js';
import type { LiveItems, ResourceFile } from './resource.js';
import type { DirEntry } from './types.js';

/** Directory entries the live walk visits at most: bounds a corrupt (looping, huge) tree. */
const MAX_ENTRIES = 1 << 20;

/**
 * Visits every FD the live tree reaches once, directories first-come (root, then breadth-first),
 * each with its directory entries read (for directories). FDs that do not read are skipped.
 */
export async function walkLiveTree(
  fs: VmfsFs,
  readdir: (p: number) => Promise<DirEntry[]>,
  onFd: (fd: FileDescriptor) => Promise<void> | void,
): Promise<void> {
  const seen = new Set<number>();
  const queue: number[] = [SYSTEM_FD.root];
  let visited = 0;
  const visit = async (addr: number): Promise<FileDescriptor | null> => {
    try {
      const fd = await fs.fd(addr);
      await onFd(fd);
      return fd;
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
      return null;
    }
  };
  while (queue.length && visited < MAX_ENTRIES) {
    const dirAddr = queue.shift()!;
    if (seen.has(dirAddr)) continue;
    seen.add(dirAddr);
    let entries: DirEntry[];
    try {
      entries = await readdir(dirAddr);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
      continue;
    }
    await visit(dirAddr);
    for (const e of entries) {
      if (++visited > MAX_ENTRIES) break;
      if (e.error || e.name === '.' || e.name === '..') continue;
      if (e.type === 'directory') queue.push(e.fdAddress);
      else if (!seen.has(e.fdAddress)) {
        seen.add(e.fdAddress);
        await visit(e.fdAddress);
      }
    }
  }
}

/**
 * The resource items one live FD holds: itself in .fdc.sf, the sub-blocks its slots name (ZLA 2),
 * and every pointer block of its block map (.pbc.sf, .pb2.sf, and on VMFS6 .sbc.sf sub-blocks),
 * both levels under double indirection. A pointer block that does not read holds what it holds.
 */
export async function fdItems(fs: VmfsFs, fd: FileDescriptor, add: (res: ResourceFile | null, item: number) => void): Promise<void> {
  const f = decodeFd(fd.address);
  if (fs.fdc) add(fs.fdc, f.cluster * fs.fdc.h.R + f.resource);
  const addAddr = (lo: number, hi: number): boolean => {
    if (lo === 0 && hi === 0) return false;
    const a = fs.decode(lo, hi);
    const res = a.type === ADDR_SB ? fs.sbc : a.type === ADDR_PB ? fs.pbc : a.type === ADDR_PB2 ? fs.pb2 : null;
    if (!res || a.resource >= res.h.R) return false;
    add(res, a.cluster * res.h.R + a.resource);
    return true;
  };
  const slots = Math.min(fs.L.fdSlots, fd.slotsLo.length);
  if (fd.zla === ZLA_SB) {
    for (let k = 0; k < slots; k++) addAddr(fd.slotsLo[k]!, fd.slotsHi[k]!);
    return;
  }
  if (fd.zla !== ZLA_PB && fd.zla !== ZLA_PB2 && fd.zla !== ZLA_DOUBLE) return;
  const w = fs.L.addrWidth;
  for (let k = 0; k < slots; k++) {
    const lo = fd.slotsLo[k]!;
    const hi = fd.slotsHi[k]!;
    if (!addAddr(lo, hi) || fd.zla !== ZLA_DOUBLE) continue;
    try {
      const top = await fs.pointerBlock(lo, hi);
      const dv = new DataView(top.buffer, top.byteOffset, top.length);
      for (let j = 0; j + w <= top.length; j += w) addAddr(dv.getUint32(j, true), w === 8 ? dv.getUint32(j + 4, true) : 0);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  }
}

/** What installLiveItems found: per resource file, the live items and the clusters whose counts disagree. */
export type LiveItemReport = { name: string; live: LiveItems }[];

/**
 * Resource files whose clusters carry no decoded bitmap (ESXi VMFS6 'rcmd' metadata) learn their
 * allocated items from what the live tree references; each cluster's 'rcmd' used count is the check.
 * `collect` runs the walk (or is handed the items by one the caller already does).
 */
export async function installLiveItems(fs: VmfsFs, items: Map<ResourceFile, Set<number>>): Promise<LiveItemReport> {
  const out: LiveItemReport = [];
  for (const res of [fs.fdc, fs.sbc, fs.pbc, fs.pb2]) {
    if (!res || (await hasBitmapsSafe(res))) continue;
    out.push({ name: res.name, live: await res.setLiveItems(items.get(res) ?? new Set()) });
  }
  return out;
}

/** Whether the resource files that hold FDs, sub-blocks and pointer blocks all have decoded bitmaps. */
export async function itemBitmapsDecoded(fs: VmfsFs): Promise<boolean> {
  for (const res of [fs.fdc, fs.sbc, fs.pbc, fs.pb2]) if (res && !(await hasBitmapsSafe(res))) return false;
  return true;
}

async function hasBitmapsSafe(res: ResourceFile): Promise<boolean> {
  try {
    return await res.hasBitmaps();
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
    return true; // unreadable cluster headers: leave the resource as it is (unknown allocation)
  }
}
