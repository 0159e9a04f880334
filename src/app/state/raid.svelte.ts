import type { RaidDetection } from '../../core/raid/detect.js';
import type { RaidOutcome, RaidProgress } from '../../workers/raid.api.js';
import { progressCallback, raidWorker } from '../workers/app-workers.js';
import { datastore } from './datastore.svelte.js';
import { errName, oneLine } from './errors.js';
import { canPickFiles, pickDirectory, pickFiles } from './pickers.js';
import { formOf, overridesOf, type RaidForm } from './raid-form.js';
import { ui } from './ui.svelte.js';

/**
 * State of "Open RAID members": the member dumps, the detection (run in the RAID worker, with
 * progress and cancel), the parameters the user may change, and opening the array's LUN as the
 * datastore (the parameters go with the files to every worker that reads the dump).
 */

/** The test hook ?raidHoldMs=N: detection waits N ms (at most 60 s, cancellable) before it reads, so a test can cancel it. */
function holdMs(): number {
  const v = Number(new URLSearchParams(globalThis.location?.search ?? '').get('raidHoldMs'));
  return Number.isFinite(v) && v > 0 ? Math.min(v, 60_000) : 0;
}

/** The form's names for the CLI flags detection's messages mention (the app has no flags). */
const FIELD: Record<string, string> = { level: 'level', stripe: 'stripe', layout: 'layout', delay: 'parity delay', order: 'roles', offset: 'start offsets' };

/** A refusal in the app's words: the "(give --flag ...)" hints become the form's fields. */
export function appReason(reason: string): string {
  return reason.replace(/\s*\(give --[^)]*\)/g, '').replace(/--(level|stripe|layout|delay|order|offset)\b/g, (_, f: string) => FIELD[f]!);
}

/** Folder entries past this many are not taken as members (a wrongly picked folder stays quick). */
const MAX_FOLDER_FILES = 64;

export class RaidState {
  files = $state.raw<File[]>([]);
  handles: FileSystemFileHandle[] | null = null;
  busy = $state(false);
  progress = $state.raw<RaidProgress | null>(null);
  outcome = $state.raw<RaidOutcome | null>(null);
  /** The parameters shown (from the detection, then as the user changes them). */
  form = $state<RaidForm | null>(null);
  /** Form fields the user changed since the last detection: a re-check keeps them fixed. */
  changed = $state.raw<ReadonlySet<keyof RaidForm>>(new Set());
  /** The array to open: the last detection, or the user's parameters once checked. */
  array = $state.raw<RaidDetection | null>(null);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);

  async pickFiles(): Promise<void> {
    if (!canPickFiles()) return;
    try {
      const picked = await pickFiles();
      if (!picked || picked.kind !== 'handles') return;
      await this.setFiles(await Promise.all(picked.handles.map((h) => h.getFile())), picked.handles);
    } catch (e) {
      this.error = oneLine(e);
    }
  }

  /** A folder of member dumps: its files (not its sub-folders), by name. */
  async pickFolder(): Promise<void> {
    try {
      const dir = await pickDirectory('read');
      if (!dir) return;
      const handles: FileSystemFileHandle[] = [];
      for await (const h of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
        if (h.kind === 'file' && !h.name.startsWith('.')) handles.push(h as FileSystemFileHandle);
        if (handles.length > MAX_FOLDER_FILES) break;
      }
      if (handles.length > MAX_FOLDER_FILES) throw Object.assign(new Error(`${dir.name} holds more than ${MAX_FOLDER_FILES} files: pick the member dumps themselves`), { name: 'UserError' });
      handles.sort((a, b) => a.name.localeCompare(b.name));
      await this.setFiles(await Promise.all(handles.map((h) => h.getFile())), handles);
    } catch (e) {
      this.error = oneLine(e);
    }
  }

  /** New members: detection starts at once. */
  async setFiles(files: File[], handles: FileSystemFileHandle[] | null = null): Promise<void> {
    if (files.length === 0) return;
    this.files = [...files];
    this.handles = handles;
    this.form = null;
    this.array = null;
    this.outcome = null;
    await this.detect();
  }

  /** Detection over the members; fields the user changed stay fixed (a re-check). */
  async detect(): Promise<void> {
    if (this.busy || this.files.length === 0) return;
    this.busy = true;
    this.error = null;
    this.notice = null;
    this.progress = null;
    const ov = this.form && this.changed.size ? overridesOf(this.form, this.changed) : {};
    try {
      const abort = (this.abort = new AbortController());
      const onProgress = progressCallback((p: RaidProgress) => (this.progress = p));
      const out = await raidWorker.call<RaidOutcome>((w) => w.detect(this.files, ov, onProgress, holdMs()), { signal: abort.signal, cancel: (w) => w.cancel() });
      this.outcome = out.kind === 'undecided' ? { ...out, reason: appReason(out.reason) } : out;
      if (out.kind === 'detected') {
        this.array = out.detection;
        this.form = formOf(out.detection);
        this.changed = new Set();
      } else {
        this.array = null;
        this.form ??= this.blankForm();
      }
    } catch (e) {
      if (errName(e) === 'CancelledError') this.notice = 'Detection cancelled.';
      else this.error = appReason(oneLine(e));
      this.form ??= this.blankForm();
    } finally {
      this.busy = false;
      this.progress = null;
      this.abort = null;
    }
  }

  private abort: AbortController | null = null;

  cancel(): void {
    this.abort?.abort();
  }

  /** A starting point for parameters the user enters: RAID 5, members in the order given, no offsets. */
  private blankForm(): RaidForm {
    return { level: 'raid5', disks: this.files.length, stripeBytes: 65536, layout: 'left-symmetric', parityDelay: 1, roles: this.files.map((_, i) => i), offsets: this.files.map(() => 0) };
  }

  /** One parameter changed by the user: the array shown no longer applies until checked again. */
  set<K extends keyof RaidForm>(key: K, value: RaidForm[K]): void {
    if (!this.form) return;
    this.form = { ...this.form, [key]: value };
    this.changed = new Set([...this.changed, key]);
    this.array = null;
  }

  /** The user's parameters taken as they are (nothing detected), checked to be readable. */
  async useGiven(): Promise<void> {
    if (!this.form || this.busy) return;
    this.error = null;
    this.notice = null;
    try {
      this.array = await raidWorker.call((w) => w.given(this.files, overridesOf(this.form!)));
      this.changed = new Set();
    } catch (e) {
      this.error = appReason(oneLine(e));
    }
  }

  /** Opens the array's LUN as the datastore (browse, scan, recover and export work on it unchanged). */
  async open(): Promise<void> {
    const array = this.array;
    if (!array) return;
    ui.show('datastore');
    await datastore.openFiles(this.files, { handles: this.handles ?? undefined, raid: $state.snapshot(array) as RaidDetection });
  }
}

export const raid = new RaidState();
