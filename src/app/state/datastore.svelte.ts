import type { ExportFormat } from '../../core/export/export-disk.js';
import type { Progress } from '../../core/progress.js';
import type { ChainLinkInfo } from '../../core/vmdk/types.js';
import type { RaidDetection } from '../../core/raid/detect.js';
import type { VolumeInfo, VolumeUsage } from '../../core/vmfs/index.js';
import type { ExportDestination } from '../../workers/common.js';
import type { AllocationSummary, ChainExportResult, DirListing, DsEntry, FileExportResult, FileStart, OwnersAnswer, WindowCounts } from '../../workers/datastore.api.js';
import { datastoreWorker, progressCallback, type DatastoreRemote } from '../workers/app-workers.js';
import type { CallOptions } from '../workers/bridge.js';
import { errName, oneLine } from './errors.js';
import { rememberSession, stampOf } from './sessions.js';
import { canPickFiles, canSaveFile, downloadFromOpfs, pickExportDestination, pickFiles, pickSaveFile, suggestedName } from './pickers.js';

/** Cells of the allocation map (one bucket of FS blocks each). */
export const ALLOC_CELLS = 1024;

/** A call to the datastore worker through the bridge (the state classes of the datastore views use it). */
export function dsCall<T>(fn: (w: DatastoreRemote) => Promise<T>, o: CallOptions<DatastoreRemote> = {}): Promise<T> {
  return datastoreWorker.call(fn, o);
}


export interface ExportJob {
  /** What is exported: a file path in the volume, or the merged disk of the inspected chain. */
  what: string;
  progress: Progress | null;
}

export type DsExportResult = (FileExportResult & { kind: 'file' }) | (ChainExportResult & { kind: 'chain'; what: string });

/**
 * State of the "Datastore dump" view: the open volume, the folder shown, the allocation map, an
 * inspected chain and the export job. Components read the fields and call the methods; the
 * worker does all parsing. One instance (below) so the state survives switching views.
 */
export class DatastoreState {
  files = $state.raw<string[]>([]);
  volume = $state.raw<VolumeInfo | null>(null);
  usage = $state.raw<VolumeUsage | null>(null);
  alloc = $state.raw<AllocationSummary | null>(null);
  listing = $state.raw<DirListing | null>(null);
  /** The path being listed (set before the listing arrives). */
  cwd = $state('/');
  opening = $state(false);
  /** Counts successful opens: views tied to one dump (the recovery scan) reset when it changes. */
  opened = $state(0);
  listingBusy = $state(false);
  mapBusy = $state(false);
  chainPath = $state<string | null>(null);
  chainBusy = $state(false);
  chainLinks = $state.raw<ChainLinkInfo[]>([]);
  chainCidMismatch = $state(false);
  exportJob = $state.raw<ExportJob | null>(null);
  result = $state.raw<DsExportResult | null>(null);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);
  /** The File objects of the open dump (the recovery scan's carve workers open them too). */
  dumpFiles: File[] = [];
  /** When dumpFiles are RAID members: the array's parameters (every worker that opens the dump gets them). */
  dumpRaid: RaidDetection | null = null;
  /** The files last picked, even when they did not open (the deep scan searches them). */
  pickedFiles = $state.raw<File[]>([]);

  private fail(e: unknown): void {
    if (errName(e) === 'CancelledError') {
      this.notice = 'Cancelled.';
      return;
    }
    this.error = oneLine(e);
  }

  /** "Open datastore dump": the open picker (several files for a spanned volume); null when dismissed. */
  // ---- reads the views ask for (components call these, never the worker itself) ----

  /** Bytes of the logical volume (the hex view). */
  readVolume(offset: number, length: number): Promise<Uint8Array> {
    return dsCall((w) => w.readVolume(offset, length));
  }

  /** Where a file's bytes start on the volume (its first block, or its FD for resident data). */
  fileStart(path: string): Promise<FileStart> {
    return dsCall((w) => w.fileStart(path));
  }

  /** Block counts of `cells` map cells of `perCell` blocks from block `first` (a zoomed map). */
  allocationWindow(first: number, perCell: number, cells: number): Promise<WindowCounts> {
    return dsCall((w) => w.allocationWindow(first, perCell, cells));
  }

  /** Who owns blocks start..start+count-1 (at most `max` spans). */
  blockOwners(start: number, count: number, max: number): Promise<OwnersAnswer> {
    return dsCall((w) => w.blockOwners(start, count, max));
  }

  async pickAndOpen(): Promise<void> {
    if (!canPickFiles()) return;
    try {
      const picked = await pickFiles();
      if (!picked || picked.kind !== 'handles') return;
      await this.openFiles(await Promise.all(picked.handles.map((h) => h.getFile())), { handles: picked.handles });
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Opens the dump. `handles` (from the open picker or a reopened session) let the recent list
   * reopen it after a reload; `remember: false` keeps it off that list (the generated demo).
   */
  async openFiles(files: File[], opts: { handles?: FileSystemFileHandle[]; remember?: boolean; raid?: RaidDetection | null } = {}): Promise<void> {
    if (files.length === 0) return;
    const raid = opts.raid ?? null;
    // RAID members are not LUN dumps: the deep scan must not search them one by one.
    this.pickedFiles = raid ? [] : [...files];
    this.clear(files);
    this.opening = true;
    try {
      this.volume = await dsCall((w) => w.open(files, raid));
      this.dumpFiles = [...files];
      this.dumpRaid = raid;
      this.opened++;
      if (opts.remember !== false) {
        const v = this.volume;
        void rememberSession({ kind: 'datastore', handles: opts.handles ? [...opts.handles] : null, files: files.map(stampOf), label: v.label || null, uuid: v.uuid, ...(raid ? { raid } : {}) });
      }
    } catch (e) {
      this.fail(e);
      return;
    } finally {
      this.opening = false;
    }
    // Listing first (what the user came for), then free space and the map.
    await this.browse('/');
    void this.loadUsageAndMap();
  }

  /** A volume the deep scan opened in the worker (a deleted or re-created datastore): shown like an opened dump. */
  async showVolume(files: File[], info: VolumeInfo): Promise<void> {
    this.clear(files);
    this.volume = info;
    this.dumpFiles = [...files];
    this.dumpRaid = null;
    this.opened++;
    await this.browse('/');
    void this.loadUsageAndMap();
  }

  /** Forgets what was shown of the previous volume. */
  private clear(files: File[]): void {
    this.files = files.map((f) => f.name);
    this.volume = null;
    this.usage = null;
    this.alloc = null;
    this.listing = null;
    this.cwd = '/';
    this.chainPath = null;
    this.chainLinks = [];
    this.result = null;
    this.error = null;
    this.notice = null;
  }

  private async loadUsageAndMap(): Promise<void> {
    this.mapBusy = true;
    try {
      this.usage = await dsCall((w) => w.usage());
      this.alloc = await dsCall((w) => w.allocationSummary(ALLOC_CELLS));
    } catch (e) {
      this.fail(e);
    } finally {
      this.mapBusy = false;
    }
  }

  async browse(path: string): Promise<void> {
    if (!this.volume) return;
    this.cwd = path;
    this.listingBusy = true;
    this.error = null;
    try {
      const l = await dsCall((w) => w.readdir(path));
      if (this.cwd === path) this.listing = l; // a later click wins
    } catch (e) {
      this.fail(e);
    } finally {
      if (this.cwd === path) this.listingBusy = false;
    }
  }

  async inspectChain(path: string, ignoreCid = false): Promise<void> {
    this.chainPath = path;
    this.chainLinks = [];
    this.chainCidMismatch = false;
    this.chainBusy = true;
    this.error = null;
    this.notice = null;
    try {
      this.chainAbort = new AbortController();
      this.chainLinks = await dsCall((w) => w.openChainInDump(path, { ignoreCid }), { signal: this.chainAbort.signal, cancel: (w) => w.cancel() });
    } catch (e) {
      this.chainCidMismatch = errName(e) === 'CidMismatchError';
      this.fail(e);
    } finally {
      this.chainBusy = false;
    }
  }

  /** Export one file of the volume. Call straight from a click: the save picker needs the gesture. */
  async exportFile(entry: DsEntry): Promise<void> {
    if (this.exportJob) return;
    this.error = null;
    this.notice = null;
    this.result = null;
    let dest: FileSystemFileHandle | 'opfs' | null;
    try {
      dest = canSaveFile() ? await pickSaveFile(entry.name) : 'opfs';
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!dest) return;
    await this.runExport(entry.path, async (onProgress, signal) => {
      const r = await dsCall((w) => w.exportFile(entry.path, dest, entry.name, onProgress), { signal, cancel: (w) => w.cancel() });
      if (r.destination === 'opfs') await downloadFromOpfs([r.fileName]);
      return { ...r, kind: 'file' as const };
    });
  }

  /** Export the merged disk of the inspected chain (same formats as the VMDK view). */
  async exportChain(format: ExportFormat): Promise<void> {
    if (this.exportJob || !this.chainPath || this.chainLinks.length === 0) return;
    this.error = null;
    this.notice = null;
    this.result = null;
    const what = this.chainPath;
    const name = suggestedName(what, format);
    let dest: ExportDestination | null;
    try {
      dest = await pickExportDestination(format, name);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!dest) return;
    await this.runExport(`${what} (merged)`, async (onProgress, signal) => {
      const r = await dsCall((w) => w.exportChain(format, dest, name, onProgress), { signal, cancel: (w) => w.cancel() });
      if (r.destination === 'opfs') await downloadFromOpfs(r.opfsFiles);
      return { ...r, kind: 'chain' as const, what };
    });
  }

  private async runExport(what: string, run: (onProgress: (p: Progress) => void, signal: AbortSignal) => Promise<DsExportResult>): Promise<void> {
    this.exportJob = { what, progress: null };
    const abort = (this.exportAbort = new AbortController());
    try {
      const onProgress = progressCallback((p: Progress) => {
        if (this.exportJob) this.exportJob = { what, progress: p };
      });
      this.result = await run(onProgress, abort.signal);
    } catch (e) {
      this.fail(e);
    } finally {
      this.exportJob = null;
    }
  }

  /** Cancels the running export and chain open (the worker removes a partial output first). */
  cancel(): void {
    this.exportAbort?.abort();
    this.chainAbort?.abort();
  }

  private exportAbort: AbortController | null = null;
  private chainAbort: AbortController | null = null;
}

export const datastore = new DatastoreState();
