import type { GuestEntry, InspectedPartition } from '../core/guest/index.js';

/**
 * What a worker that holds a disk (the opened chain, a recovered disk) answers about the guest
 * inside it ("look inside"): guest-methods.ts implements it, the page only ever receives listings
 * and bounded chunks of file content. Plain data only: type-checked without DOM (tsconfig.node.json).
 */
export interface GuestApi {
  /** The partition table and what each partition holds; `diskBytes` is the disk's size. */
  guestInspect(): Promise<{ scheme: string; warnings: string[]; partitions: InspectedPartition[]; diskBytes: number }>;
  guestReaddir(partition: number, path: string): Promise<GuestEntry[]>;
  guestReadlink(partition: number, path: string): Promise<string>;
  /** Up to GUEST_CHUNK bytes of a file from `offset` (fewer at its end); transferred, not copied. */
  guestRead(partition: number, path: string, offset: number): Promise<Uint8Array>;
  /** Raw disk bytes for the sector hex view: up to DISK_READ_MAX from `offset` (fewer at the end). */
  guestReadDisk(offset: number, length: number): Promise<Uint8Array>;
}

/** Largest raw disk read the hex view may ask for in one call. */
export const DISK_READ_MAX = 64 * 1024;

/** Largest chunk of file content sent to the page per call. */
export const GUEST_CHUNK = 8 * 1024 * 1024;

/** One guest file read from the recovered disk and from its parent alone (core/guest/compare.ts). */
export { COMPARE_HEAD, type FileComparison, type FileVersion } from '../core/guest/compare.js';
