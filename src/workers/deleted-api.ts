import { throttle, type Progress } from '../core/progress.js';
import { listDeletedFiles, listTextRemnants, type DeletedFile, type TextRemnant } from '../core/recovery/deleted-files.js';
import type { Datastore } from '../core/vmfs/index.js';
import { guarded } from './common.js';

/**
 * "Deleted files" for the datastore worker's api (the CLI's `ls --deleted`): freed and orphan FDs,
 * then descriptor / .vmsd text left in free sub-blocks. One pass over the FD and sub-block
 * resources; cancellable through the signal the worker gives.
 */

export type { DeletedFile, TextRemnant };

export interface DeletedListing {
  files: DeletedFile[];
  remnants: TextRemnant[];
  warnings: string[];
}

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
