import { defineStruct } from '../../util/struct.js';

/** ext2/3/4 superblock, 1024 bytes at byte 1024 of the filesystem (kernel fs/ext4/ext4.h). */
export const EXT4_SUPERBLOCK = defineStruct('ext4 superblock', 0x400, {
  inodesCount: [0x00, 'u32'],
  blocksCountLo: [0x04, 'u32'],
  firstDataBlock: [0x14, 'u32'],
  logBlockSize: [0x18, 'u32'],
  blocksPerGroup: [0x20, 'u32'],
  inodesPerGroup: [0x28, 'u32'],
  magic: [0x38, 'u16'],
  revLevel: [0x4c, 'u32'],
  firstIno: [0x54, 'u32'],
  inodeSize: [0x58, 'u16'],
  featureCompat: [0x5c, 'u32'],
  featureIncompat: [0x60, 'u32'],
  featureRoCompat: [0x64, 'u32'],
  volumeName: [0x78, 'ascii', 16],
  descSize: [0xfe, 'u16'],
  firstMetaBg: [0x104, 'u32'],
  backupBgs0: [0x24c, 'u32'],
  backupBgs1: [0x250, 'u32'],
  blocksCountHi: [0x150, 'u32'],
});

/** Block group descriptor: 32 bytes, or s_desc_size (≥ 64) with the 64bit feature. */
export const EXT4_GROUP_DESC = defineStruct('ext4 group descriptor', 0x20, {
  inodeTableLo: [0x08, 'u32'],
});
export const EXT4_GROUP_DESC_HI = defineStruct('ext4 group descriptor (64bit part)', 0x40, {
  inodeTableHi: [0x28, 'u32'],
});

/** Inode: the first 128 bytes are in every revision; the extra fields follow when i_extra_isize covers them. */
export const EXT4_INODE = defineStruct('ext4 inode', 0x80, {
  mode: [0x00, 'u16'],
  sizeLo: [0x04, 'u32'],
  mtime: [0x10, 'i32'],
  linksCount: [0x1a, 'u16'],
  flags: [0x20, 'u32'],
  block: [0x28, 'bytes', 60],
  sizeHi: [0x6c, 'u32'],
});

/** Extent tree node header (12 bytes), then 12-byte index or leaf entries. */
export const EXTENT_HEADER = defineStruct('ext4 extent header', 0x0c, {
  magic: [0x00, 'u16'],
  entries: [0x02, 'u16'],
  max: [0x04, 'u16'],
  depth: [0x06, 'u16'],
});
export const EXTENT_INDEX = defineStruct('ext4 extent index', 0x0c, {
  block: [0x00, 'u32'],
  leafLo: [0x04, 'u32'],
  leafHi: [0x08, 'u16'],
});
export const EXTENT_LEAF = defineStruct('ext4 extent', 0x0c, {
  block: [0x00, 'u32'],
  len: [0x04, 'u16'],
  startHi: [0x06, 'u16'],
  startLo: [0x08, 'u32'],
});

/** Directory entry header (ext4_dir_entry_2): the name follows at 0x08. */
export const DIR_ENTRY = defineStruct('ext4 directory entry', 0x08, {
  inode: [0x00, 'u32'],
  recLen: [0x04, 'u16'],
  nameLen: [0x06, 'u8'],
  fileType: [0x07, 'u8'],
});

export const EXT4_MAGIC = 0xef53;
export const EXTENT_MAGIC = 0xf30a;
export const ROOT_INO = 2;

export const INCOMPAT_COMPRESSION = 0x1;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_RECOVER = 0x4;
export const INCOMPAT_JOURNAL_DEV = 0x8;
export const INCOMPAT_META_BG = 0x10;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_DIRDATA = 0x1000;
export const COMPAT_SPARSE_SUPER2 = 0x200;
export const RO_COMPAT_SPARSE_SUPER = 0x1;

export const FLAG_INDEX = 0x1000;
export const FLAG_EXTENTS = 0x80000;
export const FLAG_INLINE_DATA = 0x10000000;
export const FLAG_ENCRYPT = 0x800;

export const S_IFMT = 0xf000;
export const S_IFREG = 0x8000;
export const S_IFDIR = 0x4000;
export const S_IFLNK = 0xa000;
