import { UnsupportedError } from '../errors.js';
import type { HasherFactory } from '../hash/sha256.js';
import type { ByteSink } from '../io/byte-sink.js';
import type { JobOptions } from '../progress.js';
import type { DiskChain } from '../vmdk/disk-chain.js';
import type { FileResolver } from '../vmdk/types.js';

// STUB (interface contract) — replaced by the export writers.
export type ExportFormat = 'raw' | 'flat' | 'sparse' | 'stream';

/** Where an export goes: a folder-like place that can create files and read them back for verification. */
export interface ExportTarget {
  /** Creates (or replaces, atomically on close) a file named `fileName` in the target. */
  create(fileName: string): Promise<ByteSink>;
  /** Reads the committed outputs back (for the verify pass). */
  resolver(): FileResolver;
}

export interface ExportOptions extends JobOptions {
  format: ExportFormat;
  /** Main output name: `disk.img` (raw), `disk.vmdk` (flat: plus `disk-flat.vmdk`), sparse, stream. */
  fileName: string;
  /** Re-read the written output through our own reader and compare hashes (default true). */
  verify?: boolean;
  hasher?: HasherFactory;
}

export interface ExportResult {
  sha256: string;
  files: string[];
  bytesWritten: number;
  logicalBytes: number;
  verified: boolean;
}

export async function exportDisk(_disk: DiskChain, _target: ExportTarget, _opts: ExportOptions): Promise<ExportResult> {
  throw new UnsupportedError('export not built yet');
}
