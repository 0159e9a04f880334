import { RescueError } from '../errors.js';
import type { FileDescriptor } from './fd.js';
import { SYSTEM_FD, type VmfsFs } from './filesystem.js';
import { fileBlockLevels, freeFileBlocks, resourceFree, type FileBlockLevels } from './file-blocks.js';
import { fdItems, installLiveItems, itemBitmapsDecoded, walkLiveTree } from './live-items.js';
import type { ResourceFile } from './resource.js';
import type { AllocationMap, BlockRun, DirEntry, ResourceUsage, VolumeUsage } from './types.js';

/**
 * The .fbb.sf level whose cluster bitmaps give one bit per file block, or null: always the one
 * header on VMFS3/5; on VMFS6 only the vmfs6-tools layout (one SFB header, no LFB level) with
 * decoded bitmaps. ESXi's layout ('rcmd' metadata, LFB parent + SFB child) has none.
 */
export async function blockBitmapLevel(fs: VmfsFs, levels: FileBlockLevels): Promise<ResourceFile | null> {
  const res = levels.blockLevel;
  if (!res || levels.lfbLevel || !levels.countBlockLevel) return null;
  if (!fs.L.v6) return res;
  try {
    return (await res.hasBitmaps()) ? res : null;
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
    return null;
  }
}

/** Volume usage from .fbb.sf: cluster bitmaps where decoded (see blockBitmapLevel), else cluster free counts (see file-blocks.ts). */
export async function computeUsage(fs: VmfsFs, levels: FileBlockLevels): Promise<VolumeUsage> {
  const bs = fs.L.blockSize;
  const totalBlocks = levels.totalBlocks;
  const freeBlocks = await freeFileBlocks(fs, levels);
  const basis = !fs.L.v6 || (await blockBitmapLevel(fs, levels)) ? 'bitmap' : 'counts';
  return { blockSize: bs, totalBlocks, freeBlocks, capacity: totalBlocks * bs, free: freeBlocks * bs, basis };
}

/** Volume byte runs a file occupies (holes and TBZ blocks still count: TBZ blocks are allocated). */
export async function fileVolumeRuns(fs: VmfsFs, fd: FileDescriptor, onRun: (volOffset: number, length: number) => void): Promise<void> {
  // In windows of a few thousand granules: batched block-map reads, bounded extent lists.
  const window = 2 ** fd.shift * 4096;
  for (let off = 0; off < fd.length; off += window) {
    for (const e of await fs.mapRange(fd, off, Math.min(window, fd.length - off), true)) {
      if (e.kind === 'vol') onRun(e.volOffset, e.length);
    }
  }
}

function resourceUsage(res: ResourceFile, itemSize: number, free: number): ResourceUsage {
  return {
    name: res.name,
    total: res.h.numResources,
    free,
    itemSize,
    async isAllocated(i: number): Promise<boolean | null> {
      if (!Number.isSafeInteger(i) || i < 0 || i >= res.h.numResources) return null;
      return res.isAllocated(Math.floor(i / res.h.R), i % res.h.R);
    },
  };
}

const SYSTEM_FILES: [string, number][] = [
  ['.fbb.sf', SYSTEM_FD.fbb],
  ['.fdc.sf', SYSTEM_FD.fdc],
  ['.pbc.sf', SYSTEM_FD.pbc],
  ['.sbc.sf', SYSTEM_FD.sbc],
  ['.vh.sf', SYSTEM_FD.vh],
];

/**
 * Block runs from the file-block bitmaps (VMFS3/5, and VMFS6 in the vmfs6-tools layout), else
 * from reachability: what the live tree and the system area reference is used (ESXi VMFS6, whose
 * bitmap position is unknown). `basis` says which.
 */
export async function buildAllocationMap(
  fs: VmfsFs,
  totalBlocks: number,
  readdir: (p: string | number) => Promise<DirEntry[]>,
  levels: FileBlockLevels = fileBlockLevels(fs),
): Promise<AllocationMap> {
  const bs = fs.L.blockSize;
  const systemRuns: AllocationMap['systemRuns'] = [];
  const sys = [...SYSTEM_FILES];
  if (fs.pb2) sys.push(['.pb2.sf', fs.pb2.content.fd.address]);
  if (fs.jbc) sys.push(['.jbc.sf', fs.jbc.content.fd.address]);
  for (const [file, addr] of sys) {
    try {
      const fd = await fs.fd(addr);
      await fileVolumeRuns(fs, fd, (v, n) => {
        const start = Math.floor(v / bs);
        const count = Math.ceil((v + n) / bs) - start;
        const last = systemRuns[systemRuns.length - 1];
        if (last && last.file === file && last.start + last.count >= start) last.count = Math.max(last.count, start + count - last.start);
        else systemRuns.push({ start, count, file });
      });
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  }

  const runs: BlockRun[] = [];
  const push = (start: number, count: number, state: BlockRun['state']) => {
    const last = runs[runs.length - 1];
    if (last && last.state === state && last.start + last.count === start) last.count += count;
    else runs.push({ start, count, state });
  };
  let basis: AllocationMap['basis'] = 'bitmap';
  const bitmapLevel = await blockBitmapLevel(fs, levels);
  // Resource files without decoded bitmaps (ESXi's 'rcmd' metadata) learn their allocated items
  // from the same walk of the live tree that gives block reachability.
  const needItems = !(await itemBitmapsDecoded(fs));
  const items = new Map<ResourceFile, Set<number>>();
  const addItem = (res: ResourceFile | null, item: number) => {
    if (!res) return;
    let set = items.get(res);
    if (!set) items.set(res, (set = new Set()));
    set.add(item);
  };
  const used = bitmapLevel ? null : new Uint8Array(Math.ceil(totalBlocks / 8));
  const mark = (v: number, n: number) => {
    for (let b = Math.floor(v / bs); b < Math.min(totalBlocks, Math.ceil((v + n) / bs)); b++) used![b >>> 3]! |= 1 << (b & 7);
  };
  if (used || needItems) {
    if (used) {
      mark(0, fs.L.fdcBase);
      for (const r of systemRuns) mark(r.start * bs, r.count * bs);
    }
    await walkLiveTree(fs, (a) => readdir(a), async (fd) => {
      if (needItems) await fdItems(fs, fd, addItem);
      if (used && fd.type !== 'rdm') {
        try {
          await fileVolumeRuns(fs, fd, mark);
        } catch (e) {
          if (!(e instanceof RescueError)) throw e;
        }
      }
    });
  }
  const liveItems = needItems ? await installLiveItems(fs, items) : [];
  if (bitmapLevel) {
    const R = bitmapLevel.h.R;
    for (let c = 0; c * R < totalBlocks; c++) {
      const st = await bitmapLevel.cluster(c);
      const n = Math.min(R, totalBlocks - c * R);
      for (let r = 0; r < n; r++) {
        const free = st.bitmap && r < st.total ? (st.bitmap[r >>> 3]! >>> (r & 7)) & 1 : 0;
        push(c * R + r, 1, free ? 'free' : 'used');
      }
    }
  } else {
    // No decoded bitmap (ESXi VMFS6): what the live tree (and the system area) references is used.
    basis = 'reachability';
    for (let b = 0; b < totalBlocks; b++) push(b, 1, (used![b >>> 3]! >>> (b & 7)) & 1 ? 'used' : 'free');
  }
  let freeBlocks = 0;
  for (const r of runs) if (r.state === 'free') freeBlocks += r.count;

  const resources: ResourceUsage[] = [];
  const add = async (res: ResourceFile | null, itemSize: number) => {
    if (!res) return;
    let free = 0;
    try {
      free = await resourceFree(res);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
    resources.push(resourceUsage(res, itemSize, free));
  };
  // VMFS6: one .fbb.sf header counts SFBs (vmfs6-tools layout), or a parent counts LFBs and its child SFBs (ESXi).
  await add(fs.fbb, fs.L.v6 && fs.sfb !== fs.fbb ? fs.L.lfbSize : bs);
  if (fs.sfb && fs.sfb !== fs.fbb) await add(fs.sfb, bs);
  await add(fs.fdc, fs.fdc?.h.S ?? 0);
  await add(fs.pbc, fs.pbc?.h.S ?? 0);
  await add(fs.sbc, fs.sbc?.h.S ?? 0);
  await add(fs.pb2, fs.pb2?.h.S ?? 0);
  await add(fs.jbc, fs.jbc?.h.S ?? 0);
  const itemWarnings = liveItems
    .filter((x) => x.live.mismatched.length)
    .map((x) => `${x.name}: the live tree's items disagree with the 'rcmd' counts of cluster(s) ${x.live.mismatched.slice(0, 8).join(', ')}${x.live.mismatched.length > 8 ? '…' : ''} (orphans, or live files that did not read)`);
  return { blockSize: bs, totalBlocks, freeBlocks, runs, systemRuns, resources, basis, ...(itemWarnings.length ? { warnings: itemWarnings } : {}) };
}
