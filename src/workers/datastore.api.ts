import type { ExportFormat, ExportResult } from '../core/export/export-disk.js';
import type { CandidateInfo, Evidence, GrainDamageMap, ParentOption, RejectedRemnant, VolumeSummary } from '../core/recovery/index.js';
import type { DeletedFile, TextRemnant } from '../core/recovery/deleted-files.js';
import type { MapRun } from '../core/vmfs/deep/scan.js';
import type { OwnerQuery } from '../core/vmfs/block-owners.js';
import type { VmdkRole } from '../core/vmdk/roles.js';
import type { AllocationSummary } from '../core/vmfs/index.js';

/**
 * What the datastore worker (datastore.worker.ts and the method groups it spreads in) sends the
 * page: plain data only, so it is type-checked without DOM or worker globals (tsconfig.node.json).
 */

export type { AllocationSummary, GrainDamageMap, ParentOption, VmdkRole, DeletedFile, TextRemnant };
export type { OwnerQuery, OwnerSpan, WindowCounts } from '../core/vmfs/block-owners.js';
export type { FileStart } from '../core/vmfs/file-start.js';

/** A folder entry and listing as the file browser gets them (core/vmfs/folder-listing.ts). */
export type { FolderEntry as DsEntry, FolderListing as DirListing } from '../core/vmfs/folder-listing.js';

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

/** What the free-space pass rejected, merged over its ranges (mergeCarvedRejected). */
export type CarvedRejected = { rejected: RejectedRemnant[]; rejectedCount: number };

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

/** "Look inside" a recovered disk: what lookInside opened. */
export interface LookInsideResult {
  capacityBytes: number;
  parent: string | null;
  warnings: string[];
}

/** Deleted and orphan files, and descriptor / .vmsd text in free sub-blocks (`ls --deleted`). */
export interface DeletedListing {
  files: DeletedFile[];
  remnants: TextRemnant[];
  warnings: string[];
}

/** A volume the deep scan found on the picked dumps. */
export interface DeepVolumeView {
  uuid: string;
  uuidFromMetadata: boolean;
  label: string;
  version: number;
  blockSize: number;
  originBytes: number;
  sizeBytes: number;
  state: 'current' | 'previous';
  sourceName: string;
  dumpSize: number;
  evidence: { fds: number; orphanFds?: number; clusterHeaders: Record<string, number>; fsDescriptor: boolean; lvmHeader: boolean; directories: number };
  geometryFrom: Record<string, string>;
  /** Dump ranges holding this volume's metadata. */
  map: MapRun[];
}

/** Where a deep scan stopped: core's DeepScanState as JSON text (what the page saves), and bytes done of all. */
export interface DeepCheckpoint {
  text: string;
  done: number;
  total: number;
}

/** A saved deep-scan state checked against the picked dumps: how far it got, or why it is refused. */
export type DeepResumeCheck = { ok: true; done: number; total: number } | { ok: false; message: string };

/** Block owners of a range of the allocation map. */
export interface OwnersAnswer extends OwnerQuery {
  /** The tree walk behind the owners saw every live file (false: past its bounds, some owners read as unknown). */
  complete: boolean;
}

/** Largest read the hex view may ask for in one call. */
export const MAX_VOLUME_READ = 64 * 1024;
