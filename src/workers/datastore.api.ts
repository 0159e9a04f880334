import type { ExportFormat, ExportResult } from '../core/export/export-disk.js';
import type { CandidateInfo, Evidence, GrainDamageMap, RejectedRemnant, VolumeSummary } from '../core/recovery/index.js';
import type { VmdkRole } from '../core/vmdk/roles.js';
import type { FileType } from '../core/vmfs/index.js';
import type { ExportDestination } from './common.js';

/**
 * What the datastore worker's API (datastore.worker.ts) sends and receives: plain data only, so
 * the page and Node tests can use these types without a worker.
 */

export type { AllocationSummary } from '../core/vmfs/allocation-summary.js';
export type { GrainDamageMap } from '../core/recovery/index.js';
export type { VmdkRole } from '../core/vmdk/roles.js';
export type { ExportDestination };

export interface DsEntry {
  name: string;
  path: string;
  type: FileType;
  size: number;
  allocated: number;
  fdAddress: string;
  mtime: number;
  error?: string;
  vmdk?: VmdkRole;
  /** Directories: holds a .vmx or .vmdk (looked at for the first MAX_PEEK_DIRS folders only). */
  vmFolder?: boolean;
}

export interface DirListing {
  path: string;
  entries: DsEntry[];
  /** The folder holds a .vmx: a VM's home folder. */
  vmFolder: boolean;
}

export interface FileExportResult {
  path: string;
  sha256: string;
  bytes: number;
  destination: 'file' | 'opfs';
  /** Name written (the save dialog's choice, or the OPFS `exports` name for the download). */
  fileName: string;
}

export interface ChainExportResult extends ExportResult {
  destination: 'file' | 'directory' | 'opfs';
  opfsFiles: string[];
}

/** A candidate as the page gets it: the scan's plain data plus the damage map for drawing. */
export type CandidateView = CandidateInfo & { map: GrainDamageMap };

/** A live descriptor on the volume that can serve as a parent. */
export interface ParentOption {
  path: string;
  capacityBytes: number;
  createType: string;
  cid: string;
}

export interface ScanView {
  volume: VolumeSummary;
  candidates: CandidateView[];
  unassembled: Evidence[];
  /** Remnants that did not parse (first MAX_REJECTED) and how many there were. */
  rejected: RejectedRemnant[];
  rejectedCount: number;
  warnings: string[];
  parents: ParentOption[];
  /** How long each step of building this list took in the worker, ms (the page logs them as User Timing). */
  steps: { name: string; ms: number }[];
}

export interface RecoveryResult extends ExportResult {
  candidateId: string;
  parent: string | null;
  format: ExportFormat;
  destination: 'file' | 'directory' | 'opfs';
  opfsFiles: string[];
  warnings: string[];
}

/** A rebuilt delta written for use in place (descriptor + delta file as found, parentCID fixed). */
export interface DeltaRecoveryResult {
  candidateId: string;
  parent: string;
  parentCid: string;
  /** Descriptor first, then the delta file. */
  files: string[];
  /** SHA-256 of the disk the pair gives over the parent (lost data grains read as zeros there). */
  sha256: string;
  dataSha256: string;
  destination: 'directory' | 'opfs';
  notes: string[];
}

/** What the free-space pass rejected, merged over its ranges (mergeCarvedRejected). */
export type CarvedRejected = { rejected: RejectedRemnant[]; rejectedCount: number };
