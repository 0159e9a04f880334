import type { Progress } from '../../core/progress.js';
import type { DeletedListing } from '../../workers/datastore.api.js';
import { progressCallback } from '../workers/app-workers.js';
import { datastore, dsCall } from './datastore.svelte.js';
import { errName, oneLine } from './errors.js';

/**
 * "Deleted files" of the open dump: freed and orphan FDs (names from directory remnants when a
 * freed folder still lists them) and descriptor / .vmsd text left in free sub-blocks. Listed on
 * request (a pass over the FD and sub-block resources), forgotten when another dump opens.
 */
export class DeletedState {
  listing = $state.raw<DeletedListing | null>(null);
  busy = $state(false);
  progress = $state.raw<Progress | null>(null);
  error = $state<string | null>(null);
  private openId = -1;

  /** Forgets the listing of a previous dump. */
  bind(openId: number): void {
    if (openId === this.openId) return;
    this.openId = openId;
    this.listing = null;
    this.error = null;
    this.progress = null;
  }

  async list(): Promise<void> {
    const openId = datastore.opened;
    this.busy = true;
    this.error = null;
    try {
      const onProgress = progressCallback((p: Progress) => void (this.progress = p));
      const r = await dsCall((w) => w.listDeleted(onProgress));
      if (openId === this.openId) this.listing = r;
    } catch (e) {
      if (openId === this.openId) this.error = errName(e) === 'CancelledError' ? 'Cancelled.' : oneLine(e);
    } finally {
      this.busy = false;
      this.progress = null;
    }
  }
}

export const deleted = new DeletedState();
