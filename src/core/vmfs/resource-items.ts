import { u32 } from '../util/struct.js';
import { ADDR_FD, ADDR_PB, ADDR_PB2, ADDR_SB, blockOfAddress, encodeFd, itemAddress } from './address.js';
import { FD_LOCK_MAGIC, FD_META, parseFd, type FileDescriptor } from './fd.js';
import type { VmfsFs } from './filesystem.js';
import type { ResourceFile } from './resource.js';

/** Items of one resource file a pass visits at most: far above any real volume, bounds a corrupt header. */
export const MAX_RESOURCE_ITEMS = 4 * 1024 * 1024;

/**
 * The items of one resource file (FDs, sub-blocks, pointer blocks) by index (cluster × R +
 * resource), for passes that visit every item whatever the live tree says: freed FDs, freed
 * pointer blocks, text in free sub-blocks. Allocation comes from the file's bitmaps (null where
 * a cluster's bitmap is not decoded).
 */
export class ResourceItems {
  /** Items visited: the header's count, bounded by the clusters present and MAX_RESOURCE_ITEMS. */
  readonly count: number;
  private readonly R: number;

  constructor(
    private readonly fs: VmfsFs,
    private readonly res: ResourceFile,
    /** Address type naming its items (ADDR_FD, ADDR_SB, ADDR_PB, ADDR_PB2). */
    readonly addrType: number,
  ) {
    this.R = res.h.R;
    this.count = Math.min(res.h.numResources, res.totalClusters * this.R, MAX_RESOURCE_ITEMS);
  }

  get name(): string {
    return this.res.name;
  }

  /** Bytes per item. */
  get itemSize(): number {
    return this.res.h.S;
  }

  allocated(i: number): Promise<boolean | null> {
    return this.res.isAllocated(Math.floor(i / this.R), i % this.R);
  }

  /** The first `length` bytes of item i. */
  read(i: number, length: number): Promise<Uint8Array> {
    return this.res.readItem(Math.floor(i / this.R), i % this.R, length);
  }

  /** Where item i starts on the volume, with the contiguous bytes there; null when its part of the file is a hole. */
  async place(i: number): Promise<{ volOffset: number; length: number } | null> {
    const ext = await this.fs.mapOffset(this.res.content.fd, this.res.itemOffset(Math.floor(i / this.R), i % this.R));
    return ext.kind === 'vol' ? ext : null;
  }

  /** The address naming item i: a u32 FD address; a pointer-block or sub-block address (u64 as a bigint on VMFS6). */
  address(i: number): number | bigint {
    const c = Math.floor(i / this.R);
    const r = i % this.R;
    return this.addrType === ADDR_FD ? encodeFd(c, r) : itemAddress(this.addrType, c, r, this.fs.geometry.v6);
  }
}

/** The FD items (.fdc.sf), or null when the volume has none readable. */
export function fdItems(fs: VmfsFs): ResourceItems | null {
  return fs.fdc ? new ResourceItems(fs, fs.fdc, ADDR_FD) : null;
}

/** The sub-block items (.sbc.sf), or null when the volume has none readable. */
export function subBlockItems(fs: VmfsFs): ResourceItems | null {
  return fs.sbc && fs.sbc.h.R > 0 ? new ResourceItems(fs, fs.sbc, ADDR_SB) : null;
}

/**
 * Resource files that hold pointer blocks: .pbc.sf on VMFS3/5; on VMFS6 also .pb2.sf and .sbc.sf
 * (vmfs6-tools and our builder keep pointer blocks in 64 KiB sub-blocks). Only files whose items
 * can hold a whole pointer block.
 */
export function pointerBlockItems(fs: VmfsFs): ResourceItems[] {
  const g = fs.geometry;
  const need = g.pbEntries * g.addrWidth;
  const all = g.v6 ? [{ type: ADDR_PB, res: fs.pbc }, { type: ADDR_PB2, res: fs.pb2 }, { type: ADDR_SB, res: fs.sbc }] : [{ type: ADDR_PB, res: fs.pbc }];
  return all.filter((x) => x.res !== null && x.res.h.S >= need && x.res.h.R > 0).map((x) => new ResourceItems(fs, x.res!, x.type));
}

/** Whether the bitmap marks the pointer block at (lo, hi) allocated now (false also when it cannot tell). */
export async function pointerBlockInUse(fs: VmfsFs, lo: number, hi: number): Promise<boolean> {
  const a = fs.decode(lo, hi);
  const res = a.type === ADDR_PB ? fs.pbc : a.type === ADDR_PB2 ? fs.pb2 : a.type === ADDR_SB && fs.geometry.v6 ? fs.sbc : null;
  return res !== null && (await res.isAllocated(a.cluster, a.resource).catch(() => null)) === true;
}

/** See blockOfAddress: the FS block holding byte `within` of the data block (lo, hi) on this volume. */
export function dataBlockOf(fs: VmfsFs, lo: number, hi: number, within: number, totalBlocks: number): number | null {
  if (lo === 0 && hi === 0) return -1;
  return blockOfAddress(lo, hi, fs.decode(lo, hi), within, fs.geometry, totalBlocks);
}

/**
 * FD item i read whatever its bitmap says: null when its bytes are not on the volume or do not
 * start with the FD lock magic (never written, or overwritten); else where it is and a parse that
 * validates it at its own address (CorruptError when it does not hold).
 */
export async function readFdItem(fs: VmfsFs, items: ResourceItems, i: number): Promise<{ volOffset: number; parse: () => FileDescriptor } | null> {
  const size = fs.L.fdSize;
  const at = await items.place(i);
  if (!at || at.length < size) return null;
  const raw = await fs.meta.read(at.volOffset, size);
  if (u32(raw, 0) !== FD_LOCK_MAGIC) return null;
  const address = items.address(i) as number;
  return { volOffset: at.volOffset, parse: () => parseFd(raw.slice(), address, at.volOffset, fs.L, fs.d.majorVersion, fs.name) };
}

/** FD address of the directory that held an FD (FD metadata 0x70), 0 when unknown. */
export function fdParentDir(fs: VmfsFs, fd: FileDescriptor): number {
  return FD_META.parse(fd.raw, fs.L.fdMetaOffset).parentFd;
}

/** A resident file's bytes (ZLA_RESIDENT: they sit in the FD itself) and their volume offset. */
export function residentBytes(fs: VmfsFs, fd: FileDescriptor): { bytes: Uint8Array; volOffset: number } {
  const at = fs.L.fdDataOffset;
  return { bytes: fd.raw.subarray(at, at + fd.length), volOffset: fd.volOffset + at };
}
