import * as Comlink from 'comlink';
import type { ExportFormat } from '../../core/export/export-disk.js';
import type { Progress } from '../../core/progress.js';
import type { CandidateView, ExportDestination, ParentOption, RecoveryResult, ScanView } from '../../workers/datastore.worker.js';
import { worker } from './datastore.svelte.js';
import { canPickDirectory, canSaveFile, downloadFromOpfs, pickDirectory, pickSaveFile } from './pickers.js';

/** A progress report with what the page derives from successive ones: rate and time left. */
export interface RateProgress extends Progress {
  /** Units per second in this phase (bytes for the free-space pass), or null until measurable. */
  rate: number | null;
  /** Seconds left in this phase, or null. */
  eta: number | null;
  /** The phase counts bytes (the free-space pass, exports) rather than items. */
  bytes: boolean;
}

/** Turns raw progress into rate and ETA, measured from the start of each phase. */
export function rateTracker(bytePhase: (phase: string) => boolean): (p: Progress) => RateProgress {
  let phase = '';
  let t0 = 0;
  let d0 = 0;
  return (p) => {
    const now = performance.now();
    if (p.phase !== phase) {
      phase = p.phase;
      t0 = now;
      d0 = p.done;
    }
    const secs = (now - t0) / 1000;
    const rate = secs > 0.25 && p.done > d0 ? (p.done - d0) / secs : null;
    const eta = rate && p.total > 0 ? Math.max(0, (p.total - p.done) / rate) : null;
    return { ...p, rate, eta, bytes: bytePhase(p.phase) };
  };
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}
const cancelled = (e: unknown): boolean => (e as { name?: string })?.name === 'CancelledError';

/** Offers text as a file download (the report). */
function downloadText(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * State of "Find lost snapshots" on the open datastore: the scan (progress, cancel), its
 * candidates, the chosen candidate and parent, and the recovery export.
 */
export class RecoveryState {
  scanning = $state(false);
  scanProgress = $state.raw<RateProgress | null>(null);
  result = $state.raw<ScanView | null>(null);
  selectedId = $state<string | null>(null);
  /** Parent descriptor path for the selected candidate ('' = none: unwritten ranges read as zeros). */
  parent = $state('');
  exporting = $state(false);
  exportProgress = $state.raw<RateProgress | null>(null);
  recovered = $state.raw<RecoveryResult | null>(null);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);
  /** The datastore open this state belongs to (see DatastoreState.opened). */
  private openId = -1;

  get selected(): CandidateView | null {
    return this.result?.candidates.find((c) => c.id === this.selectedId) ?? null;
  }

  /** Descriptors of the same capacity as the selected candidate (the parent choices). */
  get parentChoices(): ParentOption[] {
    const c = this.selected;
    if (!c || !this.result) return [];
    const same = this.result.parents.filter((p) => p.capacityBytes === c.capacityBytes);
    // The guess always stays choosable, even if the descriptor walk missed it.
    if (c.parent && !same.some((p) => p.path === c.parent)) same.unshift({ path: c.parent, capacityBytes: c.capacityBytes, createType: 'guessed', cid: '?' });
    return same;
  }

  /** Forgets everything when another dump was opened. */
  bind(openId: number): void {
    if (openId === this.openId) return;
    this.openId = openId;
    if (this.scanning) void worker().cancelScan();
    this.result = null;
    this.selectedId = null;
    this.parent = '';
    this.recovered = null;
    this.error = null;
    this.notice = null;
    this.scanProgress = null;
  }

  select(id: string): void {
    const c = this.result?.candidates.find((x) => x.id === id);
    if (!c) return;
    this.selectedId = id;
    this.parent = c.parent ?? '';
    this.recovered = null;
  }

  async scan(): Promise<void> {
    if (this.scanning) return;
    this.scanning = true;
    this.error = null;
    this.notice = null;
    this.result = null;
    this.selectedId = null;
    this.recovered = null;
    this.scanProgress = null;
    const track = rateTracker((phase) => /free space/.test(phase));
    const openId = this.openId;
    try {
      const r = await worker().scanLost(Comlink.proxy((p: Progress) => void (this.scanProgress = track(p))));
      if (openId !== this.openId) return;
      this.result = r;
      if (r.candidates[0]) this.select(r.candidates[0].id);
    } catch (e) {
      if (cancelled(e)) this.notice = 'Scan cancelled.';
      else this.error = oneLine(e);
    } finally {
      this.scanning = false;
      this.scanProgress = null;
    }
  }

  cancelScan(): void {
    void worker().cancelScan();
  }

  /** Export of the selected candidate over the chosen parent. Call straight from a click (the save picker needs the gesture). */
  async recover(format: ExportFormat): Promise<void> {
    const c = this.selected;
    if (!c || this.exporting) return;
    this.error = null;
    this.notice = null;
    this.recovered = null;
    const name = `${c.id}-recovered${format === 'raw' ? '.img' : '.vmdk'}`;
    let dest: ExportDestination | null;
    try {
      if (format === 'flat' && canPickDirectory()) dest = await pickDirectory('readwrite');
      else if (format !== 'flat' && canSaveFile()) dest = await pickSaveFile(name);
      else dest = 'opfs';
    } catch (e) {
      this.error = oneLine(e);
      return;
    }
    if (!dest) return;
    this.exporting = true;
    this.exportProgress = null;
    const track = rateTracker(() => true);
    try {
      const r = await worker().recover(c.id, this.parent || null, format, dest, name, Comlink.proxy((p: Progress) => void (this.exportProgress = track(p))));
      if (r.destination === 'opfs') await downloadFromOpfs(r.opfsFiles);
      this.recovered = r;
    } catch (e) {
      if (cancelled(e)) this.notice = 'Export cancelled.';
      else this.error = oneLine(e);
    } finally {
      this.exporting = false;
      this.exportProgress = null;
    }
  }

  cancelExport(): void {
    void worker().cancel();
  }

  async downloadReport(): Promise<void> {
    const c = this.selected;
    if (!c) return;
    try {
      downloadText(`${c.id}-report.json`, await worker().report(c.id, this.parent || null));
    } catch (e) {
      this.error = oneLine(e);
    }
  }
}

export const recovery = new RecoveryState();
