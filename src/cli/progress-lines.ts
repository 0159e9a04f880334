import type { Progress, ProgressFn } from '../core/progress.js';
import type { CliIO } from './args.js';

/**
 * Progress on stderr, `<phase>: <pct>%[ detail]`: at most one line a second, but the first line
 * of each phase at once (so `export: 0%` and `verify: 0%` tell where a long job is).
 */
export function progressLines(io: CliIO, detail?: (p: Progress) => string, everyMs = 1000): ProgressFn {
  let phase: string | null = null;
  let last = -Infinity;
  return (p) => {
    const now = performance.now();
    if (p.phase === phase && now - last < everyMs && !(p.total > 0 && p.done >= p.total)) return;
    phase = p.phase;
    last = now;
    const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0;
    io.err(`${p.phase}: ${pct}%${detail ? ` ${detail(p)}` : ''}`);
  };
}
