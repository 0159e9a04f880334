import { CancelledError, throwIfAborted } from '../errors.js';
import type { JobOptions } from '../progress.js';
import { fsOf, type Datastore } from '../vmfs/index.js';
import { scanFreedFds, scanFreedPbs } from './evidence.js';
import { blockUseOf } from './free-ranges.js';
import { surveyLive } from './parent-guess.js';
import { carveFreeSubBlocks } from './text-carving.js';
import { Rejections } from './rejected.js';
import type { RejectedRemnant } from './types.js';

/** What the scan learns from file-system metadata alone (no free-space carving). */
export interface MetadataPasses {
  fds: Awaited<ReturnType<typeof scanFreedFds>>;
  pbs: Awaited<ReturnType<typeof scanFreedPbs>>;
  sub: Awaited<ReturnType<typeof carveFreeSubBlocks>>;
  live: Awaited<ReturnType<typeof surveyLive>>;
  /** Freed FDs, pointer blocks and sub-block text that failed to parse (merged into the scan's list). */
  rejected: { readonly rejected: readonly RejectedRemnant[]; readonly rejectedCount: number };
}

const passes = new WeakMap<Datastore, Promise<MetadataPasses>>();

/**
 * The scan's metadata passes (freed FDs, freed pointer blocks, text in free sub-blocks, the live
 * disks and .vmsd files), run once per opened datastore: the app asks for candidates from metadata
 * first and again with the carved evidence, and the dump does not change in between. Shared by
 * callers, they run without a caller's signal (bounded metadata reads); each caller checks its
 * own. Callers copy what they change: the result is shared.
 */
export async function metadataPasses(ds: Datastore, opts: JobOptions = {}): Promise<MetadataPasses> {
  let p = passes.get(ds);
  if (!p) {
    p = (async () => {
      const fs = fsOf(ds);
      const use = await blockUseOf(ds);
      const progress = opts.onProgress ? { onProgress: opts.onProgress } : {};
      const rejected = new Rejections();
      const fds = await scanFreedFds(fs, use, progress, rejected);
      const pbs = await scanFreedPbs(fs, use, progress, rejected);
      const sub = await carveFreeSubBlocks(fs, progress, rejected);
      const live = await surveyLive(ds);
      return { fds, pbs, sub, live, rejected: { rejected: rejected.list, rejectedCount: rejected.count } };
    })();
    passes.set(ds, p);
    p.catch(() => passes.delete(ds));
  }
  const signal = opts.signal;
  if (!signal) return p;
  throwIfAborted(signal);
  // A cancel answers at once; the shared passes run on for the next caller.
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', (onAbort = () => reject(new CancelledError('cancelled'))), { once: true }));
  try {
    return await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
