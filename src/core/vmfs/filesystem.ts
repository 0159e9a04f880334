import { CorruptError, UnsupportedError } from '../errors.js';
import { CachedSource, type ByteSource } from '../io/byte-source.js';
import { hex } from '../util/struct.js';
import { ADDR_FB, ADDR_LFB, ADDR_PB, ADDR_PB2, ADDR_SB, ADDR_TYPE_NAMES, addrText, decode32, decode64, decodeFd, fbNumber, pbEntry, ZLA_DOUBLE, ZLA_FB, ZLA_PB, ZLA_PB2, ZLA_RESIDENT, ZLA_SB, type BlockGeometry, type DecodedAddr } from './address.js';
import { CONFIG_DENSE_SBPC, layoutOf, readFsDescriptor, type FsDescriptor, type Layout } from './fs-descriptor.js';
import { FD_TYPE, parseFd, type FileDescriptor } from './fd.js';
import { VmfsFileSource } from './file-source.js';
import { parseResourceHeader, ResourceFile } from './resource.js';

/** FD addresses of the system files (FDC cluster 0, resources 1…). */
export const SYSTEM_FD = {
  root: 0x00000004,
  fbb: 0x00400004,
  fdc: 0x00800004,
  pbc: 0x00c00004,
  sbc: 0x01000004,
  vh: 0x01400004,
  pb2v6: 0x01800004,
  sddv6: 0x01c00004,
  jbc: 0x02000004,
} as const;

/** A file system's block geometry as block-of-address and pointer-block readers need it. */
export interface FsGeometry extends BlockGeometry {
  /** Entries per pointer block, and bytes per address (4 on VMFS3/5, 8 on VMFS6). */
  pbEntries: number;
  addrWidth: 4 | 8;
}

/** Where a byte of a file lives: on the volume, or nowhere (hole / to-be-zeroed: reads as zeros). */
export type FileExtent = { kind: 'vol'; volOffset: number; length: number } | { kind: 'zero'; length: number; tbz: boolean };

const FD_CACHE = 4096;
const PB_CACHE = 256;
/** Granules resolved per batch by mapRange (bounds its address arrays). */
const MAP_BATCH = 4096;

/**
 * One mounted VMFS file system over a logical volume: geometry, the resource files, FD reads
 * (validated, cached) and the file-offset → volume-offset mapping for every addressing mode.
 */
export class VmfsFs {
  readonly L: Layout;
  readonly dense: boolean;
  readonly warnings: string[] = [];
  fdc: ResourceFile | null = null;
  fbb: ResourceFile | null = null;
  /** VMFS6 small-file-block level of .fbb.sf (the child header); null on VMFS3/5. */
  sfb: ResourceFile | null = null;
  sbc: ResourceFile | null = null;
  pbc: ResourceFile | null = null;
  pb2: ResourceFile | null = null;
  jbc: ResourceFile | null = null;
  /** VMFS6 SFBs per .fbb.sf cluster (the SFB level's R when it has one, else the layout's). */
  private sfbR: number;
  private geo: FsGeometry | null = null;
  private readonly fdCache = new Map<number, Promise<FileDescriptor>>();
  private readonly pbCache = new Map<string, Promise<Uint8Array>>();
  /** Metadata reads go through a bounded block cache; bulk data reads bypass it (CachedSource does). */
  readonly meta: ByteSource;

  private constructor(
    readonly vol: ByteSource,
    readonly d: FsDescriptor,
  ) {
    this.L = layoutOf(d);
    this.dense = (d.config & CONFIG_DENSE_SBPC) !== 0;
    this.sfbR = this.L.sfbPerCluster;
    this.meta = new CachedSource(vol, 64 * 1024, 512);
  }

  static async open(vol: ByteSource): Promise<VmfsFs> {
    const d = await readFsDescriptor(vol);
    const fs = new VmfsFs(vol, d);
    await fs.bootstrap();
    return fs;
  }

  get name(): string {
    return this.vol.name;
  }

  /** Block sizes and address width: what passes over the volume's blocks and pointer blocks need. */
  get geometry(): FsGeometry {
    const L = this.L;
    return (this.geo ??= { v6: L.v6, blockSize: L.blockSize, lfbSize: L.lfbSize, sfbPerCluster: this.sfbR, pbEntries: L.pbEntries, addrWidth: L.addrWidth });
  }

  private async bootstrap(): Promise<void> {
    const L = this.L;
    const H = L.clusterHeaderSize;
    // .fdc.sf's own FD: computed from the descriptor, since .fdc.sf is not open yet.
    const fdcFd = await this.fd(SYSTEM_FD.fdc);
    if (fdcFd.typeCode !== FD_TYPE.system) throw new CorruptError(`${this.name}: .fdc.sf FD has type ${fdcFd.typeCode}, expected 5`);
    this.fdc = await this.openResource('.fdc.sf', fdcFd, 0);
    const opt = async (name: string, addr: number, required: boolean): Promise<ResourceFile | null> => {
      try {
        const fd = await this.fd(addr);
        if (fd.typeCode !== FD_TYPE.system) throw new CorruptError(`${this.name}: ${name} FD ${hex(addr, 8)} has type ${fd.typeCode}, expected 5`);
        return await this.openResource(name, fd, 0);
      } catch (e) {
        if (required) throw e;
        this.warnings.push(`${name}: ${(e as Error).message}`);
        return null;
      }
    };
    this.fbb = await opt('.fbb.sf', SYSTEM_FD.fbb, false);
    if (L.v6 && this.fbb) {
      // The SFB level sits at childMetaOffset (0 = one header for both levels).
      const child = this.fbb.h.childMetaOffset;
      try {
        this.sfb = child ? await this.openResource('.fbb.sf (SFB)', await this.fd(SYSTEM_FD.fbb), child) : this.fbb;
        if (this.sfb.h.R > 0) {
          this.sfbR = this.sfb.h.R;
          this.geo = null;
        }
      } catch (e) {
        this.warnings.push(`.fbb.sf SFB header: ${(e as Error).message}`);
      }
    }
    this.sbc = await opt('.sbc.sf', SYSTEM_FD.sbc, false);
    this.pbc = await opt('.pbc.sf', SYSTEM_FD.pbc, false);
    if (L.v6) {
      this.pb2 = await opt('.pb2.sf', SYSTEM_FD.pb2v6, false);
      this.jbc = await opt('.jbc.sf', SYSTEM_FD.jbc, false);
    } else if (this.d.pb2VolAddr !== 0 && this.d.pb2FdAddr !== 0) {
      this.pb2 = await opt('.pb2.sf', this.d.pb2FdAddr, false);
    }
    void H;
    const root = await this.fd(SYSTEM_FD.root);
    if (root.type !== 'directory') throw new CorruptError(`${this.name}: root FD has type ${root.typeCode}, not a directory`);
  }

  private async openResource(name: string, fd: FileDescriptor, metaOffset: number): Promise<ResourceFile> {
    const content = this.fileSource(fd, name);
    if (metaOffset + 0x58 > content.size) throw new CorruptError(`${this.name}: ${name} is too short (${content.size} bytes) for its header at ${hex(metaOffset)}`);
    const h = parseResourceHeader(await content.read(metaOffset, 0x58), name, this.L.clusterHeaderSize, this.L.v6);
    return new ResourceFile(name, content, h, this.L.clusterHeaderSize, this.L.v6);
  }

  fileSource(fd: FileDescriptor, name: string): VmfsFileSource {
    return new VmfsFileSource(this, fd, name);
  }

  /** Volume offset of an FD. */
  async fdVolOffset(address: number): Promise<number> {
    const { cluster, resource } = decodeFd(address);
    const L = this.L;
    const d = this.d;
    if (!L.v6 && !this.dense) {
      // VMFS5 volumes without DENSE_SBPC keep .pb2.sf / .sdd.sf FDs at fixed volume addresses.
      if (d.pb2FdAddr !== 0 && address === d.pb2FdAddr && d.pb2VolAddr) return d.pb2VolAddr;
      if (d.sddFdAddr !== 0 && address === d.sddFdAddr && d.sddVolAddr) return d.sddVolAddr;
    }
    if (!this.fdc) {
      if (cluster !== 0) throw new CorruptError(`${this.name}: FD ${hex(address, 8)} needed before .fdc.sf is open`);
      return L.fdcBase + d.fdcClusterGroupOffset + d.fdcClustersPerGroup * L.clusterHeaderSize + resource * L.fdSize;
    }
    if (cluster >= this.fdc.totalClusters || resource >= this.fdc.h.R) {
      throw new CorruptError(`${this.name}: FD address ${hex(address, 8)} (cluster ${cluster}, resource ${resource}) is outside .fdc.sf`);
    }
    const off = this.fdc.itemOffset(cluster, resource);
    const ext = await this.mapOffset(this.fdc.content.fd, off);
    if (ext.kind !== 'vol' || ext.length < L.fdSize) throw new CorruptError(`${this.name}: FD ${hex(address, 8)} lies in an unallocated part of .fdc.sf`);
    return ext.volOffset;
  }

  /** Reads and validates an FD (cached). */
  fd(address: number): Promise<FileDescriptor> {
    let p = this.fdCache.get(address);
    if (p) return p;
    p = (async () => {
      if ((address & 7) !== 4) throw new CorruptError(`${this.name}: ${hex(address, 8)} is not an FD address`);
      const at = await this.fdVolOffset(address);
      if (at + this.L.fdSize > this.vol.size) throw new CorruptError(`${this.name}: FD ${hex(address, 8)} at ${hex(at)} is past the volume end`);
      const raw = (await this.meta.read(at, this.L.fdSize)).slice();
      return parseFd(raw, address, at, this.L, this.d.majorVersion, this.name);
    })();
    p.catch(() => this.fdCache.delete(address));
    if (this.fdCache.size >= FD_CACHE) this.fdCache.delete(this.fdCache.keys().next().value as number);
    this.fdCache.set(address, p);
    return p;
  }

  decode(lo: number, hi: number): DecodedAddr {
    return this.L.v6 ? decode64(lo, hi) : decode32(lo, this.dense);
  }

  /** Reads the pointer block named by (lo, hi): a .pbc.sf item, a .pb2.sf item, or (VMFS6) a .sbc.sf item. */
  pointerBlock(lo: number, hi: number): Promise<Uint8Array> {
    const key = `${lo}:${hi}`;
    let p = this.pbCache.get(key);
    if (p) {
      this.pbCache.delete(key);
      this.pbCache.set(key, p);
      return p;
    }
    p = (async () => {
      const a = this.decode(lo, hi);
      const res = a.type === ADDR_PB ? this.pbc : a.type === ADDR_PB2 ? this.pb2 : a.type === ADDR_SB ? this.sbc : null;
      if (!res) throw new CorruptError(`${this.name}: pointer ${addrText(lo, hi)} has type ${ADDR_TYPE_NAMES[a.type]}, or its resource file is unavailable`);
      const need = this.L.pbEntries * this.L.addrWidth;
      if (res.h.S < need) throw new CorruptError(`${this.name}: ${res.name} items (${res.h.S} bytes) are smaller than a pointer block (${need})`);
      this.checkItem(res, a, lo, hi);
      return (await res.readItem(a.cluster, a.resource, need)).slice();
    })();
    p.catch(() => this.pbCache.delete(key));
    if (this.pbCache.size >= PB_CACHE) this.pbCache.delete(this.pbCache.keys().next().value as string);
    this.pbCache.set(key, p);
    return p;
  }

  private checkItem(res: ResourceFile, a: DecodedAddr, lo: number, hi: number): void {
    if (a.cluster >= res.totalClusters || a.resource >= res.h.R) {
      throw new CorruptError(`${this.name}: ${ADDR_TYPE_NAMES[a.type]} address ${addrText(lo, hi)} (cluster ${a.cluster}, resource ${a.resource}) is outside ${res.name}`);
    }
  }

  /** The block address (lo, hi) for granule `i` of a file; [0, 0] = hole. */
  async blockAddress(fd: FileDescriptor, i: number): Promise<[number, number]> {
    const L = this.L;
    const N = L.pbEntries;
    const slot = (k: number) => this.slot(fd, k);
    const entry = (pb: Uint8Array, k: number) => pbEntry(pb, k, L.addrWidth);
    switch (fd.zla) {
      case ZLA_FB:
      case ZLA_SB:
        return slot(i);
      case ZLA_PB:
      case ZLA_PB2: {
        const [lo, hi] = slot(Math.floor(i / N));
        if (lo === 0 && hi === 0) return [0, 0];
        return entry(await this.pointerBlock(lo, hi), i % N);
      }
      case ZLA_DOUBLE: {
        const [lo, hi] = slot(Math.floor(i / (N * N)));
        if (lo === 0 && hi === 0) return [0, 0];
        const [lo2, hi2] = entry(await this.pointerBlock(lo, hi), Math.floor(i / N) % N);
        if (lo2 === 0 && hi2 === 0) return [0, 0];
        return entry(await this.pointerBlock(lo2, hi2), i % N);
      }
      default:
        throw new UnsupportedError(`${this.name}: FD ${hex(fd.address, 8)} uses addressing ZLA ${fd.zla}`);
    }
  }

  /**
   * Block addresses of granules [first, first + count) of a file, reading each pointer block once
   * (a bulk read of a big file resolves its block map PB by PB, not block by block).
   */
  async blockAddresses(fd: FileDescriptor, first: number, count: number): Promise<{ lo: Uint32Array; hi: Uint32Array }> {
    const L = this.L;
    const N = L.pbEntries;
    const lo = new Uint32Array(count);
    const hi = new Uint32Array(count);
    if (fd.zla !== ZLA_PB && fd.zla !== ZLA_PB2 && fd.zla !== ZLA_DOUBLE) {
      for (let k = 0; k < count; k++) [lo[k], hi[k]] = await this.blockAddress(fd, first + k);
      return { lo, hi };
    }
    const w = L.addrWidth;
    let k = 0;
    while (k < count) {
      const i = first + k;
      // The pointer block holding granule i, and how many of the wanted granules it holds.
      let pb: Uint8Array | null;
      if (fd.zla === ZLA_DOUBLE) {
        const top = this.slot(fd, Math.floor(i / (N * N)));
        pb = null;
        if (top[0] !== 0 || top[1] !== 0) {
          const e = pbEntry(await this.pointerBlock(top[0], top[1]), Math.floor(i / N) % N, w);
          if (e[0] !== 0 || e[1] !== 0) pb = await this.pointerBlock(e[0], e[1]);
        }
      } else {
        const top = this.slot(fd, Math.floor(i / N));
        pb = top[0] !== 0 || top[1] !== 0 ? await this.pointerBlock(top[0], top[1]) : null;
      }
      const n = Math.min(count - k, N - (i % N));
      if (pb) {
        const dv = new DataView(pb.buffer, pb.byteOffset, pb.length);
        for (let j = 0; j < n; j++) {
          const at = ((i + j) % N) * w;
          lo[k + j] = dv.getUint32(at, true);
          hi[k + j] = w === 8 ? dv.getUint32(at + 4, true) : 0;
        }
      } // else: a hole, already zeros
      k += n;
    }
    return { lo, hi };
  }

  private slot(fd: FileDescriptor, k: number): [number, number] {
    if (k >= this.L.fdSlots) throw new CorruptError(`${this.name}: FD ${hex(fd.address, 8)} needs slot ${k} of ${this.L.fdSlots} (length ${fd.length} too large for its addressing)`);
    return [fd.slotsLo[k]!, fd.slotsHi[k]!];
  }

  /**
   * Maps file offset `off` (< fd.length) to where its bytes are, up to the end of the containing
   * block; the caller loops for longer ranges. `physical` maps to-be-zeroed blocks to where they
   * are allocated instead of reading them as zeros (allocation maps, carving).
   */
  async mapOffset(fd: FileDescriptor, off: number, physical = false): Promise<FileExtent> {
    const L = this.L;
    if (off < 0 || off >= fd.length) throw new CorruptError(`${this.name}: offset ${hex(off)} outside FD ${hex(fd.address, 8)} of length ${fd.length}`);
    if (fd.zla === ZLA_RESIDENT) return { kind: 'vol', volOffset: fd.volOffset + L.fdDataOffset + off, length: fd.length - off };
    const i = Math.floor(off / 2 ** fd.shift);
    const [lo, hi] = await this.blockAddress(fd, i);
    return this.extentAt(fd, off, i, lo, hi, physical);
  }

  /**
   * The extents of [off, off + len) of a file, contiguous pieces merged (adjacent volume ranges,
   * adjacent zeros), so a bulk read becomes a few large volume reads.
   */
  async mapRange(fd: FileDescriptor, off: number, len: number, physical = false): Promise<FileExtent[]> {
    const end = off + len;
    if (off < 0 || len <= 0 || end > fd.length) throw new CorruptError(`${this.name}: range ${hex(off)}+${hex(len)} outside FD ${hex(fd.address, 8)} of length ${fd.length}`);
    const out: FileExtent[] = [];
    const push = (e: FileExtent): void => {
      const last = out[out.length - 1];
      if (last?.kind === 'vol' && e.kind === 'vol' && last.volOffset + last.length === e.volOffset) last.length += e.length;
      else if (last?.kind === 'zero' && e.kind === 'zero' && last.tbz === e.tbz) last.length += e.length;
      else out.push({ ...e });
    };
    if (fd.zla === ZLA_RESIDENT) {
      push(await this.mapOffset(fd, off, physical));
      out[0]!.length = len;
      return out;
    }
    const granule = 2 ** fd.shift;
    let pos = off;
    while (pos < end) {
      const first = Math.floor(pos / granule);
      const count = Math.min(Math.floor((end - 1) / granule) - first + 1, MAP_BATCH);
      const { lo, hi } = await this.blockAddresses(fd, first, count);
      const stop = Math.min(end, (first + count) * granule);
      while (pos < stop) {
        const i = Math.floor(pos / granule);
        const e = await this.extentAt(fd, pos, i, lo[i - first]!, hi[i - first]!, physical);
        e.length = Math.min(e.length, stop - pos);
        push(e);
        pos += e.length;
      }
    }
    return out;
  }

  /** Where byte `off` of granule `i` (whose address is lo, hi) lives, up to the end of its block. */
  private extentAt(fd: FileDescriptor, off: number, i: number, lo: number, hi: number, physical: boolean): FileExtent | Promise<FileExtent> {
    const L = this.L;
    const granule = 2 ** fd.shift;
    let length = granule - (off - i * granule);
    if (lo === 0 && hi === 0) return { kind: 'zero', length: Math.min(length, fd.length - off), tbz: false };
    const a = this.decode(lo, hi);
    let volOffset: number;
    switch (a.type) {
      case ADDR_FB: {
        if (a.tbz && !physical) return { kind: 'zero', length: Math.min(length, fd.length - off), tbz: true };
        const fbs = L.blockSize;
        const within = off % fbs;
        const block = fbNumber(a, this.geometry);
        volOffset = block * fbs + within;
        length = Math.min(length, fbs - within);
        break;
      }
      case ADDR_LFB: {
        if (!L.v6) throw new CorruptError(`${this.name}: LFB address ${addrText(lo, hi)} on a VMFS${this.d.version} volume`);
        if (a.tbz && !physical) return { kind: 'zero', length: Math.min(length, fd.length - off), tbz: true };
        const within = off % L.lfbSize;
        volOffset = a.block * L.lfbSize + within;
        length = Math.min(length, L.lfbSize - within);
        break;
      }
      case ADDR_SB:
        return this.subBlockExtent(fd, off, a, lo, hi, length, physical);
      default:
        throw new CorruptError(`${this.name}: FD ${hex(fd.address, 8)} block ${i} has address ${addrText(lo, hi)} of type ${ADDR_TYPE_NAMES[a.type]}`);
    }
    return this.checkedVol(fd, off, i, lo, hi, volOffset, length);
  }

  private async subBlockExtent(fd: FileDescriptor, off: number, a: DecodedAddr, lo: number, hi: number, length: number, physical: boolean): Promise<FileExtent> {
    const sbc = this.sbc;
    if (!sbc) throw new CorruptError(`${this.name}: sub-block address ${addrText(lo, hi)} but .sbc.sf is unavailable`);
    this.checkItem(sbc, a, lo, hi);
    const sbs = sbc.h.S;
    const within = off % sbs;
    const inner = await this.mapOffset(sbc.content.fd, sbc.itemOffset(a.cluster, a.resource) + within, physical);
    length = Math.min(length, sbs - within, inner.length);
    if (inner.kind !== 'vol') return { kind: 'zero', length: Math.min(length, fd.length - off), tbz: inner.tbz };
    return this.checkedVol(fd, off, Math.floor(off / 2 ** fd.shift), lo, hi, inner.volOffset, length);
  }

  private checkedVol(fd: FileDescriptor, off: number, i: number, lo: number, hi: number, volOffset: number, length: number): FileExtent {
    length = Math.min(length, fd.length - off);
    if (volOffset + length > this.vol.size) {
      throw new CorruptError(`${this.name}: FD ${hex(fd.address, 8)} block ${i} (${addrText(lo, hi)}) points past the volume end (${hex(volOffset)})`);
    }
    return { kind: 'vol', volOffset, length };
  }
}
