import { RescueError, throwIfAborted } from '../errors.js';
import { throttle, type JobOptions } from '../progress.js';
import { hex } from '../util/struct.js';
import {
  ADDR_FB,
  addrText,
  dataBlockOf,
  fdItems,
  fdParentDir,
  formatFdAddress,
  pbEntry,
  pointerBlockInUse,
  pointerBlockItems,
  readFdItem,
  residentBytes,
  ZLA_DOUBLE,
  ZLA_FB,
  ZLA_PB,
  ZLA_RESIDENT,
  type FileDescriptor,
  type VmfsFs,
} from '../vmfs/index.js';
import { HEADER_PROBE_BYTES, probeHeaderRemnant, type DeltaHeader } from './delta-header.js';
import type { Rejections } from './rejected.js';
import { planFromBlocks, seSparseDataEnd } from './plan.js';
import type { BlockUse } from './free-map.js';
import { parseTextRemnant, type DescriptorRemnant, type VmsdRemnant } from './text-carving.js';

export type { DescriptorRemnant, VmsdRemnant } from './text-carving.js';

/**
 * Addressing modes whose block list a freed FD may hold: direct, single and double indirection
 * (ZLA 4304: VMFS5 files over 256 GiB, VMFS6 over 2.5 TiB; dissect.vmfs reads it as double on
 * both, vmfs-tools takes it for single on VMFS5). VMFS3 has no double indirection.
 */
function listsBlocks(fs: VmfsFs, zla: number): boolean {
  return zla === ZLA_FB || zla === ZLA_PB || (fs.d.version >= 5 && zla === ZLA_DOUBLE);
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
  const fdc = fdItems(fs);
  if (!fdc) return { deltas, descriptors, vmsds, warnings };
  const g = fs.geometry;
  const items = fdc.count;
  const progress = throttle(opts.onProgress);
  for (let i = 0; i < items; i++) {
    if ((i & 255) === 0) {
      throwIfAborted(opts.signal);
      progress({ phase: 'scan freed file descriptors', done: i, total: items });
    }
    /** Volume offset of the freed FD once it is known to carry the FD lock magic (a remnant). */
    let fdAt = -1;
    /** The structure being parsed, for a failure: the FD, then its delta header. */
    let trying: 'fd' | 'cowd-header' | 'sesparse-header' = 'fd';
    let tryingAt = -1;
    try {
      if ((await fdc.allocated(i)) !== false) continue;
      const item = await readFdItem(fs, fdc, i);
      if (!item) continue;
      fdAt = tryingAt = item.volOffset;
      let fd = item.parse();
      if (fd.typeCode !== 3 || fd.length === 0) continue;
      const parentDir = fdParentDir(fs, fd);
      if (fd.zla === ZLA_RESIDENT) {
        // Resident text of a deleted descriptor or .vmsd (both are usually under the resident limit).
        const fdText = formatFdAddress(fd.address);
        const data = residentBytes(fs, fd);
        const t = parseTextRemnant(data.bytes, { volOffset: data.volOffset, location: 'freed-fd', fd: fdText, parentDir }, rejected);
        if (t && 'descriptor' in t) descriptors.push(t.descriptor);
        else if (t) vmsds.push(t.vmsd);
        continue;
      }
      if (!listsBlocks(fs, fd.zla)) continue;
      // The slot granule must be the FS block (or, VMFS6, the LFB): block lists are in FS blocks.
      const granule = 2 ** fd.shift;
      if (granule !== g.blockSize && !(g.v6 && granule === g.lfbSize)) continue;
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
  const { blockSize: bs, pbEntries: N, addrWidth: w } = fs.geometry;
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
      why = (await pointerBlockInUse(fs, lo, hi)) ? `pointer block ${addrText(lo, hi)} (file blocks ${first}..) is now owned by a live file` : null;
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
            const [llo, lhi] = pbEntry(await fs.pointerBlock(tlo, thi), Math.floor(g / N) % N, w);
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
      if (b === null) unknown.set(i, `block ${i} of the freed FD has address ${addrText(lo, hi)}, no data block of this volume`);
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
  const { addrWidth: w, pbEntries, blockSize: bs } = fs.geometry;
  const need = pbEntries * w;
  for (const res of pointerBlockItems(fs)) {
    const type = res.addrType;
    for (let i = 0; i < res.count; i++) {
      if ((i & 255) === 0) throwIfAborted(opts.signal);
      /** Set once the item's first entry makes it a pointer-block remnant; where it is (-1 unknown). */
      let remnant = false;
      let pbAt = -1;
      try {
        if ((await res.allocated(i)) !== false) continue;
        // A delta is written densely, so each of its PBs lists a block first: never-used (zero)
        // items, holes-first PBs of thin files and (VMFS6 sub-blocks) small files' data are
        // skipped after reading one entry.
        const [lo0, hi0] = pbEntry(await res.read(i, w), 0, w);
        if ((lo0 === 0 && hi0 === 0) || dataBlockOf(fs, lo0, hi0, 0, use.totalBlocks) === null) continue;
        remnant = true;
        const pbVolOffset = (pbAt = (await res.place(i))?.volOffset ?? -1);
        const blocks = pbBlocks(fs, await res.read(i, need), use.totalBlocks);
        if (!blocks) {
          rejected?.add('pointer-block', pbVolOffset, `freed pointer block item ${i}: starts with a data-block address but lists an address that is no data block of this volume`);
          continue;
        }
        const pbAddress = res.address(i);
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
  const max = blocks.length * fs.geometry.blockSize;
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
  const res = pointerBlockItems(fs).find((x) => x.addrType === pb.type);
  if (!res) return null;
  const { pbEntries, addrWidth } = fs.geometry;
  return pbBlocks(fs, await res.read(pb.item, pbEntries * addrWidth), totalBlocks);
}

/**
 * A PB's entries (u32 or u64) as volume blocks (-1: zero or to-be-zeroed), or null when any entry
 * is not a plausible FB/SFB address or none is set: such an item is garbage or some other
 * structure. A VMFS6 LFB entry spans many FS blocks, so a PB of LFBs is not taken either.
 */
function pbBlocks(fs: VmfsFs, pb: Uint8Array, totalBlocks: number): number[] | null {
  const blocks: number[] = [];
  let any = false;
  const { pbEntries, addrWidth } = fs.geometry;
  const n = Math.min(pbEntries, Math.floor(pb.length / addrWidth));
  for (let k = 0; k < n; k++) {
    const [lo, hi] = pbEntry(pb, k, addrWidth);
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
