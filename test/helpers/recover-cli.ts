import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { runCli, sha256File } from './tools.js';

/** What `recover --report` writes, as far as the oracle tests check it. */
export interface RecoverReport {
  parent: string;
  lostRuns: unknown;
  hashes: { logicalSha256: string };
  totals: { capacityBytes: number; recoverableGrains: number; guessedGrains: number; lostBytes: number };
}

/**
 * Runs the CLI's `recover --format raw --report` for candidate `id` of the builder's dump `d` into
 * `dir`, and checks the output and the report against what the builder predicts: the SHA-256 (last
 * stdout line, the file itself, the report), the capacity, the recoverable grains and the lost bytes.
 * Returns the report for the caller's own checks.
 */
export function recoverRawChecked(dir: string, d: DeletedDeltaDump, id: string): RecoverReport {
  const out = path.join(dir, 'recovered.img');
  const report = path.join(dir, 'report.json');
  const rec = runCli(['recover', '--image', d.dump, '--candidate', id, '--out', out, '--format', 'raw', '--report', report]);
  expect(rec.code, rec.stderr).toBe(0);
  const lines = rec.stdout.trim().split('\n');
  expect(lines[lines.length - 1]).toBe(d.expectedSha256);
  expect(sha256File(out)).toBe(d.expectedSha256);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RecoverReport;
  expect(rep.hashes.logicalSha256).toBe(d.expectedSha256);
  expect(rep.totals.capacityBytes).toBe(d.capacity);
  // Recoverable and guessed grains are disjoint; together, every intact grain the builder wrote.
  expect(rep.totals.recoverableGrains + rep.totals.guessedGrains).toBe(d.expectedRecoverableGrains);
  if (d.expectedGuessedGrains !== undefined) expect(rep.totals.guessedGrains).toBe(d.expectedGuessedGrains);
  // The lost sectors the builder predicts from what it overwrote or cut.
  expect(rep.totals.lostBytes).toBe(d.expectedLost.reduce((n, l) => n + l.sectors * 512, 0));
  return rep;
}
