import { formatBytes } from '../../format.js';

/** What a progress line needs: counts, and the rate and time left derived by rateTracker. */
export interface RateLike {
  phase: string;
  done: number;
  total: number;
  rate: number | null;
  eta: number | null;
  bytes: boolean;
}

/** "12 s", "3 min 5 s", "2 h 10 min". */
export function secs(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "12.0 MiB / 40.0 MiB, 80.0 MiB/s, about 1 s left" (items instead of bytes outside the byte phases). */
export function progressText(p: RateLike): string {
  const f = p.bytes ? formatBytes : String;
  const parts = [p.total > 0 ? `${f(p.done)} / ${f(p.total)}` : f(p.done)];
  if (p.rate) parts.push(`${p.bytes ? formatBytes(p.rate) : Math.round(p.rate)}/s`);
  if (p.eta !== null) parts.push(`about ${secs(p.eta)} left`);
  return parts.join(', ');
}
