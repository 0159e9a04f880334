import { RescueError, throwIfAborted } from '../errors.js';
import { throttle, type JobOptions } from '../progress.js';
import { hex, u32 } from '../util/struct.js';
import { encodeFd, FD_META, formatFdAddress, parseFd, type FileDescriptor, type VmfsFs } from '../vmfs/index.js';
import { HEADER_PROBE_BYTES, probeHeaderRemnant, type DeltaHeader } from './delta-header.js';
import type { Rejections } from './rejected.js';
import { planFromBlocks, seSparseDataEnd } from './plan.js';
import type { BlockUse } from './free-map.js';
import { parseTextRemnant, type DescriptorRemnant, type VmsdRemnant } from './text-carving.js';

export type { DescriptorRemnant, VmsdRemnant } from './text-carving.js';

const FD_LOCK_MAGIC = 0x10c00001;
const ZLA_FB = 1;
const ZLA_PB = 3;
const ZLA_DOUBLE = 4304;
const ZLA_RESIDENT = 4305;
const ADDR_FB = 1;
const ADDR_SB = 2;
const ADDR_PB = 3;
const ADDR_PB2 = 5;
const ADDR_LFB = 7;
/** Items of a resource file visited at most (FDC / PBC): far above any real volume, bounds a corrupt header. */
const MAX_ITEMS = 4 * 1024 * 1024;

type Resource = NonNullable<VmfsFs['pbc']>;

/**
 * Addressing modes whose block list a freed FD may hold: direct and single indirection; VMFS6
 * also double indirection (debugvmfs6 reads ZLA 4304 as such; vmfs-tools does not on VMFS3/5).
 */
function listsBlocks(fs: VmfsFs, zla: number): boolean {
  return zla === ZLA_FB || zla === ZLA_PB || (fs.L.v6 && zla === ZLA_DOUBLE);
}

/** SFBs per .fbb.sf cluster on VMFS6 (SFB number = cluster × this + resource), as the reader uses it. */
function sfbPerCluster(fs: VmfsFs): number {
  return fs.sfb && fs.sfb.h.R > 0 ? fs.sfb.h.R : fs.L.sfbPerCluster;
}

/**
 * The FS block (fs.L.blockSize units) holding byte `within` of the data block addressed (lo, hi):
 * -1 for a hole or a to-be-zeroed block, null for an address that is no data block of this
 * volume (another type, outside it). VMFS3/5: FB number. VMFS6: SFB = cluster × per-cluster +
 * resource; LFB n starts at n × lfbSize.
 */
export function dataBlockOf(fs: VmfsFs, lo: number, hi: number, within: number, totalBlocks: number): number | null {
  if (lo === 0 && hi === 0) return -1;
  const a = fs.decode(lo, hi);
  const L = fs.L;
  let b: number;
  if (a.type === ADDR_FB) {
    if (within >= L.blockSize) return null;
    if (!L.v6) b = a.block;
    else {
      const per = sfbPerCluster(fs);
      if (a.resource >= per) return null;
      b = a.cluster * per + a.resource;
    }
  } else if (a.type === ADDR_LFB && L.v6 && L.lfbSize >= L.blockSize) {
    if (within >= L.lfbSize) return null;
    b = a.block * (L.lfbSize / L.blockSize) + Math.floor(within / L.blockSize);
  } else return null;
  if (!Number.isSafeInteger(b) || b < 0 || b >= totalBlocks) return null;
  return a.tbz ? -1 : b;
}

/**
 * Resource files that hold pointer blocks, with the address type naming their items: .pbc.sf on
 * VMFS3/5; on VMFS6 also .pb2.sf and .sbc.sf (vmfs6-tools and our builder keep pointer blocks in
 * 64 KiB sub-blocks). Only files whose items can hold a whole pointer block.
 */
function pbResources(fs: VmfsFs): { type: number; res: Resource }[] {
  const need = fs.L.pbEntries * fs.L.addrWidth;
  const all = fs.L.v6 ? [{ type: ADDR_PB, res: fs.pbc }, { type: ADDR_PB2, res: fs.pb2 }, { type: ADDR_SB, res: fs.sbc }] : [{ type: ADDR_PB, res: fs.pbc }];
  return all.filter((x): x is { type: number; res: Resource } => x.res !== null && x.res.h.S >= need && x.res.h.R > 0);
}

/** The address of item (c, r) of a pointer-block resource: u32 on VMFS3/5, u64 (as a bigint) on VMFS6. */
function itemAddress(fs: VmfsFs, type: number, c: number, r: number): number | bigint {
  return fs.L.v6 ? (BigInt(r) << 56n) | (BigInt(c) << 6n) | BigInt(type) : ((r << 28) | (c << 6) | type) >>> 0;
}

/** Entry k of a pointer block as (lo, hi) for the volume's address width. */
function pbEntry(fs: VmfsFs, pb: Uint8Array, k: number): [number, number] {
  return fs.L.addrWidth === 8 ? [u32(pb, k * 8), u32(pb, k * 8 + 4)] : [u32(pb, k * 4), 0];
}

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
  /** Its address: u32 on VMFS3/5, u64 (bigint) on VMFS6. */
  pbAddress: number | bigint;
  pbVolOffset: number;
  /** Address type of the resource file holding it (3 .pbc.sf, 5 .pb2.sf, 2 .sbc.sf on VMFS6) and its item index there. */
  type: number;
  item: number;
  /** seSparse: fileSize is where the grain tables read through this PB say the grains end. */
  header: DeltaHeader;
  headerVolOffset: number;
  blocks: number[];
}

/**
 * Freed FDs (FDC bitmap: free) whose content is still a valid FD of a regular file: a delta with
 * its block list (FD slots or pointer blocks, read even when freed), or resident descriptor text.
 * VMFS3/5 and VMFS6 (8 KiB FDs, u64 slots and pointer-block entries). On ESXi's VMFS6 layout
 * ('rcmd' cluster metadata) an FD is free when the live tree does not reference it: the
 * allocation map (built before this runs) installs that on .fdc.sf.
 */
export async function scanFreedFds(fs: VmfsFs, use: BlockUse, opts: JobOptions = {}, rejected?: Rejections): Promise<{ deltas: FreedFdDelta[]; descriptors: DescriptorRemnant[]; vmsds: VmsdRemnant[]; warnings: string[] }> {
  const deltas: FreedFdDelta[] = [];
  const descriptors: DescriptorRemnant[] = [];
  const vmsds: VmsdRemnant[] = [];
  const warnings: string[] = [];
  const fdc = fs.fdc;
  if (!fdc) return { deltas, descriptors, vmsds, warnings };
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
    /** Volume offset of the freed FD once it is known to carry the FD lock magic (a remnant). */
    let fdAt = -1;
    /** The structure being parsed, for a failure: the FD, then its delta header. */
    let trying: 'fd' | 'cowd-header' | 'sesparse-header' = 'fd';
    let tryingAt = -1;
    try {
      if ((await fdc.isAllocated(c, r)) !== false) continue;
      const ext = await fs.mapOffset(fdc.content.fd, fdc.itemOffset(c, r));
      if (ext.kind !== 'vol' || ext.length < L.fdSize) continue;
      const raw = await fs.meta.read(ext.volOffset, L.fdSize);
      if (u32(raw, 0) !== FD_LOCK_MAGIC) continue;
      fdAt = tryingAt = ext.volOffset;
      const address = encodeFd(c, r);
      let fd = parseFd(raw.slice(), address, ext.volOffset, L, fs.d.majorVersion, fs.name);
      if (fd.typeCode !== 3 || fd.length === 0) continue;
      const parentDir = FD_META.parse(fd.raw, L.fdMetaOffset).parentFd;
      if (fd.zla === ZLA_RESIDENT) {
        // Resident text of a deleted descriptor or .vmsd (both are usually under the resident limit).
        const fdText = formatFdAddress(fd.address);
        const t = parseTextRemnant(fd.raw.subarray(L.fdDataOffset, L.fdDataOffset + fd.length), { volOffset: fd.volOffset + L.fdDataOffset, location: 'freed-fd', fd: fdText, parentDir }, rejected);
        if (t && 'descriptor' in t) descriptors.push(t.descriptor);
        else if (t) vmsds.push(t.vmsd);
        continue;
      }
      if (!listsBlocks(fs, fd.zla)) continue;
      // The slot granule must be the FS block (or, VMFS6, the LFB): block lists are in FS blocks.
      const granule = 2 ** fd.shift;
      if (granule !== L.blockSize && !(L.v6 && granule === L.lfbSize)) continue;
      const first = await fs.mapOffset(fd, 0, true);
      if (first.kind !== 'vol') continue;
      const head = await fs.vol.read(first.volOffset, Math.min(HEADER_PROBE_BYTES, fs.vol.size - first.volOffset));
      const header = probeHeaderRemnant(head, fs.vol.size);
      if (!header) continue;
      if (!('format' in header)) {
        rejected?.add(header.kind, first.volOffset, `first block of freed FD ${formatFdAddress(fd.address)}: ${header.reason}`);
        continue;
      }
      trying = header.format === 'seSparse' ? 'sesparse-header' : 'cowd-header';
      tryingAt = first.volOffset;
      // The rebuilt file is as long as the FD says (seSparse: the header gives only the metadata
      // end): a length past what the delta can hold is corrupt and is cut there.
      const most = deltaMaxBytes(fs, header);
      if (fd.length > most) {
        warnings.push(`freed FD ${formatFdAddress(fd.address)} says ${fd.length} bytes, more than its ${header.format} delta can hold: read up to ${most}`);
        fd = { ...fd, length: most };
      }
      const { blocks, unknown } = await fdBlockList(fs, fd, use);
      deltas.push({ fd, parentDir, header, headerVolOffset: first.volOffset, blocks, unknown });
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      // A freed FD that no longer parses is not evidence: a rejected remnant when it looked like one.
      if (fdAt >= 0) rejected?.add(trying, tryingAt, e.message);
    }
  }
  progress({ phase: 'scan freed file descriptors', done: items, total: items });
  return { deltas, descriptors, vmsds, warnings };
}

/**
 * File block -> volume block for a (freed) FD. Blocks behind a pointer block that a live file
 * owns again are unknown (its entries are someone else's now); to-be-zeroed blocks are holes.
 * File blocks are FS blocks; a VMFS6 LFB granule spans lfbSize / blockSize of them.
 */
async function fdBlockList(fs: VmfsFs, fd: FileDescriptor, use: BlockUse): Promise<{ blocks: number[]; unknown: Map<number, string> }> {
  const bs = fs.L.blockSize;
  const N = fs.L.pbEntries;
  const granule = 2 ** fd.shift;
  const n = Math.min(Math.ceil(fd.length / bs), use.totalBlocks);
  const blocks: number[] = [];
  const unknown = new Map<number, string>();
  /** Why a PB (by address) cannot be trusted, null when it can; cached: one bitmap look-up per PB. */
  const pbState = new Map<string, string | null>();
  const pbWhy = async (lo: number, hi: number, first: number): Promise<string | null> => {
    const key = `${lo}:${hi}`;
    let why = pbState.get(key);
    if (why === undefined) {
      why = null;
      const a = fs.decode(lo, hi);
      const res = a.type === ADDR_PB ? fs.pbc : a.type === ADDR_PB2 ? fs.pb2 : a.type === ADDR_SB && fs.L.v6 ? fs.sbc : null;
      if (res && (await res.isAllocated(a.cluster, a.resource).catch(() => null)) === true) {
        why = `pointer block ${hex(fs.L.v6 ? (BigInt(hi) << 32n) | BigInt(lo) : lo, 8)} (file blocks ${first}..) is now owned by a live file`;
      }
      pbState.set(key, why);
    }
    return why;
  };
  for (let i = 0; i < n; i++) {
    const g = Math.floor((i * bs) / granule);
    const within = i * bs - g * granule;
    try {
      let why: string | null = null;
      if (fd.zla === ZLA_PB) {
        const k = Math.floor(g / N);
        if (fd.slotsLo[k] || fd.slotsHi[k]) why = await pbWhy(fd.slotsLo[k]!, fd.slotsHi[k]!, k * N);
      } else if (fd.zla === ZLA_DOUBLE) {
        // Top PB, then the leaf it names: either one reused by a live file taints the entries.
        const t = Math.floor(g / (N * N));
        const tlo = fd.slotsLo[t] ?? 0;
        const thi = fd.slotsHi[t] ?? 0;
        if (tlo || thi) {
          why = await pbWhy(tlo, thi, t * N * N);
          if (!why) {
            const [llo, lhi] = pbEntry(fs, await fs.pointerBlock(tlo, thi), Math.floor(g / N) % N);
            if (llo || lhi) why = await pbWhy(llo, lhi, Math.floor(g / N) * N);
          }
        }
      }
      if (why) {
        unknown.set(i, why);
        blocks.push(-1);
        continue;
      }
      const [lo, hi] = await fs.blockAddress(fd, g);
      const b = dataBlockOf(fs, lo, hi, within, use.totalBlocks);
      if (b === null) unknown.set(i, `block ${i} of the freed FD has address ${hex(fs.L.v6 ? (BigInt(hi) << 32n) | BigInt(lo) : lo, 8)}, no data block of this volume`);
      blocks.push(b ?? -1);
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      unknown.set(i, `block ${i} of the freed FD cannot be mapped: ${e.message}`);
      blocks.push(-1);
    }
  }
  return { blocks, unknown };
}

/** A freed pointer block whose entries all look like data-block addresses (a possible later piece of a delta). */
export interface FreedPb {
  pbAddress: number | bigint;
  pbVolOffset: number;
  /** Address type of its resource file (see FreedPbDelta) and the item index there (cluster × R + resource): PBs of one file are usually allocated close together. */
  type: number;
  item: number;
  /** Entries that are valid FB addresses, and the index after the last of them. */
  valid: number;
  end: number;
}

/** Freed PBs kept for joining (a few numbers each; a volume with more freed PBs is cut here with a warning). */
const MAX_FREED_PBS = 1 << 18;

/**
 * Freed pointer blocks (bitmap: free) whose entries are plausible data-block addresses, in every
 * resource file that holds pointer blocks (.pbc.sf; VMFS6 also .pb2.sf and .sbc.sf): `heads` are
 * those whose first block starts with a delta header (the ordered list of the delta's first
 * pbEntries blocks); `others` are every other plausible freed PB, kept small (no block lists) so
 * later pieces of a large delta can be joined by re-reading only the few that fit.
 */
export async function scanFreedPbs(fs: VmfsFs, use: BlockUse, opts: JobOptions = {}, rejected?: Rejections): Promise<{ heads: FreedPbDelta[]; others: FreedPb[]; warnings: string[] }> {
  const heads: FreedPbDelta[] = [];
  const others: FreedPb[] = [];
  const warnings: string[] = [];
  const w = fs.L.addrWidth;
  const need = fs.L.pbEntries * w;
  const bs = fs.L.blockSize;
  for (const { type, res } of pbResources(fs)) {
    const R = res.h.R;
    const items = Math.min(res.h.numResources, res.totalClusters * R, MAX_ITEMS);
    for (let i = 0; i < items; i++) {
      if ((i & 255) === 0) throwIfAborted(opts.signal);
      const c = Math.floor(i / R);
      const r = i % R;
      /** Set once the item's first entry makes it a pointer-block remnant; where it is (-1 unknown). */
      let remnant = false;
      let pbAt = -1;
      try {
        if ((await res.isAllocated(c, r)) !== false) continue;
        // A delta is written densely, so each of its PBs lists a block first: never-used (zero)
        // items, holes-first PBs of thin files and (VMFS6 sub-blocks) small files' data are
        // skipped after reading one entry.
        const e0 = await res.readItem(c, r, w);
        const [lo0, hi0] = pbEntry(fs, e0, 0);
        if ((lo0 === 0 && hi0 === 0) || dataBlockOf(fs, lo0, hi0, 0, use.totalBlocks) === null) continue;
        remnant = true;
        const ext = await fs.mapOffset(res.content.fd, res.itemOffset(c, r));
        const pbVolOffset = (pbAt = ext.kind === 'vol' ? ext.volOffset : -1);
        const blocks = pbBlocks(fs, await res.readItem(c, r, need), use.totalBlocks);
        if (!blocks) {
          rejected?.add('pointer-block', pbVolOffset, `freed pointer block item ${i}: starts with a data-block address but lists an address that is no data block of this volume`);
          continue;
        }
        const pbAddress = itemAddress(fs, type, c, r);
        const b0 = blocks[0]!;
        const probed = b0 >= 0 && (b0 + 1) * bs <= fs.vol.size ? probeHeaderRemnant(await fs.vol.read(b0 * bs, HEADER_PROBE_BYTES), fs.vol.size) : null;
        if (probed && !('format' in probed)) rejected?.add(probed.kind, b0 * bs, `first block of freed pointer block ${hex(pbAddress, 8)}: ${probed.reason}`);
        let head = probed && 'format' in probed ? probed : null;
        if (head) {
          if (head.format === 'seSparse') head = { ...head, fileSize: await seSparseEnd(fs, head, blocks, use) };
          heads.push({ pbAddress, pbVolOffset, type, item: i, header: head, headerVolOffset: b0 * bs, blocks });
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
        others.push({ pbAddress, pbVolOffset, type, item: i, valid, end });
      } catch (e) {
        if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
        if (remnant) rejected?.add('pointer-block', pbAt, e.message);
      }
    }
  }
  return { heads, others, warnings };
}

/**
 * A seSparse header says only where its metadata ends; the file ends after the last grain its
 * grain tables use (read through the PB's list). Bounded by what one PB can list.
 */
async function seSparseEnd(fs: VmfsFs, h: DeltaHeader, blocks: readonly number[], use: BlockUse): Promise<number> {
  const max = blocks.length * fs.L.blockSize;
  if (h.fileSize > max) return h.fileSize;
  const meta = planFromBlocks(blocks, h.fileSize, use, 'pointer-block');
  // A table in a block past this PB's reach is unread: the join reports its blocks unknown.
  return Math.max(h.fileSize, Math.min(await seSparseDataEnd(fs.vol, meta, h), deltaMaxBytes(fs, h)));
}

/**
 * The most bytes a delta file with header `h` can hold on this volume: COWD its freeSector end;
 * seSparse its metadata plus one grain per sector of capacity; never more than the volume.
 */
function deltaMaxBytes(fs: VmfsFs, h: DeltaHeader): number {
  const own = h.format === 'seSparse' ? h.grainsOffset + h.capacityBytes : h.fileSize;
  return Math.min(own, fs.vol.size);
}

/** Re-reads a freed PB's block list (see scanFreedPbs), or null when it no longer looks like one. */
export async function readFreedPb(fs: VmfsFs, pb: FreedPb, totalBlocks: number): Promise<number[] | null> {
  const res = pbResources(fs).find((x) => x.type === pb.type)?.res;
  if (!res) return null;
  const R = res.h.R;
  return pbBlocks(fs, await res.readItem(Math.floor(pb.item / R), pb.item % R, fs.L.pbEntries * fs.L.addrWidth), totalBlocks);
}

/**
 * A PB's entries (u32 or u64) as volume blocks (-1: zero or to-be-zeroed), or null when any entry
 * is not a plausible FB/SFB address or none is set: such an item is garbage or some other
 * structure. A VMFS6 LFB entry spans many FS blocks, so a PB of LFBs is not taken either.
 */
function pbBlocks(fs: VmfsFs, pb: Uint8Array, totalBlocks: number): number[] | null {
  const blocks: number[] = [];
  let any = false;
  const n = Math.min(fs.L.pbEntries, Math.floor(pb.length / fs.L.addrWidth));
  for (let k = 0; k < n; k++) {
    const [lo, hi] = pbEntry(fs, pb, k);
    if (lo === 0 && hi === 0) {
      blocks.push(-1);
      continue;
    }
    if ((lo & 7) !== ADDR_FB) return null;
    const b = dataBlockOf(fs, lo, hi, 0, totalBlocks);
    if (b === null) return null;
    blocks.push(b);
    any = true;
  }
  return any ? blocks : null;
}
