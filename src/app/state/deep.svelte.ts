import type { Progress } from '../../core/progress.js';
import type { DeepCheckpoint, DeepResumeCheck, DeepVolumeView } from '../../workers/datastore.api.js';
import { progressCallback } from '../workers/app-workers.js';
import { datastore, dsCall } from './datastore.svelte.js';
import { DeepResumeStore, deepScanId, type DeepProgressSaved } from './deep-resume.js';
import { errName, firstLine, oneLine } from './errors.js';

/**
 * The e2e tests' hook (?deepReadDelayMs=N, at most 1000): each read of the scan waits N ms, so a
 * scan of a small dump can be stopped part-way.
 */
function readDelayMs(): number {
  const v = Number(new URLSearchParams(globalThis.location?.search ?? '').get('deepReadDelayMs'));
  return Number.isFinite(v) && v > 0 ? Math.min(Math.floor(v), 1000) : 0;
}

const progressOf = (c: DeepCheckpoint): DeepProgressSaved => ({ done: c.done, total: c.total });

/**
 * State of "Deep scan": every VMFS volume found on the picked dumps (current and previous, with
 * their evidence and metadata map), and opening a previous one in the normal datastore view.
 * Where an unfinished scan stopped is kept in IndexedDB (deep-resume.ts), so it can be resumed
 * after a reload when the same dumps are picked again.
 */
export class DeepState {
  volumes = $state.raw<DeepVolumeView[] | null>(null);
  /** While the scan runs: the volumes the metadata zone gave (first results, before the full pass). */
  early = $state.raw<DeepVolumeView[] | null>(null);
  busy = $state(false);
  progress = $state.raw<Progress | null>(null);
  opening = $state<string | null>(null);
  error = $state<string | null>(null);
  /** Said beside a running scan: a saved state that was refused, or saving that failed. */
  notice = $state<string | null>(null);
  /** Where the last scan of these dumps stopped (cancelled, failed, or cut short by a reload), so it can be resumed. */
  stopped = $state.raw<DeepProgressSaved | null>(null);
  /** UUID of the deep-scan volume shown in the datastore view, if any. */
  openedUuid = $state<string | null>(null);

  private readonly store = new DeepResumeStore();
  /** This page's latest checkpoint: resuming works even where IndexedDB does not. */
  private latest: { id: string; files: File[]; c: DeepCheckpoint } | null = null;
  /** Store writes, in order: a remove always lands after the saves queued before it. */
  private saving: Promise<void> = Promise.resolve();
  private saveQueued = false;
  /** The dumps `stopped` was looked up for. */
  private lookedUp: string | null = null;
  private abort: AbortController | null = null;

  /** The dumps to search: the ones last picked in the datastore view. */
  get files(): File[] {
    return datastore.pickedFiles;
  }

  /** Looks up a saved, unfinished scan of the picked dumps (picked again after a reload). */
  async lookUp(): Promise<void> {
    const files = this.files;
    const id = deepScanId(files);
    if (this.lookedUp === id || this.busy) return;
    this.lookedUp = id;
    this.stopped = null;
    if (files.length === 0) return;
    const p = this.latest?.id === id ? progressOf(this.latest.c) : await this.store.progress(files).catch(() => null);
    if (this.lookedUp === id && !this.busy) this.stopped = p;
  }

  /** `resume`: go on from where the last scan of the same dumps stopped (in this page or before a reload). */
  async scan(resume = false): Promise<void> {
    const files = this.files;
    if (files.length === 0 || this.busy) return;
    const id = deepScanId(files);
    this.lookedUp = id;
    this.busy = true;
    this.error = null;
    this.notice = null;
    this.volumes = null;
    this.progress = null;
    this.stopped = null;
    this.early = null;
    const abort = (this.abort = new AbortController());
    // Checkpoints that arrive after the call ended are stale: the final state is asked for below.
    const run = { open: true };
    try {
      const from = resume ? await this.resumable(files, id) : null;
      if (!from) {
        this.latest = null;
        void this.queue(() => this.store.remove(files));
      }
      const onProgress = progressCallback((p: Progress) => (this.progress = p));
      const onZoneVolumes = progressCallback((v: DeepVolumeView[]) => (this.early = v));
      const onCheckpoint = progressCallback((c: DeepCheckpoint) => run.open && this.keep(files, id, c));
      const delay = readDelayMs();
      this.volumes = await dsCall((w) => w.deepScan(files, onProgress, from, onZoneVolumes, onCheckpoint, delay), {
        signal: abort.signal,
        cancel: (w) => w.cancelDeepScan(),
      });
      run.open = false;
      this.latest = null;
      await this.queue(() => this.store.remove(files));
    } catch (e) {
      run.open = false;
      this.error = errName(e) === 'CancelledError' ? 'Deep scan cancelled.' : oneLine(e);
      const last = await dsCall((w) => w.deepScanStopped(files)).catch(() => null);
      if (last) this.keep(files, id, last);
      await this.saving;
      this.stopped = this.latest?.id === id ? progressOf(this.latest.c) : await this.store.progress(files).catch(() => null);
    } finally {
      this.busy = false;
      this.early = null;
    }
  }

  /**
   * The saved state to go on from, checked by core's reader (in the worker) against the dumps;
   * one it refuses is discarded with a notice, and the scan starts from the beginning.
   */
  private async resumable(files: File[], id: string): Promise<string | null> {
    const saved = this.latest?.id === id ? this.latest.c : await this.store.load(files).catch(() => null);
    if (!saved) return null;
    const check = await dsCall<DeepResumeCheck>((w) => w.checkDeepResume(files, saved.text));
    if (check.ok) return saved.text;
    this.notice = `Could not resume: ${check.message}. The saved state was discarded; the scan starts from the beginning.`;
    this.latest = null;
    await this.queue(() => this.store.remove(files));
    return null;
  }

  /** Keeps a checkpoint here and in IndexedDB (a save still waiting in the queue takes the newest). */
  private keep(files: File[], id: string, c: DeepCheckpoint): void {
    this.latest = { id, files, c };
    if (this.saveQueued) return;
    this.saveQueued = true;
    void this.queue(async () => {
      this.saveQueued = false;
      // Gone when the scan finished or its state was refused meanwhile: nothing to save.
      const l = this.latest;
      if (!l) return;
      await this.store.save(l.files, l.c).catch((e: unknown) => {
        this.notice = `Where the scan is could not be kept in browser storage (${firstLine(e)}): a reload would start it over.`;
      });
    });
  }

  private queue(fn: () => Promise<void>): Promise<void> {
    return (this.saving = this.saving.then(fn).catch(() => {}));
  }

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
