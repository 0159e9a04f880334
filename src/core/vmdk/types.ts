import type { ByteSource } from '../io/byte-source.js';

/**
 * The VMDK engine's shared vocabulary. Virtual offsets and lengths are in BYTES of the virtual
 * disk (sector numbers only appear inside format parsers).
 *
 * A layer (one disk of a chain: a flat base, a COWD delta, a seSparse delta, a hosted sparse
 * file, or a multi-extent descriptor) answers "what backs this range?" with extents:
 *   data   – bytes live in `source` at `sourceOffset` (for compressed grains, `source` is an
 *            in-memory buffer of the inflated grain);
 *   zero   – this layer says zeros (ZERO extent, COWD GTE 1, seSparse zero/unmapped, KDMV zero
 *            grain): the parent is NOT consulted;
 *   parent – nothing here: read the parent at the same offset (zeros if there is no parent);
 *   missing – the metadata points outside the available bytes (truncated or partly overwritten
 *            file): reported, reads as the parent would (the recovery damage map uses this).
 */
export type LayerExtent =
  | { kind: 'data'; offset: number; length: number; source: ByteSource; sourceOffset: number }
  | { kind: 'zero'; offset: number; length: number }
  | { kind: 'parent'; offset: number; length: number }
  | { kind: 'missing'; offset: number; length: number; reason: string };

export type DiskFormat =
  | 'flat' // FLAT / VMFS extent (raw bytes)
  | 'zero' // ZERO extent
  | 'hostedSparse' // KDMV monolithicSparse / twoGbMaxExtentSparse piece
  | 'streamOptimized' // KDMV with compressed grains
  | 'vmfsSparse' // COWD
  | 'seSparse'
  | 'multi' // several extents of different kinds under one descriptor
  | 'rdm'; // reported only

export interface DiskLayer {
  /** Path or name of the descriptor (or the single file) this layer was opened from. */
  readonly path: string;
  readonly format: DiskFormat;
  readonly capacity: number; // bytes
  /** Allocation granule in bytes (512 for flat, 512 COWD on ESXi, 4096 seSparse, 65536 hosted). */
  readonly grainSize: number;
  /**
   * Extents covering exactly [offset, offset + length), in order, adjacent extents of the same
   * kind (and, for data, contiguous in the same source) merged. Must be cheap for large ranges
   * that are unallocated at the directory level (one GD entry answers for a whole GT range).
   */
  mapRange(offset: number, length: number): Promise<LayerExtent[]>;
  /** Bytes this layer stores itself (data grains), from metadata only. */
  allocatedBytes(): Promise<number>;
}

/** A parsed text descriptor (separate file or embedded in a KDMV file). */
export interface DescriptorExtent {
  access: 'RW' | 'RDONLY' | 'NOACCESS';
  sectors: number;
  type: 'FLAT' | 'SPARSE' | 'ZERO' | 'VMFS' | 'VMFSSPARSE' | 'SESPARSE' | 'VMFSRDM' | 'VMFSRAW';
  fileName: string | null;
  /** Sector offset inside the file (FLAT only). */
  offset: number;
}

export interface Descriptor {
  version: number;
  encoding: string;
  /** 8 lower-case hex digits. */
  cid: string;
  parentCid: string;
  createType: string;
  parentFileNameHint: string | null;
  extents: DescriptorExtent[];
  ddb: Record<string, string>;
  /** Every `key=value` header entry, keys lower-cased. */
  header: Record<string, string>;
}

/** One link of an opened chain, as `vmdk info` and the app show it. */
export interface ChainLinkInfo {
  path: string;
  createType: string;
  format: DiskFormat;
  capacityBytes: number;
  grainSizeBytes: number;
  cid: string | null;
  parentCid: string | null;
  parentHint: string | null;
  extents: { type: string; fileName: string | null; sectors: number; offset: number; format: DiskFormat }[];
  allocatedBytes: number;
  /** true: parentCID matches the parent's CID; false: mismatch (only possible with ignoreCid); null: base. */
  cidOk: boolean | null;
  warnings: string[];
}

/** How a chain finds its files: the Node file system, the files the user picked, a VMFS volume. */
export interface FileResolver {
  /** Opens `path` (as produced by `resolve`); null if it does not exist. */
  open(path: string): Promise<ByteSource | null>;
  /** Path of `relative` (a parentFileNameHint or an extent file name) seen from the file `from`. */
  resolve(from: string, relative: string): string;
  /** Other names to try for a hint that does not resolve (basename in the same folder, ../dir/base). */
  candidates?(from: string, hint: string): string[];
}

export interface ChainOptions {
  /** Merge through a parentCID mismatch instead of failing (the CLI's --ignore-cid). */
  ignoreCid?: boolean;
  signal?: AbortSignal;
}
