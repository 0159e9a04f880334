import type { ExportFormat } from '../../core/export/export-disk.js';
import type { Progress } from '../../core/progress.js';
import { mergeCarved, mergeCarvedRejected, mergeCarvedTexts, PROBE_WINDOW, type CarvedHeader, type CarvedText, type FreeRange, type FreeRangePlan } from '../../core/recovery/free-ranges.js';
import type { CarveJob } from '../../core/recovery/carve-job.js';
import { runSplitScan, type RangeStatus, type SavedScan, type ScanLane } from '../scan/split-scan.js';
import { hasSavedScan, idbResumeStore, scanKey } from '../scan/resume-store.js';
import type { ExportDestination } from '../../workers/common.js';
import type { CandidateView, DeltaRecoveryResult, ParentOption, RecoveryResult, ScanView } from '../../workers/datastore.api.js';
import type { FileComparison, GuestApi } from '../../workers/guest.api.js';
import { datastoreWorker, progressCallback, startCarveWorker, startDatastoreLane, type CarveRemote } from '../workers/app-workers.js';
import { cancelledError, type StartedWorker } from '../workers/bridge.js';
import { datastore } from './datastore.svelte.js';
import { ui } from './ui.svelte.js';

/** The datastore worker, through the bridge (it holds the open dump and its scan). */
const worker = () => datastoreWorker.remote;
import { carrySelection, defaultParent, PARENT_UNCHOSEN } from './candidate-selection.js';
import { oneLine } from './errors.js';
import { canPickDirectory, downloadBlob, downloadFromOpfs, pickDirectory, pickExportDestination } from './pickers.js';
import type { WizardDestination, WizardOutcome } from '../components/export/types.js';

/** Value of RecoveryState.parent while an ambiguous parent awaits the user's choice (never a path). */
export { PARENT_UNCHOSEN };

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

const cancelled = (e: unknown): boolean => (e as { name?: string })?.name === 'CancelledError';

/** Free-space ranges per worker on a fresh scan (finer ranges: better balance and finer resume). */
const RANGES_PER_WORKER = 8;
/** Block-head reads per batch of a carve worker while the early list is built (PROBE_WINDOW after). */
const EARLY_WINDOW = 4;
const MAX_WORKERS = 16;

/** A carve worker of the pool: `ready` once it holds the dump files. */
interface Carver {
  worker: StartedWorker<CarveRemote>;
  remote: CarveRemote;
  ready: Promise<unknown>;
}

/** A fresh scan's plan for `count` ranges and its carve jobs (null: carved on datastore workers), made before the click. */
interface WarmPlan {
  count: number;
  plan: FreeRangePlan;
  jobs: CarveJob[] | null;
}

/** Workers that carve in a scan (the datastore worker and N - 1 carve workers): ?scanWorkers=N, else one per core up to 4. */
function workerCount(): number {
  return Math.max(1, Math.min(MAX_WORKERS, hooks().workers || Math.min(4, navigator.hardwareConcurrency || 1)));
}

/** User Timing entries (DevTools, the Chromium bench) for the steps of a scan: `vmfs-rescue:scan:<step>`. */
function timed(step: string, t0: number, end = performance.now()): void {
  try {
    performance.measure(`vmfs-rescue:scan:${step}`, { start: t0, end });
  } catch {
    // no User Timing: nothing to record
  }
}

/** The worker's own steps of a list built from `t0` on, laid end to end from there (`<list>/<step>`). */
function timedSteps(list: string, t0: number, v: ScanView): void {
  let at = t0;
  for (const st of v.steps ?? []) timed(`${list}/${st.name}`, at, (at += st.ms));
}

/**
 * Test hooks read from the page URL (documented for the e2e tests): ?scanWorkers=N sets the carve
 * worker count, ?scanRanges=N the range count of a fresh scan, ?scanRangeDelayMs=N stretches each
 * range so a reload can land mid-scan.
 */
function hooks(): { workers: number | null; ranges: number | null; delayMs: number } {
  const q = new URLSearchParams(globalThis.location?.search ?? '');
  const num = (k: string) => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
  };
  return { workers: num('scanWorkers'), ranges: num('scanRanges'), delayMs: Math.min(num('scanRangeDelayMs') ?? 0, 60_000) };
}

export { savedScanProgress } from '../scan/resume-store.js';
export type { RangeStatus } from '../scan/split-scan.js';

/**
 * State of "Find lost snapshots" on the open datastore: the scan (progress, cancel), its
 * candidates, the chosen candidate and parent, and the recovery export.
 */
export class RecoveryState {
  scanning = $state(false);
  scanProgress = $state.raw<RateProgress | null>(null);
  result = $state.raw<ScanView | null>(null);
  /**
   * The final list, to be brought into view: null when the user went to another step while the
   * scan ran (say, to export a candidate of the early list), whom the list must not pull back.
   */
  revealResult = $state.raw<ScanView | null>(null);
  /**
   * `result` is the early list, from file-system metadata alone (freed FDs and pointer blocks): the
   * free-space search is still running (or was stopped), and its final list replaces this one.
   */
  provisional = $state(false);
  selectedId = $state<string | null>(null);
  /**
   * Parent descriptor path for the selected candidate ('' = none: unwritten ranges read as zeros;
   * PARENT_UNCHOSEN: the scan could not decide and the user has not chosen yet).
   */
  parent = $state('');
  exporting = $state(false);
  exportProgress = $state.raw<RateProgress | null>(null);
  recovered = $state.raw<RecoveryResult | null>(null);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);
  ranges = $state.raw<RangeStatus | null>(null);
  deltaResult = $state.raw<DeltaRecoveryResult | null>(null);
  /** The recovered disk opened for "look inside" (candidate + parent it was built from), or null. */
  look = $state.raw<{ candidateId: string; parent: string; seq: number; warnings: string[]; scan: ScanView | null } | null>(null);
  lookBusy = $state(false);
  private lookSeq = 0;
  /** The datastore open this state belongs to (see DatastoreState.opened). */
  private openId = -1;
  /** Carve workers of the running split scan (terminated on cancel and at the end). */
  private pool: StartedWorker<unknown>[] = [];
  /**
   * Carve workers started before the click for the open dump (see prewarm), and what `prepare` made
   * once the Find view showed (its fresh scan's plan and carve jobs, the resume store's record),
   * taken by its next scan.
   */
  private warm: { openId: number; carvers: Carver[]; plan?: Promise<WarmPlan | null>; saved?: { key: string; value: Promise<unknown> } } | null = null;
  private cancelRequested = false;

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
    if (this.scanning) this.cancelScan();
    this.result = null;
    this.revealResult = null;
    this.provisional = false;
    this.selectedId = null;
    this.picked = false;
    this.parent = '';
    this.recovered = null;
    this.error = null;
    this.notice = null;
    this.scanProgress = null;
    this.ranges = null;
    this.prewarm(openId);
    void this.resumeIfSaved(openId);
  }

  /**
   * Starts the carve workers of this dump's next scan now (module load and file hand-over take a
   * few hundred ms that would otherwise follow the click); they make no read until a scan runs.
   */
  private prewarm(openId: number): void {
    for (const c of this.warm?.carvers ?? []) c.worker.terminate();
    this.warm = null;
    const files = datastore.dumpFiles;
    if (!files.length || typeof Worker === 'undefined') return;
    this.warm = { openId, carvers: this.startCarvers(workerCount() - 1, files) };
  }

  /**
   * Gets this dump's next scan ready once the Find view shows (not at the dump's open, where its
   * reads would compete with the volume's first listing, nor for a user who never scans): the
   * datastore worker reads ahead what the first list needs (prepareScan: the metadata passes, ~11
   * MiB of resource files on the bench dump), the fresh plan and its carve jobs are made, and the
   * resume store's record is read. A click then lists the candidates found from metadata at once,
   * and every lane carves from the click. Once per opened dump.
   */
  prepare(openId: number): void {
    const w = this.warm;
    if (!w || w.openId !== openId || openId !== this.openId || w.plan || this.scanning) return;
    const files = datastore.dumpFiles;
    const n = workerCount();
    const t0 = performance.now();
    void worker()
      .prepareScan()
      .then(() => timed('prepare', t0))
      .catch(() => {}); // a failure shows when the scan itself runs
    // A fresh scan's plan (deterministic for the volume and the range count) and its carve jobs.
    const count = hooks().ranges || n * RANGES_PER_WORKER;
    w.plan = worker()
      .scanPlan(count, true)
      .then(async (p) => ({ count, plan: p, jobs: n > 1 && p.ranges.length > 1 ? await worker().scanJobs(p.ranges) : null }))
      .catch(() => null); // made again at the click, where a failure shows
    // Nothing writes the record before this dump's next scan takes it.
    const key = scanKey(files, datastore.volume?.uuid ?? '');
    w.saved = { key, value: idbResumeStore(key).load().catch(() => undefined) };
  }

  /** A scan of this very image that a reload interrupted continues on its own. */
  private async resumeIfSaved(openId: number): Promise<void> {
    const files = datastore.dumpFiles;
    const uuid = datastore.volume?.uuid;
    if (!files.length || !uuid) return;
    if (!(await hasSavedScan(files, uuid)) || openId !== this.openId || this.scanning) return;
    await this.scan();
  }

  /** The user picked a candidate of this scan's list (a newer list keeps it while it is listed). */
  private picked = false;

  select(id: string): void {
    const c = this.result?.candidates.find((x) => x.id === id);
    if (!c) return;
    this.picked = true;
    this.selectedId = id;
    // No silent pick: an ambiguous parent waits for the user's choice.
    this.parent = defaultParent(c);
    this.recovered = null;
  }

  /** The selected candidate's parent is ambiguous and not chosen yet: nothing can be built. */
  get parentUnchosen(): boolean {
    return this.parent === PARENT_UNCHOSEN;
  }

  /** False, saying why, while candidate `c`'s ambiguous parent awaits the user's choice. */
  private parentChosen(c: CandidateView): boolean {
    if (!this.parentUnchosen) return true;
    this.error = `${c.id}: the parent is ambiguous; choose one of the ${c.parentAlternatives.length} disks listed first`;
    return false;
  }

  /**
   * Shows a candidate list: the early one from metadata (`provisional`) or the final one, which
   * replaces it keeping the selected candidate (and a parent the user chose) when its id is still
   * listed, and the open "look inside" of a candidate still listed.
   */
  private showList(v: ScanView, provisional: boolean): void {
    const sel = carrySelection({ id: this.selectedId, parent: this.parent, guessed: this.selected ? defaultParent(this.selected) : null, picked: this.picked }, v.candidates);
    if (this.look && this.look.scan === this.result && v.candidates.some((c) => c.id === this.look!.candidateId)) this.look = { ...this.look, scan: v };
    if (sel?.id !== this.selectedId) this.recovered = null;
    this.result = v;
    this.provisional = provisional;
    this.selectedId = sel?.id ?? null;
    this.parent = sel?.parent ?? '';
  }

  /**
   * Split scan: the free-space pass runs over ranges in N carve workers (the datastore worker and
   * N - 1 more, each of those opening the same File objects), every finished range is saved in IndexedDB under the image's identity, then the
   * datastore worker builds the candidates from the merged evidence. A saved scan of the same
   * image continues with the ranges not done. Meanwhile the datastore worker builds candidates
   * from file-system metadata alone, shown at once as provisional until the final list replaces them.
   */
  async scan(): Promise<void> {
    if (this.scanning) return;
    const tScan = performance.now();
    const navAtStart = ui.goto?.seq ?? 0;
    this.scanning = true;
    this.revealResult = null;
    this.cancelRequested = false;
    this.error = null;
    this.notice = null;
    this.result = null;
    this.provisional = false;
    this.selectedId = null;
    this.picked = false;
    this.recovered = null;
    this.scanProgress = null;
    this.ranges = null;
    const track = rateTracker((phase) => /free space/.test(phase));
    const openId = this.openId;
    const files = datastore.dumpFiles;
    const uuid = datastore.volume?.uuid ?? '';
    const key = scanKey(files, uuid);
    const h = hooks();
    const n = workerCount();
    // Candidates are shown as soon as they are known, provisional: those from metadata alone (asked
    // for at the click: they need no carving), then again each time a range finds a delta header not
    // listed yet (its grain map is then ready when the final list needs it). One such build at a time.
    let final = false;
    let evidence = (): [CarvedHeader[], CarvedText[]] => [[], []];
    let building: Promise<void> | null = null;
    let again = false;
    let builds = 0;
    const provisional = (): Promise<void> => {
      if (building) {
        again = true;
        return building;
      }
      const t0 = builds++ === 0 ? tScan : performance.now();
      const step = builds === 1 ? 'early' : `provisional-${builds - 1}`;
      building = worker()
        .scanProvisional(...evidence())
        .then((v) => {
          if (final || openId !== this.openId || !this.scanning || v.candidates.length === 0) return;
          this.showList(v, true);
          timed(step, t0);
          timedSteps(step, t0, v);
        })
        .catch(() => {}) // cancelled by the final pass, or failed: the final pass says why
        .finally(() => {
          building = null;
          if (again && !final) {
            again = false;
            void provisional();
          }
        });
      return building;
    };
    // The datastore worker carves too, once its metadata pass is done (the two would share its reads).
    const lane0Ready = provisional();
    // Carve workers started before the click for this dump, else now, while the plan is made.
    const warm = this.warm?.openId === openId && this.warm.carvers.length === n - 1 ? this.warm : null;
    this.warm = null;
    const carvers = warm?.carvers ?? this.startCarvers(n - 1, files);
    const count = h.ranges || n * RANGES_PER_WORKER;
    const warmPlan = warm?.plan ? await warm.plan : null;
    const ready = warmPlan?.count === count ? warmPlan : null;
    this.pool.push(...carvers.map((c) => c.worker));
    // The carve workers read in small batches until the early list is out: the metadata pass's
    // reads would otherwise each wait behind a full batch of block heads in the browser.
    for (const c of carvers) void c.remote.pace(EARLY_WINDOW);
    void lane0Ready.finally(() => {
      for (const c of carvers) void c.remote.pace(PROBE_WINDOW);
    });
    const idb = idbResumeStore(key);
    const pre = warm?.saved?.key === key ? warm.saved.value : null;
    const store = pre ? { ...idb, load: () => pre } : idb;
    const abort = new AbortController();
    this.abortScan = abort;
    const started = new Map<number, number>();
    try {
      if (this.cancelRequested) throw cancelledError();
      const tPool = performance.now();
      const s = await runSplitScan({
        store,
        signal: abort.signal,
        plan: async () => {
          const tPlan = performance.now();
          // Tapered: the ranges taken last are short, so the workers finish close together.
          const plan = ready?.plan ?? (await worker().scanPlan(count, true));
          timed('plan', tPlan);
          return plan;
        },
        // The jobs made before the click fit a fresh scan of that very plan, not a resumed one.
        lanes: (saved, todo) => this.scanLanes({ files, saved, todo, carvers, delayMs: h.delayMs, lane0Ready, signal: abort.signal, jobs: ready && saved.ranges === ready.plan.ranges ? ready.jobs : undefined }),
        onStatus: (st) => {
          if (openId === this.openId) this.ranges = st;
        },
        onProgress: (done, total) => void (this.scanProgress = track({ phase: 'carve free space', done, total })),
        onRangeStart: (i) => void started.set(i, performance.now()),
        onRangeDone: (i, saved) => {
          timed(`range-${i}`, started.get(i)!);
          evidence = () => [mergeCarved(Object.values(saved.done)), mergeCarvedTexts(Object.values(saved.done))];
          // A rebuild for a header not listed yet, unless the final list comes next anyway.
          const listed = new Set(this.result?.candidates.map((c) => c.headerVolOffset) ?? []);
          const bs = this.result?.volume.blockSize ?? 0;
          if (this.ranges!.done < this.ranges!.total && saved.done[i]!.headers.some((x) => !listed.has(x.block * bs))) void provisional();
        },
      });
      timed('pool', tPool);
      if (openId !== this.openId) return;
      if (this.cancelRequested) throw cancelledError();
      const carved = mergeCarved(Object.values(s.done));
      final = true; // no provisional list from now on (a build of one would cancel this one)
      const tBuild = performance.now();
      const r = await worker().scanLostFrom(carved, progressCallback((p: Progress) => void (this.scanProgress = track(p))), mergeCarvedTexts(Object.values(s.done)), mergeCarvedRejected(Object.values(s.done)));
      timed('candidates', tBuild);
      timedSteps('candidates', tBuild, r);
      await store.clear().catch(() => {});
      if (openId !== this.openId) return;
      this.showList(r, false);
      if ((ui.goto?.seq ?? 0) === navAtStart || ui.step === 'find') this.revealResult = r;
      timed('total', tScan);
    } catch (e) {
      if (cancelled(e) || this.cancelRequested) {
        this.notice = 'Scan cancelled.';
        await store.clear().catch(() => {});
      } else this.error = oneLine(e);
    } finally {
      this.abortScan = null;
      this.stopPool();
      this.scanning = false;
      this.scanProgress = null;
    }
  }

  /** `count` carve workers (src/workers/carve.worker.ts) started now, each handed the dump `files`. */
  private startCarvers(count: number, files: File[]): Carver[] {
    const out: Carver[] = [];
    for (let k = 1; k <= count; k++) {
      const worker = startCarveWorker(`carve-${k}`);
      const remote = worker.remote;
      const t0 = performance.now();
      const ready = remote.init(files, datastore.dumpRaid).then(() => timed(`open-${k}`, t0));
      ready.catch(() => {}); // a lane that takes this carver awaits it
      out.push({ worker, remote, ready });
    }
    return out;
  }

  /**
   * The lanes of a split scan: the datastore worker (once `lane0Ready`) and the carve workers,
   * which take the ranges as carve jobs (plain reads in the files); when the datastore worker makes
   * none (a layering carve jobs do not map), each other lane opens the dump in a datastore worker
   * of its own instead, ended once every range is done.
   */
  private async scanLanes(o: { files: File[]; saved: SavedScan; todo: readonly number[]; carvers: Carver[]; delayMs: number; lane0Ready: Promise<void>; signal: AbortSignal; jobs?: CarveJob[] | null }): Promise<ScanLane[]> {
    const { files, saved, todo, carvers, delayMs } = o;
    const tJobs = performance.now();
    const aborted = new Promise<never>((_, reject) => o.signal.addEventListener('abort', () => reject(cancelledError()), { once: true }));
    aborted.catch(() => {});
    // o.jobs: made before the click (null is an answer too: no jobs for this layering).
    const jobs = carvers.length && todo.length > 1 ? (o.jobs !== undefined ? o.jobs : await Promise.race([worker().scanJobs(saved.ranges), aborted])) : null;
    timed('jobs', tJobs);
    const proxied = (f: (p: Progress) => void) => progressCallback(f);
    // The datastore worker carves the jobs too where there are some (no volume layers between).
    const lane0 = (i: number, range: FreeRange, onProgress: (p: Progress) => void) => (jobs ? worker().carve(jobs[i]!, proxied(onProgress), delayMs) : worker().carveRange(range, proxied(onProgress), delayMs));
    const lanes: ScanLane[] = [{ ready: o.lane0Ready, carve: lane0, stop: () => void worker().cancelScan() }];
    const stop = (w: StartedWorker<unknown>) => () => this.stopWorkers([w]);
    if (jobs) for (const c of carvers.slice(0, Math.max(0, todo.length - 1))) lanes.push({ ready: c.ready, carve: (i, _range, onProgress) => c.remote.carve(jobs[i]!, proxied(onProgress), delayMs), stop: stop(c.worker) });
    else {
      for (let k = 1; k <= Math.min(carvers.length, todo.length - 1); k++) {
        const t0 = performance.now();
        const w = startDatastoreLane(`carve-ds-${k}`);
        this.pool.push(w);
        const remote = w.remote;
        // Done with its ranges, a datastore worker goes: it holds its own datastore (metadata cache,
        // heap) while candidates are built. Carve workers are ended once the list is shown (scan's
        // finally): ending one releases every Blob its reads sliced, which keeps the browser's IO
        // thread busy for a while and would hold up the candidates' reads.
        lanes.push({ ready: remote.open(files, datastore.dumpRaid).then(() => timed(`open-ds-${k}`, t0)), carve: (_i, range, onProgress) => remote.carveRange(range, proxied(onProgress), delayMs), stop: stop(w), done: stop(w) });
      }
    }
    return lanes;
  }

  /** Aborts the running split scan (cancel). */
  private abortScan: AbortController | null = null;

  private stopWorkers(ws: readonly StartedWorker<unknown>[]): void {
    for (const w of ws) w.terminate();
    this.pool = this.pool.filter((w) => !ws.includes(w));
  }

  private stopPool(): void {
    this.abortScan?.abort();
    for (const w of this.pool) w.terminate();
    this.pool = [];
  }

  cancelScan(): void {
    this.cancelRequested = true;
    this.stopPool();
    void worker().cancelScan();
  }

  /** Opens the selected candidate over the chosen parent for the disk inspector (read in the datastore worker). */
  async lookInside(): Promise<void> {
    const c = this.selected;
    if (!c || this.lookBusy) return;
    if (!this.parentChosen(c)) return;
    const parent = this.parent;
    this.error = null;
    this.lookBusy = true;
    try {
      const r = await worker().lookInside(c.id, parent || null);
      this.look = { candidateId: c.id, parent, seq: ++this.lookSeq, warnings: r.warnings, scan: this.result };
    } catch (e) {
      this.error = oneLine(e);
    } finally {
      this.lookBusy = false;
    }
  }

  /** The guest-file-system API over the disk opened by lookInside (for the disk inspector). */
  lookApi(): GuestApi {
    return worker();
  }

  /** A guest file of the recovered disk next to the base's version of it (look inside). */
  lookCompare(partition: number, path: string): Promise<FileComparison> {
    return worker().lookCompare(partition, path);
  }

  closeLook(): void {
    this.look = null;
  }

  /** How the last export of the wizard ended (done with its hash, cancelled, failed), or null. */
  exportOutcome = $state.raw<WizardOutcome | null>(null);
  /** The candidate exportOutcome is about. */
  exportOutcomeFor = $state<string | null>(null);

  /**
   * Export of the selected candidate over the chosen parent, to a file or folder the user picks
   * (`pick`, when the browser has the dialogs) or to browser storage then a download. Call straight
   * from a click (the save picker needs the gesture). A cancel leaves no output under its name.
   */
  async recover(format: ExportFormat, destination: WizardDestination = 'pick'): Promise<void> {
    const c = this.selected;
    if (!c || this.exporting) return;
    if (!this.parentChosen(c)) return;
    this.error = null;
    this.notice = null;
    this.recovered = null;
    this.exportOutcome = null;
    this.exportOutcomeFor = c.id;
    const name = `${c.id}-recovered${format === 'raw' ? '.img' : '.vmdk'}`;
    let dest: ExportDestination | null;
    try {
      dest = destination === 'download' ? 'opfs' : await pickExportDestination(format, name);
    } catch (e) {
      this.error = oneLine(e);
      return;
    }
    if (!dest) return;
    const outcome = await this.runExport(async (onProgress, signal) => {
      const r = await datastoreWorker.call((w) => w.recover(c.id, this.parent || null, format, dest, name, onProgress), { signal, cancel: (w) => w.cancel() });
      if (r.destination === 'opfs') await downloadFromOpfs(r.opfsFiles);
      this.recovered = r;
      this.exportOutcome = {
        state: 'done',
        sha256: r.sha256,
        verified: r.verified,
        files: r.files,
        downloaded: r.destination === 'opfs',
        summary: `${r.candidateId} over ${r.parent ?? 'no parent'} (${r.format})`,
        warnings: r.warnings,
      };
    });
    if (outcome === 'cancelled') {
      // The save dialog made the (empty) file; a cancelled export must not leave it behind.
      if (dest !== 'opfs' && dest.kind === 'file') await (dest as FileSystemFileHandle & { remove?: () => Promise<void> }).remove?.().catch(() => {});
      this.exportOutcome = { state: 'cancelled' };
    } else if (outcome !== 'done') this.exportOutcome = { state: 'failed', error: outcome.error };
  }

  /**
   * Saves the selected candidate as a VMware delta for use in place (descriptor + delta file,
   * parentCID = the chosen parent's CID) into a picked folder, or as downloads. Call from a click.
   */
  async recoverDelta(): Promise<void> {
    const c = this.selected;
    if (!c || this.exporting) return;
    if (!this.parentChosen(c)) return;
    this.error = null;
    this.notice = null;
    this.deltaResult = null;
    let dest: FileSystemDirectoryHandle | 'opfs' | null;
    try {
      dest = canPickDirectory() ? await pickDirectory('readwrite') : 'opfs';
    } catch (e) {
      this.error = oneLine(e);
      return;
    }
    if (!dest) return;
    await this.runExport(async (onProgress, signal) => {
      const name = `${c.id}-restored.vmdk`;
      const r = await datastoreWorker.call((w) => w.recoverDelta(c.id, this.parent || null, dest, name, onProgress), { signal, cancel: (w) => w.cancel() });
      if (r.destination === 'opfs') await downloadFromOpfs(r.files);
      this.deltaResult = r;
    });
  }

  /** One export at a time, its progress with rate and ETA; a cancel is a notice, not an error. */
  private async runExport(run: (onProgress: (p: Progress) => void, signal: AbortSignal) => Promise<void>): Promise<'done' | 'cancelled' | { error: string }> {
    this.exporting = true;
    this.exportProgress = null;
    const track = rateTracker(() => true);
    const abort = (this.exportAbort = new AbortController());
    try {
      await run(progressCallback((p: Progress) => void (this.exportProgress = track(p))), abort.signal);
      return 'done';
    } catch (e) {
      if (cancelled(e)) {
        this.notice = 'Export cancelled.';
        return 'cancelled';
      }
      this.error = oneLine(e);
      return { error: this.error };
    } finally {
      this.exporting = false;
      this.exportProgress = null;
    }
  }

  private exportAbort: AbortController | null = null;

  /** Cancels the running export (the worker removes a partial output first). */
  cancelExport(): void {
    this.exportAbort?.abort();
  }

  async downloadReport(): Promise<void> {
    const c = this.selected;
    if (!c) return;
    try {
      downloadBlob(`${c.id}-report.json`, new Blob([await worker().report(c.id, this.parentUnchosen ? null : this.parent || null)], { type: 'application/json' }));
    } catch (e) {
      this.error = oneLine(e);
    }
  }
}

export const recovery = new RecoveryState();
