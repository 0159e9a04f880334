import { CorruptError, UnsupportedError, UserError } from '../../errors.js';
import { type ByteSource, CachedSource, checkRange } from '../../io/byte-source.js';
import { u16, u32 } from '../../util/struct.js';
import type { GuestEntry, GuestEntryType, GuestFs } from '../types.js';
import {
  DIR_ENTRY,
  EXT4_GROUP_DESC,
  EXT4_GROUP_DESC_HI,
  EXT4_INODE,
  EXT4_MAGIC,
  EXT4_SUPERBLOCK,
  EXTENT_HEADER,
  EXTENT_INDEX,
  EXTENT_LEAF,
  EXTENT_MAGIC,
  FLAG_ENCRYPT,
  FLAG_EXTENTS,
  FLAG_INLINE_DATA,
  COMPAT_SPARSE_SUPER2,
  INCOMPAT_64BIT,
  INCOMPAT_COMPRESSION,
  INCOMPAT_DIRDATA,
  INCOMPAT_FILETYPE,
  INCOMPAT_JOURNAL_DEV,
  INCOMPAT_META_BG,
  RO_COMPAT_SPARSE_SUPER,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from './structs.js';

/** ext4's deepest extent tree (the kernel refuses more). */
const MAX_EXTENT_DEPTH = 5;
/** Directories larger than this are refused rather than read into memory. */
const MAX_DIR_BYTES = 64 * 1024 * 1024;
const MAX_SYMLINK = 4096;
const MAX_PATH_PARTS = 256;
/** Directory listings kept for path lookups. */
const DIR_CACHE = 32;

export interface Ext4Inode {
  ino: number;
  mode: number;
  size: number;
  /** ms since the epoch */
  mtime: number;
  flags: number;
  block: Uint8Array;
}

interface RawDirent {
  name: string;
  ino: number;
}

/** A mapping of logical block `lblk`: `count` blocks from it go to phys.. (or are a hole / unwritten when phys is null). */
interface BlockRun {
  phys: number | null;
  count: number;
}

/**
 * A read-only ext2/3/4 filesystem over any ByteSource (a partition of a recovered disk). Reads
 * the superblock and, lazily and through a bounded cache, group descriptors, inodes, extent
 * trees or classic block maps and directories. Directories, htree-indexed or not, are read
 * linearly (an htree's index blocks look like empty entries to a linear reader, by design).
 * Every on-disk number is checked against the filesystem's geometry before it drives a read.
 */
export class Ext4Fs implements GuestFs {
  readonly kind = 'ext4';
  readonly label?: string;
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly groupCount: number;
  private readonly inodesCount: number;
  private readonly inodesPerGroup: number;
  private readonly inodeSize: number;
  private readonly descSize: number;
  private readonly gdtStart: number;
  private readonly firstDataBlock: number;
  private readonly blocksPerGroup: number;
  /** meta_bg: descriptors of meta group m (descsPerBlock groups) sit in the first group of m; null without meta_bg. */
  private readonly firstMetaBg: number | null;
  private readonly superIn: (group: number) => boolean;
  private readonly hasFiletype: boolean;
  private readonly is64: boolean;
  private readonly dev: ByteSource;
  private readonly dirs = new Map<number, RawDirent[]>();

  private constructor(
    private readonly src: ByteSource,
    sb: ReturnType<typeof EXT4_SUPERBLOCK.parse>,
  ) {
    const n = src.name;
    this.label = sb.volumeName || undefined;
    if (sb.logBlockSize > 6) throw new CorruptError(`${n}: ext4 block size 2^(10+${sb.logBlockSize}) is out of range`);
    const bs = 1024 << sb.logBlockSize;
    this.blockSize = bs;
    const incompat = sb.featureIncompat;
    if (incompat & INCOMPAT_JOURNAL_DEV) throw new UnsupportedError(`${n}: this is an external ext4 journal, not a filesystem`);
    if (incompat & INCOMPAT_COMPRESSION) throw new UnsupportedError(`${n}: compressed ext2 is not supported`);
    if (incompat & INCOMPAT_DIRDATA) throw new UnsupportedError(`${n}: ext4 dirdata (Lustre) is not supported`);
    this.is64 = (incompat & INCOMPAT_64BIT) !== 0;
    this.hasFiletype = (incompat & INCOMPAT_FILETYPE) !== 0;
    this.blocksCount = sb.blocksCountLo + (this.is64 ? sb.blocksCountHi * 2 ** 32 : 0);
    if (this.blocksCount === 0 || this.blocksCount * bs > Number.MAX_SAFE_INTEGER) throw new CorruptError(`${n}: ext4 block count ${this.blocksCount} is out of range`);
    if (sb.firstDataBlock !== (bs === 1024 ? 1 : 0)) throw new CorruptError(`${n}: ext4 first data block ${sb.firstDataBlock} with ${bs}-byte blocks`);
    if (sb.blocksPerGroup === 0 || sb.blocksPerGroup > 8 * bs) throw new CorruptError(`${n}: ext4 blocks per group ${sb.blocksPerGroup} is out of range`);
    if (sb.inodesPerGroup === 0 || sb.inodesPerGroup > 8 * bs) throw new CorruptError(`${n}: ext4 inodes per group ${sb.inodesPerGroup} is out of range`);
    this.inodesPerGroup = sb.inodesPerGroup;
    this.groupCount = Math.ceil((this.blocksCount - sb.firstDataBlock) / sb.blocksPerGroup);
    if (this.groupCount < 1) throw new CorruptError(`${n}: ext4 has no block groups (${this.blocksCount} blocks)`);
    this.inodeSize = sb.revLevel === 0 ? 128 : sb.inodeSize;
    if (this.inodeSize < 128 || this.inodeSize > bs || (this.inodeSize & (this.inodeSize - 1)) !== 0) {
      throw new CorruptError(`${n}: ext4 inode size ${this.inodeSize} is out of range`);
    }
    this.inodesCount = sb.inodesCount;
    if (sb.inodesCount < ROOT_INO || sb.inodesCount > this.groupCount * sb.inodesPerGroup) throw new CorruptError(`${n}: ext4 inode count ${sb.inodesCount} is out of range`);
    this.descSize = this.is64 ? sb.descSize : 32;
    if (this.descSize < 32 || this.descSize > 1024 || (this.descSize & (this.descSize - 1)) !== 0 || (this.is64 && this.descSize < 64)) {
      throw new CorruptError(`${n}: ext4 group descriptor size ${this.descSize} is out of range`);
    }
    this.gdtStart = (sb.firstDataBlock + 1) * bs;
    this.firstDataBlock = sb.firstDataBlock;
    this.blocksPerGroup = sb.blocksPerGroup;
    this.firstMetaBg = incompat & INCOMPAT_META_BG ? sb.firstMetaBg : null;
    const oldGroups = this.firstMetaBg === null ? this.groupCount : Math.min(this.groupCount, this.firstMetaBg * (bs / this.descSize));
    if (this.gdtStart + oldGroups * this.descSize > src.size) throw new CorruptError(`${n}: ext4 group descriptor table (${oldGroups} groups) reaches past the end of the partition`);
    // Which groups hold a superblock copy (then their first block is the superblock, not descriptors).
    if (sb.featureCompat & COMPAT_SPARSE_SUPER2) this.superIn = (g) => g === 0 || g === sb.backupBgs0 || g === sb.backupBgs1;
    else if (sb.featureRoCompat & RO_COMPAT_SPARSE_SUPER) this.superIn = (g) => g <= 1 || isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
    else this.superIn = () => true;
    this.dev = new CachedSource(src, 64 * 1024, 256);
  }

  /** Opens the filesystem at offset 0 of `src`; CorruptError when there is no ext2/3/4 superblock. */
  static async open(src: ByteSource): Promise<Ext4Fs> {
    if (src.size < 2048) throw new CorruptError(`${src.name}: too small for an ext4 filesystem (${src.size} bytes)`);
    const sb = EXT4_SUPERBLOCK.parse(await src.read(1024, 1024));
    if (sb.magic !== EXT4_MAGIC) throw new CorruptError(`${src.name}: no ext4 superblock magic (0x${sb.magic.toString(16)})`);
    return new Ext4Fs(src, sb);
  }

  private get name(): string {
    return this.src.name;
  }

  private checkBlock(block: number, count: number, what: string): void {
    if (!Number.isSafeInteger(block) || block < 0 || block + count > this.blocksCount) {
      throw new CorruptError(`${this.name}: ${what} block ${block} (+${count}) is outside the filesystem (${this.blocksCount} blocks)`);
    }
  }

  private async readBlock(block: number, what: string): Promise<Uint8Array> {
    this.checkBlock(block, 1, what);
    return this.dev.read(block * this.blockSize, this.blockSize);
  }

  /** Byte offset of a group's descriptor: one table after the superblock, or per meta group with meta_bg. */
  private descOffset(group: number): number {
    const perBlock = this.blockSize / this.descSize;
    const meta = Math.floor(group / perBlock);
    if (this.firstMetaBg === null || meta < this.firstMetaBg) return this.gdtStart + group * this.descSize;
    const first = meta * perBlock;
    const block = this.firstDataBlock + first * this.blocksPerGroup + (this.superIn(first) ? 1 : 0);
    this.checkBlock(block, 1, `group ${group} descriptor`);
    return block * this.blockSize + (group % perBlock) * this.descSize;
  }

  private async inodeTable(group: number): Promise<number> {
    const raw = await this.dev.read(this.descOffset(group), this.descSize);
    let table = EXT4_GROUP_DESC.parse(raw).inodeTableLo;
    if (this.descSize >= 64) table += EXT4_GROUP_DESC_HI.parse(raw).inodeTableHi * 2 ** 32;
    this.checkBlock(table, Math.ceil((this.inodesPerGroup * this.inodeSize) / this.blockSize), `group ${group} inode table`);
    return table;
  }

  async inode(ino: number): Promise<Ext4Inode> {
    if (!Number.isSafeInteger(ino) || ino < 1 || ino > this.inodesCount) throw new CorruptError(`${this.name}: inode number ${ino} is out of range (1..${this.inodesCount})`);
    const group = Math.floor((ino - 1) / this.inodesPerGroup);
    const table = await this.inodeTable(group);
    const raw = await this.dev.read(table * this.blockSize + ((ino - 1) % this.inodesPerGroup) * this.inodeSize, this.inodeSize);
    const i = EXT4_INODE.parse(raw);
    const type = i.mode & S_IFMT;
    // i_size_high is only meaningful for files and directories; 2^21 keeps the size below 2^53.
    const hi = type === S_IFREG || type === S_IFDIR ? i.sizeHi : 0;
    if (hi >= 2 ** 21) throw new CorruptError(`${this.name}: inode ${ino} size high word 0x${hi.toString(16)} is out of range`);
    let mtimeSec = i.mtime;
    // i_mtime_extra (0x88): its low two bits extend the seconds beyond 2038.
    if (this.inodeSize >= 0x8c && u16(raw, 0x80) >= 0x0c) mtimeSec += (u32(raw, 0x88) & 3) * 2 ** 32;
    return { ino, mode: i.mode, size: i.sizeLo + hi * 2 ** 32, mtime: mtimeSec * 1000, flags: i.flags, block: i.block };
  }

  /** Where logical block `lblk` of a file lives. */
  private async map(inode: Ext4Inode, lblk: number): Promise<BlockRun> {
    return inode.flags & FLAG_EXTENTS ? this.mapExtents(inode, lblk) : this.mapIndirect(inode, lblk);
  }

  private async mapExtents(inode: Ext4Inode, lblk: number): Promise<BlockRun> {
    let node = inode.block;
    let expectDepth = -1;
    // Upper bound of the current subtree's logical range: the next sibling's first block.
    let limit = 2 ** 32;
    if (lblk >= limit) return { phys: null, count: 1 };
    for (let level = 0; level <= MAX_EXTENT_DEPTH; level++) {
      const h = EXTENT_HEADER.parse(node);
      const where = `inode ${inode.ino} extent node (level ${level})`;
      if (h.magic !== EXTENT_MAGIC) throw new CorruptError(`${this.name}: ${where} has bad magic 0x${h.magic.toString(16)}`);
      const fit = Math.floor((node.length - 12) / 12);
      if (h.entries > fit) throw new CorruptError(`${this.name}: ${where} claims ${h.entries} entries, room for ${fit}`);
      if (h.depth > MAX_EXTENT_DEPTH || (expectDepth >= 0 && h.depth !== expectDepth)) throw new CorruptError(`${this.name}: ${where} has depth ${h.depth}`);
      if (h.depth === 0) {
        for (let k = 0; k < h.entries; k++) {
          const e = EXTENT_LEAF.parse(node, 12 + 12 * k);
          if (e.block > lblk) return { phys: null, count: Math.max(1, Math.min(e.block, limit) - lblk) };
          // ee_len above 32768 marks an unwritten (preallocated) extent: it reads as zeros.
          const unwritten = e.len > 32768;
          const len = unwritten ? e.len - 32768 : e.len;
          if (lblk < e.block + len) {
            const start = e.startLo + e.startHi * 2 ** 32;
            this.checkBlock(start, len, `inode ${inode.ino} extent`);
            const count = e.block + len - lblk;
            return { phys: unwritten ? null : start + (lblk - e.block), count };
          }
        }
        return { phys: null, count: Math.max(1, limit - lblk) };
      }
      let pick = -1;
      for (let k = 0; k < h.entries; k++) {
        if (EXTENT_INDEX.parse(node, 12 + 12 * k).block <= lblk) pick = k;
        else break;
      }
      if (pick < 0) {
        const first = h.entries > 0 ? EXTENT_INDEX.parse(node, 12).block : limit;
        return { phys: null, count: Math.max(1, Math.min(first, limit) - lblk) };
      }
      if (pick + 1 < h.entries) limit = Math.min(limit, EXTENT_INDEX.parse(node, 12 + 12 * (pick + 1)).block);
      const idx = EXTENT_INDEX.parse(node, 12 + 12 * pick);
      node = await this.readBlock(idx.leafLo + idx.leafHi * 2 ** 32, `inode ${inode.ino} extent index`);
      expectDepth = h.depth - 1;
    }
    throw new CorruptError(`${this.name}: inode ${inode.ino} extent tree is deeper than ${MAX_EXTENT_DEPTH}`);
  }

  /** Classic ext2/3 map: 12 direct pointers, then single, double and triple indirect blocks. */
  private async mapIndirect(inode: Ext4Inode, lblk: number): Promise<BlockRun> {
    const per = this.blockSize / 4;
    let ptr: number;
    let path: number[];
    let rel = lblk;
    if (rel < 12) {
      ptr = u32(inode.block, rel * 4);
      path = [];
    } else if ((rel -= 12) < per) {
      ptr = u32(inode.block, 48);
      path = [rel];
    } else if ((rel -= per) < per * per) {
      ptr = u32(inode.block, 52);
      path = [Math.floor(rel / per), rel % per];
    } else if ((rel -= per * per) < per * per * per) {
      ptr = u32(inode.block, 56);
      path = [Math.floor(rel / (per * per)), Math.floor(rel / per) % per, rel % per];
    } else {
      throw new CorruptError(`${this.name}: inode ${inode.ino} block ${lblk} is beyond what a block map can address`);
    }
    for (const i of path) {
      if (ptr === 0) return { phys: null, count: 1 };
      const b = await this.readBlock(ptr, `inode ${inode.ino} indirect`);
      ptr = u32(b, i * 4);
    }
    if (ptr === 0) return { phys: null, count: 1 };
    this.checkBlock(ptr, 1, `inode ${inode.ino} data`);
    return { phys: ptr, count: 1 };
  }

  /** The content of an inode as a ByteSource: holes and unwritten extents read as zeros. */
  contentOf(inode: Ext4Inode, label: string): ByteSource {
    if (inode.flags & FLAG_ENCRYPT) throw new UnsupportedError(`${this.name}: ${label} is encrypted (fscrypt)`);
    if (inode.flags & FLAG_INLINE_DATA) {
      // Data stored in i_block (60 bytes); the rest would be in the system.data xattr, not read here.
      if (inode.size > 60) throw new UnsupportedError(`${this.name}: ${label} keeps ${inode.size} bytes inline (xattr part not supported)`);
      return new InlineSource(inode.block.slice(0, inode.size), label);
    }
    return new Ext4FileSource(this, inode, label, (lblk) => this.map(inode, lblk));
  }

  /** Used by Ext4FileSource: reads device bytes. */
  readDevice(offset: number, length: number): Promise<Uint8Array> {
    return this.dev.read(offset, length);
  }

  private async dirents(inode: Ext4Inode): Promise<RawDirent[]> {
    const hit = this.dirs.get(inode.ino);
    if (hit) return hit;
    if ((inode.mode & S_IFMT) !== S_IFDIR) throw new UserError(`${this.name}: inode ${inode.ino} is not a directory`);
    if (inode.flags & FLAG_INLINE_DATA) throw new UnsupportedError(`${this.name}: directory inode ${inode.ino} uses inline data (not supported)`);
    if (inode.size > MAX_DIR_BYTES) throw new UnsupportedError(`${this.name}: directory inode ${inode.ino} is ${inode.size} bytes (limit ${MAX_DIR_BYTES})`);
    const content = this.contentOf(inode, `directory inode ${inode.ino}`);
    const out: RawDirent[] = [];
    const bs = this.blockSize;
    const dec = new TextDecoder('utf-8');
    for (let pos = 0; pos < content.size; pos += bs) {
      const block = await content.read(pos, Math.min(bs, content.size - pos));
      for (let p = 0; p < block.length; ) {
        if (p + 8 > block.length) throw new CorruptError(`${this.name}: directory inode ${inode.ino} entry at 0x${(pos + p).toString(16)} is truncated`);
        const d = DIR_ENTRY.parse(block, p);
        // 64 KiB blocks do not fit rec_len in 16 bits: the kernel folds the high bits into the low two.
        const recLen = bs < 65536 ? d.recLen : d.recLen === 0 || d.recLen === 65535 ? 65536 : (d.recLen & 0xfffc) | ((d.recLen & 3) << 16);
        const nameLen = this.hasFiletype ? d.nameLen : u16(block, p + 6);
        if (recLen < 8 || recLen % 4 !== 0 || p + recLen > block.length || 8 + nameLen > recLen) {
          throw new CorruptError(`${this.name}: directory inode ${inode.ino} entry at 0x${(pos + p).toString(16)} has rec_len ${recLen} name_len ${nameLen}`);
        }
        if (d.inode !== 0 && nameLen > 0) {
          const name = dec.decode(block.subarray(p + 8, p + 8 + nameLen));
          if (name !== '.' && name !== '..') out.push({ name, ino: d.inode });
        }
        p += recLen;
      }
    }
    if (this.dirs.size >= DIR_CACHE) this.dirs.delete(this.dirs.keys().next().value as number);
    this.dirs.set(inode.ino, out);
    return out;
  }

  private async resolve(path: string): Promise<{ inode: Ext4Inode; name: string }> {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length > MAX_PATH_PARTS) throw new UserError(`${this.name}: path has more than ${MAX_PATH_PARTS} parts: ${path.slice(0, 80)}`);
    const stack: Ext4Inode[] = [await this.inode(ROOT_INO)];
    for (const part of parts) {
      if (part === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const dir = stack[stack.length - 1]!;
      const hit = (await this.dirents(dir)).find((d) => d.name === part);
      if (!hit) throw new UserError(`${this.name}: no such file or directory: ${path}`);
      stack.push(await this.inode(hit.ino));
    }
    return { inode: stack[stack.length - 1]!, name: parts[parts.length - 1] ?? '/' };
  }

  private entry(name: string, i: Ext4Inode): GuestEntry {
    const t = i.mode & S_IFMT;
    const type: GuestEntryType = t === S_IFREG ? 'file' : t === S_IFDIR ? 'dir' : t === S_IFLNK ? 'symlink' : 'other';
    return { name, type, size: i.size, mtime: i.mtime, id: i.ino };
  }

  async readdir(path: string): Promise<GuestEntry[]> {
    const { inode } = await this.resolve(path);
    const out: GuestEntry[] = [];
    for (const d of await this.dirents(inode)) out.push(this.entry(d.name, await this.inode(d.ino)));
    return out;
  }

  async stat(path: string): Promise<GuestEntry> {
    const { inode, name } = await this.resolve(path);
    return this.entry(name, inode);
  }

  async open(path: string): Promise<ByteSource> {
    const { inode } = await this.resolve(path);
    if ((inode.mode & S_IFMT) !== S_IFREG) throw new UserError(`${this.name}: not a regular file: ${path}`);
    return this.contentOf(inode, path);
  }

  async readlink(path: string): Promise<string> {
    const { inode } = await this.resolve(path);
    if ((inode.mode & S_IFMT) !== S_IFLNK) throw new UserError(`${this.name}: not a symbolic link: ${path}`);
    if (inode.size > MAX_SYMLINK) throw new CorruptError(`${this.name}: symlink ${path} is ${inode.size} bytes long`);
    // Short targets live in i_block itself ("fast" symlinks, never extent-mapped).
    const bytes =
      inode.size < 60 && !(inode.flags & (FLAG_EXTENTS | FLAG_INLINE_DATA))
        ? inode.block.subarray(0, inode.size)
        : await this.contentOf(inode, path).read(0, inode.size);
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function isPowerOf(n: number, base: number): boolean {
  let p = base;
  while (p < n) p *= base;
  return p === n;
}

class InlineSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name: string,
  ) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.slice(offset, offset + length);
  }
}

/** A file's bytes, mapped block run by block run on each read (no whole-file map is built). */
class Ext4FileSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly fs: Ext4Fs,
    inode: Ext4Inode,
    readonly name: string,
    private readonly map: (lblk: number) => Promise<BlockRun>,
  ) {
    this.size = inode.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const bs = this.fs.blockSize;
    const out = new Uint8Array(length);
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      const lblk = Math.floor(pos / bs);
      const within = pos - lblk * bs;
      const run = await this.map(lblk);
      let n = Math.min(run.count * bs - within, end - pos);
      if (run.phys !== null) {
        // Block maps answer one block at a time: merge physically contiguous neighbours into one read.
        let blocks = run.count;
        while (n < end - pos) {
          const next = await this.map(lblk + blocks);
          if (next.phys !== run.phys + blocks) break;
          blocks += next.count;
          n = Math.min(blocks * bs - within, end - pos);
        }
        out.set(await this.fs.readDevice(run.phys * bs + within, n), pos - offset);
      }
      pos += n;
    }
    return out;
  }
}
