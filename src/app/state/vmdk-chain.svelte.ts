import type { ExportFormat } from '../../core/export/export-disk.js';
import type { Progress } from '../../core/progress.js';
import type { ChainLinkInfo } from '../../core/vmdk/types.js';
import type { PickedInput } from '../../platform/browser/file-set-resolver.js';
import type { PickedScan } from '../../workers/vmdk.api.js';
import type { ExportDestination } from '../../workers/common.js';
import type { ExportSummary, GrainMapSummary } from '../../workers/vmdk.api.js';
import type { WizardDestination } from '../components/export/types.js';
import { errName, oneLine } from './errors.js';
import { downloadFromOpfs, pickExportDestination, suggestedName } from './pickers.js';
import { rememberVmdkSession } from './sessions.js';
import { progressCallback, vmdkWorker, type VmdkRemote } from '../workers/app-workers.js';
import type { GuestApi } from '../../workers/guest.api.js';

/** Bucket count of the grain map (one per canvas pixel column at the default width). */
export const MAP_WIDTH = 512;


export { suggestedName };

/**
 * The VMDK-files workflow's state: what was picked, which file is the top, the opened chain, its grain
 * map and the export job. Components read these fields and call the methods; the worker does the work.
 */
export class VmdkChainState {
  input = $state.raw<PickedInput | null>(null);
  scan = $state.raw<PickedScan | null>(null);
  top = $state<string | null>(null);
  links = $state.raw<ChainLinkInfo[]>([]);
  map = $state.raw<GrainMapSummary | null>(null);
  busy = $state<null | 'scan' | 'open' | 'map' | 'export'>(null);
  error = $state<string | null>(null);
  /** The last open failed on a parentCID mismatch: offer to open anyway. */
  cidMismatch = $state(false);
  progress = $state.raw<Progress | null>(null);
  result = $state.raw<ExportSummary | null>(null);
  notice = $state<string | null>(null);

  private fail(e: unknown): void {
    if (errName(e) === 'CancelledError') {
      this.notice = 'Cancelled.';
      return;
    }
    this.error = oneLine(e);
  }

  /** Runs a picker (which may throw, e.g. SecurityError outside a user gesture), then takes its result. */
  async pick(get: () => Promise<PickedInput | null>): Promise<void> {
    let input: PickedInput | null;
    try {
      input = await get();
    } catch (e) {
      this.fail(e);
      return;
    }
    await this.setInput(input);
  }

  /** New files or folder picked: list them, suggest the top, open it. */
  async setInput(input: PickedInput | null): Promise<void> {
    if (!input) return;
    this.input = input;
    this.scan = null;
    this.top = null;
    this.links = [];
    this.map = null;
    this.result = null;
    this.error = null;
    this.notice = null;
    this.cidMismatch = false;
    this.busy = 'scan';
    try {
      const scan = await vmdkWorker.call((w) => w.scan(input));
      this.scan = scan;
      this.top = scan.suggestedTop;
      if (!scan.suggestedTop) {
        this.error = 'none of the picked files is a VMDK descriptor or sparse disk: pick the small .vmdk descriptor files too, not only -flat/-delta files';
        return;
      }
    } catch (e) {
      this.fail(e);
      return;
    } finally {
      this.busy = null;
    }
    await this.openTop();
  }

  async chooseTop(path: string): Promise<void> {
    this.top = path;
    await this.openTop();
  }

  async openTop(ignoreCid = false): Promise<void> {
    if (!this.input || !this.top) return;
    this.links = [];
    this.map = null;
    this.result = null;
    this.error = null;
    this.notice = null;
    this.cidMismatch = false;
    this.busy = 'open';
    try {
      const input = this.input;
      const top = this.top;
      this.links = await this.job((w) => w.open(input, top, { ignoreCid }));
      void rememberVmdkSession(this.input, this.top);
    } catch (e) {
      this.cidMismatch = errName(e) === 'CidMismatchError';
      this.fail(e);
      return;
    } finally {
      this.busy = null;
    }
    await this.loadMap();
  }

  async loadMap(width = MAP_WIDTH): Promise<void> {
    this.busy = 'map';
    try {
      this.map = await this.job((w) => w.grainMap(width));
    } catch (e) {
      if (errName(e) !== 'CancelledError') this.fail(e);
    } finally {
      if (this.busy === 'map') this.busy = null;
    }
  }

  /**
   * Must be called straight from a click: the save pickers need the user's gesture. `destination`
   * is the wizard's choice, as for the recovery export: 'pick' asks where (flat exports write two
   * files, so a folder; without pickers it falls back to browser storage), 'download' writes to
   * browser storage (OPFS) and then offers the output as a download.
   */
  async export(format: ExportFormat, destination: WizardDestination = 'pick'): Promise<void> {
    if (this.links.length === 0) return;
    this.error = null;
    this.notice = null;
    this.result = null;
    const name = suggestedName(this.top, format);
    let dest: ExportDestination | null;
    try {
      dest = destination === 'download' ? 'opfs' : await pickExportDestination(format, name);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!dest) return; // dialog dismissed
    this.busy = 'export';
    this.progress = { phase: 'starting', done: 0, total: 0 };
    try {
      const onProgress = progressCallback((p: Progress) => {
        this.progress = p;
      });
      const result = await this.job((w) => w.export(format, dest, name, onProgress));
      this.result = result;
      if (result.destination === 'opfs') await downloadFromOpfs(result.opfsFiles);
    } catch (e) {
      this.fail(e);
    } finally {
      this.busy = null;
      this.progress = null;
    }
  }

  /** The chain's guest file systems, for the disk inspector ("look inside"). */
  guestApi(): GuestApi {
    return vmdkWorker.remote;
  }

  private abort: AbortController | null = null;

  /** A call Cancel can stop: the chain open, its map and the export (one job at a time in the worker). */
  private job<T>(fn: (w: VmdkRemote) => Promise<T>): Promise<T> {
    const abort = (this.abort = new AbortController());
    return vmdkWorker.call(fn, { signal: abort.signal, cancel: (w) => w.cancel() });
  }

  cancel(): void {
    this.abort?.abort();
  }
}
