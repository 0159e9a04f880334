import type { ByteSource } from '../io/byte-source.js';

/**
 * The contract every read-only guest filesystem reader implements (ext4 in ./ext4, NTFS in ./ntfs),
 * so the inspector and CLI browse any of them the same way. Paths are absolute, '/'-separated,
 * case as stored; '/' is the root. Errors are RescueErrors (CorruptError, UnsupportedError,
 * UserError for a path that does not exist).
 */
export type GuestEntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface GuestEntry {
  name: string;
  type: GuestEntryType;
  /** Bytes of file content (0 for directories when unknown). */
  size: number;
  /** Last modification, milliseconds since the Unix epoch, when the filesystem records it. */
  mtime?: number;
  /** Filesystem-specific identity: inode number (ext4) or MFT record number (NTFS). */
  id?: number;
}

export interface GuestFs {
  /** 'ext4' (also ext2/ext3), 'ntfs'. */
  readonly kind: string;
  /** Volume label when the filesystem has one. */
  readonly label?: string;
  /** Entries of a directory, without '.' and '..'. */
  readdir(path: string): Promise<GuestEntry[]>;
  /** The entry a path names (no symlink following). */
  stat(path: string): Promise<GuestEntry>;
  /** File content as a positional source (sparse holes read as zeros). */
  open(path: string): Promise<ByteSource>;
  /** Target of a symbolic link. */
  readlink?(path: string): Promise<string>;
}

/** What detect.ts finds in a partition (or a whole unpartitioned disk). */
export type GuestFsType =
  | 'ntfs'
  | 'ext2'
  | 'ext3'
  | 'ext4'
  | 'xfs'
  | 'fat12'
  | 'fat16'
  | 'fat32'
  | 'exfat'
  | 'lvm2-pv'
  | 'swap'
  | 'unknown';

export interface GuestPartition {
  /** 1-based: MBR primaries 1–4, logicals from 5 (as Linux numbers them); GPT entry number. */
  index: number;
  scheme: 'mbr' | 'gpt' | 'none';
  /** MBR type byte as two hex digits ("83"), or GPT type GUID. */
  type: string;
  /** Human name of the partition type ("Linux", "Microsoft basic data", ...). */
  typeName: string;
  /** GPT partition name; '' for MBR. */
  name: string;
  /** Byte offset and length in the disk. */
  offset: number;
  length: number;
  /** MBR: a logical partition inside the extended one. */
  logical?: boolean;
  bootable?: boolean;
}
