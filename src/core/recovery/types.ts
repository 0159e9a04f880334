/**
 * Vocabulary of the recovery stage: evidence found on a datastore dump, candidates (rebuilt
 * deltas) and their damage maps. Offsets are bytes unless a name says sectors.
 */

import type { ScorePart } from './score.js';

export type { ScorePart } from './score.js';

export type DeltaFormat = 'vmfsSparse' | 'seSparse';

/** One thing the scan saw that supports a candidate (or stands alone, e.g. an unassembled seSparse header). */
export interface Evidence {
  /**
   * 'descriptor': resident text of a freed descriptor FD; 'descriptor-text': descriptor text carved
   * from a free sub-block or the start of a free block; 'vmsd-text': a .vmsd (live, freed or
   * carved) naming the guessed parent.
   */
  kind: 'freed-fd' | 'freed-pb' | 'carved-header' | 'descriptor' | 'descriptor-text' | 'vmsd-text';
  /** Volume byte offset of the structure (FD, pointer block, header block, descriptor text). */
  volOffset: number;
  /** FD address text ('<0x...>') for freed FDs. */
  fd?: string;
  /** One-line human account: what was found and what it says. */
  detail: string;
  /** Where text evidence was found (descriptor and .vmsd kinds). */
  location?: 'freed-fd' | 'free-sub-block' | 'free-block' | 'live-file';
}

/** What a recovered descriptor of the delta says (freed FD or carved text). */
export interface DescriptorInfo {
  cid: string;
  parentCid: string;
  parentFileNameHint: string | null;
  createType: string;
  extentFile: string | null;
  location: 'freed-fd' | 'free-sub-block' | 'free-block' | 'live-file';
  /** Volume byte offset of the text. */
  volOffset: number;
}

/** A run of the virtual disk whose delta content is lost and reads from the parent instead. */
export interface LostRun {
  /** First virtual sector and length in sectors. */
  sector: number;
  sectors: number;
  /** Every reason of the run, joined with '; ' (adjacent runs are merged into one). */
  reason: string;
  /** The distinct reasons of the adjacent pieces merged into this run, in disk order. */
  reasons: string[];
}

/** Where each block of a rebuilt delta file is, and which blocks are known to be lost. */
export interface BlockPlan {
  /** Rebuilt file length in bytes. */
  fileSize: number;
  blockSize: number;
  /** Volume byte offset of file block i, or -1 (hole: reads as zeros, or lost). */
  volOffsets: Float64Array;
  /** File block index -> why its content cannot be trusted (now owned by a live file, PB reused...). */
  lost: Map<number, string>;
  /** How the plan was obtained. */
  method: 'fd' | 'pointer-block' | 'contiguous';
  /** Volume ranges absent from the dump: file bytes mapped there are lost (reads as zeros). */
  absent: readonly { offset: number; length: number; reason: string }[];
  /**
   * File blocks whose place was inferred (contiguity from the header block) rather than listed by
   * an FD or pointer block, with why: their data is still used, but counted as guessed.
   */
  guessed?: ReadonlyMap<number, string>;
}

/** A run of the virtual disk whose delta content comes from a block placed by inference. */
export interface GuessedRun {
  sector: number;
  sectors: number;
  /** Every reason of the run, joined with '; ' (adjacent runs are merged into one). */
  reason: string;
  reasons: string[];
}

/** A possible parent of a deleted delta when the evidence does not pick one. */
export interface ParentAlternative {
  path: string;
  score: number;
  reasons: string[];
}

/** What the scan reports per candidate (the CLI prints this; the app shows it). */
export interface CandidateInfo {
  id: string;
  format: DeltaFormat;
  capacityBytes: number;
  /** Rebuilt delta file size in bytes. */
  sizeBytes: number;
  /** 0..1: identity x completeness (the two parts below). */
  confidence: number;
  /** 0..1: how sure it is that this is a delta of that disk, from the evidence (identityReasons). */
  identity: number;
  /** 0..1: recoverableGrains / (recoverableGrains + guessedGrains + lostGrains); 0 when it held no grain. */
  completeness: number;
  /** Why this identity, in words, strongest evidence first (internal kind names only in `kind`). */
  identityReasons: ScorePart[];
  /** Why this completeness, in words. */
  completenessReasons: ScorePart[];
  /** The identity and completeness reasons' texts, in that order. */
  reasons: string[];
  /**
   * Parent descriptor path on the volume, 'candidate:<id>' for another recovered delta, or null
   * (none of that capacity, or several that the evidence cannot tell apart: parentAmbiguous).
   */
  parent: string | null;
  parentReasons: string[];
  /** True when several live disks fit equally: no parent is picked, the user must choose one. */
  parentAmbiguous: boolean;
  /** The live disks of the same capacity, best first, when more than one exists (the chooser lists them); empty otherwise. */
  parentAlternatives: ParentAlternative[];
  evidence: Evidence[];
  /**
   * Grains whose data the rebuilt delta holds at a place an FD, pointer block or header fixes;
   * grains whose data sits in a block placed by inference (still written by recover); grains
   * lost (read from the parent). The three are disjoint.
   */
  recoverableGrains: number;
  guessedGrains: number;
  lostGrains: number;
  grainBytes: number;
  lostRuns: LostRun[];
  /** Where the guessed grains are, as runs of the virtual disk. */
  guessedRuns: GuessedRun[];
  /** Volume byte offset of the delta header (the candidate's identity). */
  headerVolOffset: number;
  method: BlockPlan['method'];
  /** The delta's own descriptor, when one was recovered and attributed to it. */
  descriptor?: DescriptorInfo;
}

/** The structure a rejected remnant was tried as. */
export type RemnantKind = 'cowd-header' | 'sesparse-header' | 'kdmv-header' | 'grain-table' | 'fd' | 'pointer-block' | 'descriptor-text' | 'vmsd-text';

/** A carved or freed structure that did not parse (or parsed but cannot be used): the scan went on without it. */
export interface RejectedRemnant {
  kind: RemnantKind;
  /** Volume byte offset of the structure (-1 when unknown). */
  volOffset: number;
  reason: string;
}
