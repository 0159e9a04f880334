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
  /** While the scan runs: the volumes the metadata zone gave (first results, before the full pass). */
  early = $state.raw<DeepVolumeView[] | null>(null);
  busy = $state(false);
  progress = $state.raw<Progress | null>(null);
  opening = $state<string | null>(null);
  error = $state<string | null>(null);
  /** Where the last scan of these dumps stopped (cancelled), so it can be resumed. */
  stopped = $state.raw<{ done: number; total: number } | null>(null);
  /** UUID of the deep-scan volume shown in the datastore view, if any. */
  openedUuid = $state<string | null>(null);

  /** The dumps to search: the ones last picked in the datastore view. */
  get files(): File[] {
    return datastore.pickedFiles;
  }

  /** `resume`: go on from where the last scan of the same dumps stopped. */
  async scan(resume = false): Promise<void> {
    const files = this.files;
    if (files.length === 0 || this.busy) return;
    this.busy = true;
    this.error = null;
    this.volumes = null;
    this.progress = null;
    this.stopped = null;
    this.early = null;
    try {
      const abort = (this.abort = new AbortController());
      const onProgress = progressCallback((p: Progress) => (this.progress = p));
      const onZoneVolumes = progressCallback((v: DeepVolumeView[]) => (this.early = v));
      this.volumes = await dsCall((w) => w.deepScan(files, onProgress, resume, onZoneVolumes), { signal: abort.signal, cancel: (w) => w.cancelDeepScan() });
    } catch (e) {
      this.error = errName(e) === 'CancelledError' ? 'Deep scan cancelled.' : oneLine(e);
      this.stopped = await dsCall((w) => w.deepScanStopped(files)).catch(() => null);
    } finally {
      this.busy = false;
      this.early = null;
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
