import type { Progress } from '../../core/progress.js';
import type { DeepVolumeView } from '../../workers/datastore.api.js';
import { progressCallback } from '../workers/app-workers.js';
import { datastore, dsCall } from './datastore.svelte.js';
import { errName, oneLine } from './errors.js';

/**
 * State of "Deep scan": every VMFS volume found on the picked dumps (current and previous, with
 * their evidence and metadata map), and opening a previous one in the normal datastore view.
 */
export class DeepState {
  volumes = $state.raw<DeepVolumeView[] | null>(null);
  busy = $state(false);
  progress = $state.raw<Progress | null>(null);
  opening = $state<string | null>(null);
  error = $state<string | null>(null);
  /** UUID of the deep-scan volume shown in the datastore view, if any. */
  openedUuid = $state<string | null>(null);

  /** The dumps to search: the ones last picked in the datastore view. */
  get files(): File[] {
    return datastore.pickedFiles;
  }

  async scan(): Promise<void> {
    const files = this.files;
    if (files.length === 0 || this.busy) return;
    this.busy = true;
    this.error = null;
    this.volumes = null;
    this.progress = null;
    try {
      const abort = (this.abort = new AbortController());
      const onProgress = progressCallback((p: Progress) => (this.progress = p));
      this.volumes = await dsCall((w) => w.deepScan(files, onProgress), { signal: abort.signal, cancel: (w) => w.cancelDeepScan() });
    } catch (e) {
      this.error = errName(e) === 'CancelledError' ? 'Deep scan cancelled.' : oneLine(e);
    } finally {
      this.busy = false;
    }
  }

  private abort: AbortController | null = null;

  cancel(): void {
    this.abort?.abort();
  }

  async open(uuid: string): Promise<void> {
    this.opening = uuid;
    this.error = null;
    try {
      const info = await dsCall((w) => w.openDeepVolume(uuid));
      this.openedUuid = uuid;
      await datastore.showVolume(this.files, info);
    } catch (e) {
      this.error = oneLine(e);
    } finally {
      this.opening = null;
    }
  }
}

export const deep = new DeepState();
