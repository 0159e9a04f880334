import type { DiskLayer } from '../vmdk/types.js';
import type { DeltaHeader } from './delta-header.js';
import type { DescriptorRemnant } from './text-carving.js';
import type { WeightedPart } from './score.js';
import type { BlockPlan, CandidateInfo } from './types.js';

/** A candidate with what it takes to read it again. */
export interface Candidate extends CandidateInfo {
  header: DeltaHeader;
  plan: BlockPlan;
  /** The rebuilt delta as a layer with its damage applied (lost ranges are 'missing'). */
  layer: DiskLayer;
  /** Set when `parent` is 'candidate:<id>': the recovered delta this one sits on. */
  parentCandidate?: Candidate;
  /** Freed descriptor attributed to this candidate, if any. */
  descriptor?: DescriptorRemnant;
  /** Folder FD of the freed delta FD (0 when unknown), for linking candidates by folder. */
  dirFd: number;
  /** Identity evidence with its internal weights (chain linking replaces the parent part and rescores). */
  identityParts: WeightedPart[];
  /** The freed delta FD's address text and times (Unix seconds), when a freed FD gave the plan. */
  fdTimes?: { fd: string; mtime: number; ctime: number };
}
