import { RescueError, throwIfAborted } from '../errors.js';
import { throttle, type JobOptions } from '../progress.js';
import { hex, u32 } from '../util/struct.js';
import { decodeDescriptorBytes, looksLikeDescriptor, parseDescriptor, descriptorSectors } from '../vmdk/descriptor.js';
import { encodeFd, FD_META, formatFdAddress, parseFd, type FileDescriptor, type VmfsFs } from '../vmfs/index.js';
import { HEADER_PROBE_BYTES, probeDeltaHeader, type DeltaHeader } from './delta-header.js';
import type { BlockUse } from './free-map.js';

const FD_LOCK_MAGIC = 0x10c00001;
const ZLA_FB = 1;
const ZLA_PB = 3;
const ZLA_RESIDENT = 4305;
const ADDR_FB = 1;
const ADDR_PB = 3;
/** Items of a resource file visited at most (FDC / PBC): far above any real volume, bounds a corrupt header. */
const MAX_ITEMS = 4 * 1024 * 1024;

/** A freed FD that still holds a delta's block list. */
export interface FreedFdDelta {
  fd: FileDescriptor;
  /** FD address of the directory that held it (FD metadata 0x70), 0 when unknown. */
  parentDir: number;
  header: DeltaHeader;
  headerVolOffset: number;
  /** Volume block of file block i (-1 hole), and file blocks whose place is unknown with why. */
  blocks: number[];
  unknown: Map<number, string>;
}

/** A freed pointer block whose first block starts with a delta header. */
export interface FreedPbDelta {
  pbAddress: number;
  pbVolOffset: number;
  /** Item index in .pbc.sf. */
  item: number;
  header: DeltaHeader;
  headerVolOffset: number;
  blocks: number[];
}

export interface DescriptorRemnant {
  volOffset: number;
  fd: string;
  parentDir: number;
  cid: string;
  parentCid: string;
  createType: string;
  parentFileNameHint: string | null;
  capacityBytes: number;
  extentFile: string | null;
}

/**
 * Freed FDs (FDC bitmap: free) whose content is still a valid FD of a regular file: a delta with
 * its block list (FD slots or pointer blocks, read even when freed), or resident descriptor text.
 * VMFS3/5 only: VMFS6 FDC bitmaps are undecoded, so no FD is known to be free there.
 */
export async function scanFreedFds(fs: VmfsFs, use: BlockUse, opts: JobOptions = {}): Promise<{ deltas: FreedFdDelta[]; descriptors: DescriptorRemnant[]; warnings: string[] }> {
  const deltas: FreedFdDelta[] = [];
  const descriptors: DescriptorRemnant[] = [];
  const warnings: string[] = [];
  const fdc = fs.fdc;
  if (!fdc || fs.L.v6) return { deltas, descriptors, warnings };
  const L = fs.L;
  const R = fdc.h.R;
  const items = Math.min(fdc.h.numResources, fdc.totalClusters * R, MAX_ITEMS);
  const progress = throttle(opts.onProgress);
  for (let i = 0; i < items; i++) {
    if ((i & 255) === 0) {
      throwIfAborted(opts.signal);
      progress({ phase: 'scan freed file descriptors', done: i, total: items });
    }
    const c = Math.floor(i / R);
    const r = i % R;
    try {
      if ((await fdc.isAllocated(c, r)) !== false) continue;
      const ext = await fs.mapOffset(fdc.content.fd, fdc.itemOffset(c, r));
      if (ext.kind !== 'vol' || ext.length < L.fdSize) continue;
      const raw = await fs.meta.read(ext.volOffset, L.fdSize);
      if (u32(raw, 0) !== FD_LOCK_MAGIC) continue;
      const address = encodeFd(c, r);
      const fd = parseFd(raw.slice(), address, ext.volOffset, L, fs.d.majorVersion, fs.name);
      if (fd.typeCode !== 3 || fd.length === 0) continue;
      const parentDir = FD_META.parse(fd.raw, L.fdMetaOffset).parentFd;
      if (fd.zla === ZLA_RESIDENT) {
        const d = residentDescriptor(fd, L.fdDataOffset, parentDir);
        if (d) descriptors.push(d);
        continue;
      }
      if (fd.zla !== ZLA_FB && fd.zla !== ZLA_PB) continue;
      if (fd.blockSize !== L.blockSize) continue;
      const first = await fs.mapOffset(fd, 0, true);
      if (first.kind !== 'vol') continue;
      const head = await fs.vol.read(first.volOffset, Math.min(HEADER_PROBE_BYTES, fs.vol.size - first.volOffset));
      const header = probeDeltaHeader(head, fs.vol.size);
      if (!header) continue;
      const { blocks, unknown } = await fdBlockList(fs, fd, use);
      deltas.push({ fd, parentDir, header, headerVolOffset: first.volOffset, blocks, unknown });
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      // A freed FD that no longer parses is just not evidence.
    }
  }
  progress({ phase: 'scan freed file descriptors', done: items, total: items });
  return { deltas, descriptors, warnings };
}

function residentDescriptor(fd: FileDescriptor, dataOffset: number, parentDir: number): DescriptorRemnant | null {
  const bytes = fd.raw.subarray(dataOffset, dataOffset + fd.length);
  if (!looksLikeDescriptor(bytes)) return null;
  try {
    const d = parseDescriptor(decodeDescriptorBytes(bytes, formatFdAddress(fd.address)), formatFdAddress(fd.address));
    return {
      volOffset: fd.volOffset + dataOffset,
      fd: formatFdAddress(fd.address),
      parentDir,
      cid: d.cid,
      parentCid: d.parentCid,
      createType: d.createType,
      parentFileNameHint: d.parentFileNameHint,
      capacityBytes: descriptorSectors(d) * 512,
      extentFile: d.extents[0]?.fileName ?? null,
    };
  } catch (e) {
    if (e instanceof RescueError) return null;
    throw e;
  }
}

/**
 * File block -> volume block for a (freed) FD. Blocks behind a pointer block that a live file
 * owns again are unknown (its entries are someone else's now); to-be-zeroed blocks are holes.
 */
async function fdBlockList(fs: VmfsFs, fd: FileDescriptor, use: BlockUse): Promise<{ blocks: number[]; unknown: Map<number, string> }> {
  const n = Math.min(Math.ceil(fd.length / fs.L.blockSize), use.totalBlocks);
  const blocks: number[] = [];
  const unknown = new Map<number, string>();
  const pbState = new Map<number, string | null>();
  for (let i = 0; i < n; i++) {
    if (fd.zla === ZLA_PB) {
      const k = Math.floor(i / fs.L.pbEntries);
      let why = pbState.get(k);
      if (why === undefined) {
        why = null;
        const lo = fd.slotsLo[k] ?? 0;
        const a = fs.decode(lo, 0);
        if (lo !== 0 && a.type === ADDR_PB && fs.pbc && (await fs.pbc.isAllocated(a.cluster, a.resource).catch(() => null)) === true) {
          why = `pointer block ${hex(lo, 8)} (file blocks ${k * fs.L.pbEntries}..) is now owned by a live file`;
        }
        pbState.set(k, why);
      }
      if (why) {
        unknown.set(i, why);
        blocks.push(-1);
        continue;
      }
    }
    try {
      const [lo, hi] = await fs.blockAddress(fd, i);
      const a = fs.decode(lo, hi);
      blocks.push(lo === 0 || a.type !== ADDR_FB || a.tbz ? -1 : a.block);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
      unknown.set(i, `block ${i} of the freed FD cannot be mapped: ${e.message}`);
      blocks.push(-1);
    }
  }
  return { blocks, unknown };
}

/** A freed pointer block whose entries all look like FB addresses (a possible later piece of a delta). */
export interface FreedPb {
  pbAddress: number;
  pbVolOffset: number;
  /** Index of the item in .pbc.sf (cluster × R + resource): PBs of one file are usually allocated close together. */
  item: number;
  /** Entries that are valid FB addresses, and the index after the last of them. */
  valid: number;
  end: number;
}

/** Freed PBs kept for joining (4 numbers each; a volume with more freed PBs is cut here with a warning). */
const MAX_FREED_PBS = 1 << 18;

/**
 * Freed pointer blocks (.pbc.sf bitmap: free) whose entries are plausible FB addresses: `heads`
 * are those whose first block starts with a delta header (the ordered list of the delta's first
 * pbEntries blocks); `others` are every other plausible freed PB, kept small (no block lists) so
 * later pieces of a large delta can be joined by re-reading only the few that fit.
 */
export async function scanFreedPbs(fs: VmfsFs, use: BlockUse, opts: JobOptions = {}): Promise<{ heads: FreedPbDelta[]; others: FreedPb[]; warnings: string[] }> {
  const pbc = fs.pbc;
  const heads: FreedPbDelta[] = [];
  const others: FreedPb[] = [];
  const warnings: string[] = [];
  if (!pbc || fs.L.v6) return { heads, others, warnings };
  const R = pbc.h.R;
  const items = Math.min(pbc.h.numResources, pbc.totalClusters * R, MAX_ITEMS);
  const need = fs.L.pbEntries * 4;
  if (pbc.h.S < need) return { heads, others, warnings };
  for (let i = 0; i < items; i++) {
    if ((i & 255) === 0) throwIfAborted(opts.signal);
    const c = Math.floor(i / R);
    const r = i % R;
    try {
      if ((await pbc.isAllocated(c, r)) !== false) continue;
      // A delta is written densely, so each of its PBs lists a block first: never-used (zero)
      // items and holes-first PBs of thin files are skipped after reading 4 bytes.
      if (u32(await pbc.readItem(c, r, 4), 0) === 0) continue;
      const pb = await pbc.readItem(c, r, need);
      const blocks = pbBlocks(fs, pb, use.totalBlocks);
      if (!blocks) continue;
      const pbAddress = ((r << 28) | (c << 6) | ADDR_PB) >>> 0;
      const ext = await fs.mapOffset(pbc.content.fd, pbc.itemOffset(c, r));
      const pbVolOffset = ext.kind === 'vol' ? ext.volOffset : -1;
      const b0 = blocks[0]!;
      const head = b0 >= 0 ? probeDeltaHeader(await fs.vol.read(b0 * fs.L.blockSize, HEADER_PROBE_BYTES), fs.vol.size) : null;
      if (head) {
        heads.push({ pbAddress, pbVolOffset, item: i, header: head, headerVolOffset: b0 * fs.L.blockSize, blocks });
        continue;
      }
      if (others.length >= MAX_FREED_PBS) {
        if (others.length === MAX_FREED_PBS) warnings.push(`more than ${MAX_FREED_PBS} freed pointer blocks: the rest are not tried as later pieces of a delta`);
        continue;
      }
      let valid = 0;
      let end = 0;
      blocks.forEach((b, k) => {
        if (b >= 0) {
          valid++;
          end = k + 1;
        }
      });
      others.push({ pbAddress, pbVolOffset, item: i, valid, end });
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
    }
  }
  return { heads, others, warnings };
}

/** Re-reads a freed PB's block list (see scanFreedPbs), or null when it no longer looks like one. */
export async function readFreedPb(fs: VmfsFs, pb: FreedPb, totalBlocks: number): Promise<number[] | null> {
  const pbc = fs.pbc;
  if (!pbc) return null;
  const R = pbc.h.R;
  return pbBlocks(fs, await pbc.readItem(Math.floor(pb.item / R), pb.item % R, fs.L.pbEntries * 4), totalBlocks);
}

/**
 * A PB's entries as volume blocks (-1: zero or to-be-zeroed), or null when any entry is not a
 * plausible FB address or none is set: such an item is garbage or some other structure.
 */
function pbBlocks(fs: VmfsFs, pb: Uint8Array, totalBlocks: number): number[] | null {
  const blocks: number[] = [];
  let any = false;
  for (let k = 0; k < fs.L.pbEntries; k++) {
    const e = u32(pb, k * 4);
    if (e === 0) {
      blocks.push(-1);
      continue;
    }
    const a = fs.decode(e, 0);
    if (a.type !== ADDR_FB || a.block >= totalBlocks) return null;
    blocks.push(a.tbz ? -1 : a.block);
    any = true;
  }
  return any ? blocks : null;
}
