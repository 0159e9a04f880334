import type { ExportResult } from '../core/export/export-disk.js';
import type { PickedFile } from '../core/vmdk/roles.js';

/**
 * What the VMDK worker (vmdk.worker.ts) sends the page: plain data only, so it is type-checked
 * without DOM or worker globals (tsconfig.node.json).
 */

export type { PickedFile, PickedKind } from '../core/vmdk/roles.js';
export type { GuestApi } from './guest.api.js';

/** The picked files, what each is, and which can be the top of the chain. */
export interface PickedScan {
  files: PickedFile[];
  /** Files that can be opened as a chain top (descriptors and hosted sparse files), best first. */
  tops: string[];
  suggestedTop: string | null;
  /** The folder walk stopped early (too many files or folders too deep). */
  truncatedListing: boolean;
}

export interface GrainMapSummary {
  layerPath: string;
  capacity: number;
  bucketBytes: number;
  width: number;
  /** Per bucket, 0–255: share of the bucket the top layer stores itself / marks zero / cannot read. */
  data: Uint8Array;
  zero: Uint8Array;
  missing: Uint8Array;
  totals: { data: number; zero: number; missing: number; parent: number };
}

export interface ExportSummary extends ExportResult {
  destination: 'file' | 'directory' | 'opfs';
  /** For 'opfs': names inside the OPFS `exports` folder, for the main thread to download. */
  opfsFiles: string[];
}
