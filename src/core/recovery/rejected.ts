import { RescueError } from '../errors.js';
import type { RejectedRemnant, RemnantKind } from './types.js';

/** Rejected remnants kept in a list (scan results, worker messages, JSON); the count goes on past it. */
export const MAX_REJECTED = 100;

/**
 * Collects rejected remnants: the first MAX_REJECTED in full, a count of all. Free space of a
 * used LUN holds any number of stale or random look-alikes, so the list is bounded.
 */
export class Rejections {
  readonly list: RejectedRemnant[] = [];
  count = 0;
  /** Structures already counted (one header may be reached from a freed FD and by carving). */
  private readonly seen = new Set<string>();

  add(kind: RemnantKind, volOffset: number, reason: string): void {
    const k = key({ kind, volOffset });
    if (this.seen.has(k)) return;
    if (this.seen.size < MAX_SEEN) this.seen.add(k);
    this.count++;
    if (this.list.length < MAX_REJECTED) this.list.push({ kind, volOffset, reason });
  }

  /** Records a typed failure (a RescueError other than a cancel) and returns true; anything else is rethrown. */
  caught(kind: RemnantKind, volOffset: number, e: unknown, prefix = ''): true {
    if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
    this.add(kind, volOffset, prefix + e.message);
    return true;
  }

  /** Merges other results' lists and counts (worker ranges), keeping volume order in the list. */
  merge(parts: readonly { rejected?: readonly RejectedRemnant[]; rejectedCount?: number }[]): this {
    const all = [...this.list];
    for (const p of parts) {
      this.count += p.rejectedCount ?? p.rejected?.length ?? 0;
      for (const r of p.rejected ?? []) {
        const k = key(r);
        if (this.seen.has(k)) continue;
        this.seen.add(k);
        all.push(r);
      }
    }
    all.sort((a, b) => a.volOffset - b.volOffset);
    this.list.length = 0;
    this.list.push(...all.slice(0, MAX_REJECTED));
    return this;
  }
}

/** Keys remembered for de-duplication: bounds memory on a volume with countless look-alikes. */
const MAX_SEEN = 1 << 16;
const key = (r: { kind: RemnantKind; volOffset: number }) => `${r.kind}@${r.volOffset}`;
