/** One measured result; `--json` prints each as one line. */
export interface BenchResult {
  name: string;
  seconds: number;
  /** What we are compared with (a command line), or null. */
  reference: string | null;
  referenceSeconds: number | null;
  /** seconds / referenceSeconds (lower is better; target <= 1.0). */
  ratio: number | null;
  /** Peak resident set of our process, MiB. */
  peakRssMiB: number;
  notes?: string;
}

export interface Bench {
  name: string;
  description: string;
  run(log: (line: string) => void): Promise<BenchResult[]>;
}
