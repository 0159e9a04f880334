import { CorruptError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { cString, defineStruct, hex, u32 } from '../util/struct.js';
import { dirHashSlot } from './name-hash.js';

/** A raw directory entry as stored (before its FD is read). */
export interface RawDirEntry {
  name: string;
  typeCode: number;
  fdAddress: number;
  generation: number;
}

/** VMFS3/5 directory entry: a linear array of 140-byte records. */
export const DIRENT3 = defineStruct('VMFS3/5 directory entry', 0x8c, {
  type: [0x00, 'u32'],
  fdAddress: [0x04, 'u32'],
  generation: [0x08, 'u32'],
  name: [0x0c, 'ascii', 128],
});

const D3 = {
  type: DIRENT3.fields.type[0],
  fdAddress: DIRENT3.fields.fdAddress[0],
  generation: DIRENT3.fields.generation[0],
  name: DIRENT3.fields.name[0],
  nameLength: DIRENT3.fields.name[2],
};

/** Directories above this many entries are treated as corrupt (bounds allocation). */
const MAX_ENTRIES = 1 << 20;
const CHUNK_ENTRIES = 1024;

export async function readLinearDir(dir: ByteSource): Promise<RawDirEntry[]> {
  const n = Math.floor(dir.size / DIRENT3.size);
  if (n > MAX_ENTRIES) throw new CorruptError(`${dir.name}: directory of ${dir.size} bytes is too large`);
  const out: RawDirEntry[] = [];
  for (let first = 0; first < n; first += CHUNK_ENTRIES) {
    const count = Math.min(CHUNK_ENTRIES, n - first);
    const buf = await dir.read(first * DIRENT3.size, count * DIRENT3.size);
    for (let k = 0; k < count; k++) {
      // Fields at the struct's declared offsets, no parsed object per entry.
      const at = k * DIRENT3.size;
      const fdAddress = u32(buf, at + D3.fdAddress);
      // Address 0 marks a free slot (a deleted entry's hole).
      if (fdAddress === 0) continue;
      out.push({ name: cString(buf.subarray(at + D3.name, at + D3.name + D3.nameLength)), typeCode: u32(buf, at + D3.type), fdAddress, generation: u32(buf, at + D3.generation) });
    }
  }
  return out;
}

// ---- VMFS6 hashed directories (docs/format-notes.md "VMFS structures the reader cites") ----

const DIR6_HEADER_BLOCK = 0x10000;
const DIR6_VERSIONS = [0x00f50001, 0x00fdc001];
export const DIR6_HEADER = defineStruct('VMFS6 directory header', 0x5f8, {
  version: [0x000, 'u32'],
  numEntries: [0x004, 'u32'],
  numAllocated: [0x008, 'u32'],
  numAllocationMapBlocks: [0x00c, 'u32'],
});
const DIR6_ALLOC_BLOCKS_AT = 0x010;
const DIR6_SELF_AT = 0x3b8;
const DIR6_PARENT_AT = 0x4d8;
const DIR6_HASH_AT = 0x5f8;
export const DIRENT6 = defineStruct('VMFS6 directory entry', 0x120, {
  type: [0x00, 'u32'],
  fdAddress: [0x04, 'u32'],
  generation: [0x08, 'u32'],
  hashIndex: [0x0c, 'u16'],
  linkHash: [0x0e, 'u16'],
  name: [0x18, 'ascii', 256],
});
export const DIR6_BLOCK_HEADER = defineStruct('VMFS6 directory block header', 0x40, {
  version: [0x00, 'u16'],
  type: [0x02, 'u16'],
  totalSlots: [0x04, 'u16'],
  freeSlots: [0x06, 'u16'],
});
const DIR6_BITMAP_AT = 0x08;
const DIR6_BITMAP_BYTES = 56;
export const DIR6_LINK_GROUP = defineStruct('VMFS6 directory link group', 0x54, {
  hashIndex: [0x00, 'u16'],
  totalLinks: [0x02, 'u8'],
  freeLinks: [0x03, 'u8'],
  nextGroup: [0x4e, 'u32'],
});
const LINKS_AT = 0x06;
const LINKS_PER_GROUP = 12;
const BLOCK_DIRENT = 1;
const BLOCK_LINK = 2;

function location(v: number): { type: number; block: number; slot: number } {
  return { type: v & 3, block: (v >>> 2) & 0x3fffff, slot: v >>> 24 };
}

/** Reads one VMFS6 directory: header, then the entries of every dirent block the allocation maps list. */
export class HashedDir {
  private constructor(
    readonly src: ByteSource,
    readonly md: number,
    readonly header: ReturnType<typeof DIR6_HEADER.parse>,
    readonly headerBytes: Uint8Array,
  ) {}

  static async open(src: ByteSource, mdAlignment: number): Promise<HashedDir> {
    if (src.size < DIR6_HEADER_BLOCK) throw new CorruptError(`${src.name}: VMFS6 directory of ${src.size} bytes is shorter than its 64 KiB header`);
    const hb = await src.read(0, DIR6_HEADER_BLOCK);
    const h = DIR6_HEADER.parse(hb);
    if (!DIR6_VERSIONS.includes(h.version)) throw new CorruptError(`${src.name}: VMFS6 directory version ${hex(h.version, 8)}`);
    if (h.numAllocationMapBlocks > 128) throw new CorruptError(`${src.name}: ${h.numAllocationMapBlocks} allocation map blocks (max 128)`);
    if (h.numEntries > MAX_ENTRIES) throw new CorruptError(`${src.name}: ${h.numEntries} directory entries`);
    return new HashedDir(src, mdAlignment, h, hb);
  }

  private blockOffset(b: number): number {
    return DIR6_HEADER_BLOCK + b * this.md;
  }

  private async block(b: number): Promise<Uint8Array> {
    const at = this.blockOffset(b);
    if (at + this.md > this.src.size) throw new CorruptError(`${this.src.name}: directory block ${b} at ${hex(at)} is past the directory end`);
    return this.src.read(at, this.md);
  }

  private entryAt(buf: Uint8Array, at: number): RawDirEntry {
    const e = DIRENT6.parse(buf, at);
    return { name: e.name, typeCode: e.type, fdAddress: e.fdAddress, generation: e.generation };
  }

  async list(): Promise<RawDirEntry[]> {
    const h = this.header;
    const out: RawDirEntry[] = [];
    for (const at of [DIR6_SELF_AT, DIR6_PARENT_AT]) {
      const e = this.entryAt(this.headerBytes, at);
      if (e.fdAddress !== 0) out.push(e);
    }
    const perMap = 2 * (this.md - DIR6_BLOCK_HEADER.size);
    const dv = new DataView(this.headerBytes.buffer, this.headerBytes.byteOffset);
    const slotsPerBlock = Math.floor((this.md - DIR6_BLOCK_HEADER.size) / DIRENT6.size);
    for (let j = 0; j < h.numAllocationMapBlocks && out.length < h.numEntries; j++) {
      const mapBlock = dv.getUint32(DIR6_ALLOC_BLOCKS_AT + 4 * j, true);
      const map = await this.block(mapBlock);
      for (let k = 0; k < perMap && out.length < h.numEntries; k++) {
        const byte = map[DIR6_BLOCK_HEADER.size + (k >>> 1)]!;
        const nib = k & 1 ? byte & 0xf : byte >>> 4; // high nibble first
        if ((nib & 3) !== BLOCK_DIRENT) continue;
        const b = j * perMap + k;
        const blk = await this.block(b);
        const bh = DIR6_BLOCK_HEADER.parse(blk);
        const total = Math.min(bh.totalSlots, slotsPerBlock, DIR6_BITMAP_BYTES * 8);
        for (let s = 0; s < total && out.length < h.numEntries; s++) {
          const free = (blk[DIR6_BITMAP_AT + (s >>> 3)]! >>> (s & 7)) & 1;
          if (free) continue;
          const e = this.entryAt(blk, DIR6_BLOCK_HEADER.size + s * DIRENT6.size);
          if (e.fdAddress !== 0) out.push(e);
        }
      }
    }
    return out;
  }

  /** Hash lookup; null when the name is not in the table (callers may fall back to list()). */
  async lookup(name: string, inRoot: boolean): Promise<RawDirEntry | null> {
    if (name === '.' || name === '..') {
      const e = this.entryAt(this.headerBytes, name === '.' ? DIR6_SELF_AT : DIR6_PARENT_AT);
      return e.fdAddress ? e : null;
    }
    const { index, linkHash } = dirHashSlot(name, inRoot);
    const dv = new DataView(this.headerBytes.buffer, this.headerBytes.byteOffset);
    let loc = location(dv.getUint32(DIR6_HASH_AT + index * 4, true));
    for (let hops = 0; loc.type === BLOCK_LINK; hops++) {
      if (hops > 4096) throw new CorruptError(`${this.src.name}: directory link chain for '${name}' loops`);
      const blk = await this.block(loc.block);
      const at = DIR6_BLOCK_HEADER.size + loc.slot * DIR6_LINK_GROUP.size;
      if (at + DIR6_LINK_GROUP.size > blk.length) throw new CorruptError(`${this.src.name}: link slot ${loc.slot} outside block ${loc.block}`);
      const g = DIR6_LINK_GROUP.parse(blk, at);
      if (g.hashIndex !== index) return null;
      const used = Math.min(LINKS_PER_GROUP, Math.max(0, g.totalLinks - g.freeLinks));
      const ldv = new DataView(blk.buffer, blk.byteOffset + at + LINKS_AT, LINKS_PER_GROUP * 6);
      let found: number | null = null;
      for (let k = 0; k < used; k++) {
        if (ldv.getUint16(k * 6 + 4, true) === linkHash) {
          found = ldv.getUint32(k * 6, true);
          break;
        }
      }
      loc = location(found ?? g.nextGroup);
    }
    if (loc.type !== BLOCK_DIRENT) return null;
    const blk = await this.block(loc.block);
    const at = DIR6_BLOCK_HEADER.size + loc.slot * DIRENT6.size;
    if (at + DIRENT6.size > blk.length) throw new CorruptError(`${this.src.name}: dirent slot ${loc.slot} outside block ${loc.block}`);
    const e = this.entryAt(blk, at);
    return e.name === name && e.fdAddress !== 0 ? e : null;
  }
}

