import type { RaidDetection, RaidOverrides } from '../core/raid/detect.js';

/** What crosses between the page and the RAID worker (all structured-cloneable: plain data, Maps, Files). */

export type { RaidDetection, RaidOverrides };

/** Detection's progress: reading the members (bytes), fitting hypotheses (count), checking parity (fits). */
export interface RaidProgress {
  phase: 'read' | 'fit' | 'check';
  done: number;
  total: number;
}

/**
 * A detection's outcome: the array found, or what was seen when the evidence did not decide (the
 * page then shows it and lets the user give the parameters).
 */
export type RaidOutcome =
  | { kind: 'detected'; detection: RaidDetection }
  | { kind: 'undecided'; reason: string; evidence: string[]; candidates: string[]; landmarks: { member: string; count: number }[] };

export interface RaidWorkerApi {
  /** Detects the array from the members (any order), `overrides` fixing what the user gave; `holdMs` is the page's test hook (?raidHoldMs=: waits before reading, cancellable). */
  detect(files: File[], overrides: RaidOverrides, onProgress?: (p: RaidProgress) => void, holdMs?: number): Promise<RaidOutcome>;
  /** The array exactly as given (every parameter set), checked to be readable: nothing is detected. */
  given(files: File[], overrides: RaidOverrides): Promise<RaidDetection>;
  cancel(): void;
}
