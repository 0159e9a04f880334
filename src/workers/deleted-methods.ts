import { throttle, type Progress } from '../core/progress.js';
import { listDeletedFiles, listTextRemnants } from '../core/recovery/deleted-files.js';
import type { Datastore } from '../core/vmfs/index.js';
import { guarded } from './common.js';
import type { DeletedListing } from './datastore.api.js';

/**
 * "Deleted files" for the datastore worker's api (the CLI's `ls --deleted`): freed and orphan FDs,
 * then descriptor / .vmsd text left in free sub-blocks. One pass over the FD and sub-block
 * resources; cancellable through the signal the worker gives.
 */

export function createDeletedApi(getDs: () => Datastore, start: () => AbortSignal) {
  return {
    listDeleted(onProgress?: (p: Progress) => void): Promise<DeletedListing> {
      return guarded(async () => {
        const d = getDs();
        const signal = start();
        const opts = { signal, onProgress: throttle(onProgress, 150) };
        const files = await listDeletedFiles(d, opts);
        const text = await listTextRemnants(d, opts);
        return { files: files.files, remnants: text.remnants, warnings: [...files.warnings, ...text.warnings] };
      });
    },
  };
}
