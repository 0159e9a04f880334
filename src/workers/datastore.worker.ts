import * as Comlink from 'comlink';
import { UserError } from '../core/errors.js';
import { copySourceToSink } from '../core/export/copy-source.js';
import { exportDisk, hashDisk, type ExportFormat } from '../core/export/export-disk.js';
import { writeWhole, type ByteSink } from '../core/io/byte-sink.js';
import type { ByteSource } from '../core/io/byte-source.js';
import type { RaidDetection } from '../core/raid/detect.js';
import { throttle, type Progress } from '../core/progress.js';
import { openChain } from '../core/vmdk/chain.js';
import { carveJob, carveJobs, type CarveJob } from '../core/recovery/carve-job.js';
import { mapBounded } from '../core/util/map-bounded.js';
import { buildCandidates, carveFreeRange, parentOptions, pickCandidate, rebuiltDelta, planFreeRanges, recoveredDisk, scanForDeltas, type Candidate, type CarvedHeader, type CarvedText, type FreeRange, type FreeRangePlan, type RangeEvidence, type ScanResult } from '../core/recovery/index.js';
import { DiskChain } from '../core/vmdk/disk-chain.js';
import { candidateInfo, grainDamageMap, recoveryReport, type GrainDamageMap } from '../core/recovery/index.js';
import type { ChainLinkInfo } from '../core/vmdk/types.js';
import { listFolder, openDatastore, summarizeAllocation, type Datastore, type VolumeInfo, type VolumeUsage } from '../core/vmfs/index.js';
import { createFileSink, opfsExportDir, WritableStreamSink } from '../platform/browser/sinks.js';
import { exportTarget, guarded, holdFor, Jobs, type ExportDestination } from './common.js';
import { createGuestApi } from './guest-methods.js';
import { compareGuestFile } from '../core/guest/compare.js';
import type { FileComparison } from './guest.api.js';
import { createInspectorApi } from './inspector-methods.js';
import { createDeletedApi } from './deleted-methods.js';
import { createDeepApi } from './deep-methods.js';
import type { AllocationSummary, CandidateView, CarvedRejected, ChainExportResult, DeltaRecoveryResult, DirListing, FileExportResult, LookInsideResult, ParentOption, RecoveryResult, ScanView } from './datastore.api.js';
import { dumpSources } from './raid-lun.js';
import { DeepDatastore } from '../core/vmfs/deep/open.js';

/**
 * Thin Comlink adapter over the datastore reader: the page sends the picked LUN dumps (File
 * objects: reads slice them, nothing is loaded whole) and asks for listings, the allocation map,
 * chains and exports. All parsing happens here, off the main thread.
 */


let ds: Datastore | null = null;
/** The picked dump files ds was opened over, in their order (carve jobs name them by index). */
let roots: ByteSource[] = [];
let chain: DiskChain | null = null;
let scanned: ScanResult | null = null;
/** The last recovery of each candidate (for the report's hashes and output). */
const recoveries = new Map<string, RecoveryResult>();
/** Exports, chain opens and scans are cancelled separately: inspecting a chain must not stop a running export. */
type JobKind = 'export' | 'chain' | 'scan' | 'carve' | 'deleted' | 'deep';
const jobs = new Jobs<JobKind>();

function requireDs(): Datastore {
  if (!ds) throw new UserError('no datastore dump is open');
  return ds;
}


function requireCandidate(id: string): Candidate {
  if (!scanned) throw new UserError('no scan for lost snapshots has run on this dump');
  return pickCandidate(scanned, id);
}

/**
 * What the last scan of the open dump already computed, for the next one (the final list after the
 * early one): grain maps by candidate and block plan, and the live descriptors.
 */
let scanCache: { ds: Datastore; maps: Map<string, GrainDamageMap>; parents: ParentOption[] | null } | null = null;

/** Identity of a candidate's grain map: its header and where each block of its rebuilt file is. */
function mapKey(c: Candidate): string {
  return `${c.headerVolOffset}|${c.plan.fileSize}|${c.plan.volOffsets.join(',')}|${[...c.plan.lost.keys()].join(',')}`;
}

const copyMap = (m: GrainDamageMap): GrainDamageMap => ({ ...m, recovered: m.recovered.slice(), guessed: m.guessed.slice(), lost: m.lost.slice(), parent: m.parent.slice() });

/** The damage map of each candidate of `r` (in scanCache, made where missing) and the parent choices. */
async function mapsAndParents(d: Datastore, r: ScanResult, signal?: AbortSignal, steps: ScanView['steps'] = []): Promise<{ maps: GrainDamageMap[]; parents: ParentOption[] }> {
  let t = performance.now();
  if (scanCache?.ds !== d) scanCache = { ds: d, maps: new Map(), parents: null };
  const cache = scanCache;
  const maps = await mapBounded(r.candidates, 4, async (c) => {
    const k = mapKey(c);
    let map = cache.maps.get(k);
    if (!map) cache.maps.set(k, (map = await grainDamageMap(c, signal)));
    return map;
  });
  steps.push({ name: 'maps', ms: performance.now() - t });
  t = performance.now();
  const parents = cache.parents ?? (cache.parents = await parentOptions(d, signal));
  steps.push({ name: 'parents', ms: performance.now() - t });
  return { maps, parents };
}

/** Damage maps and parent choices for a finished scan; the scan becomes the one recover() uses. */
async function finishScan(d: Datastore, r: ScanResult, signal: AbortSignal, onProgress?: (p: Progress) => void, steps: ScanView['steps'] = []): Promise<ScanView> {
  onProgress?.({ phase: 'damage maps', done: 0, total: r.candidates.length });
  const { maps, parents } = await mapsAndParents(d, r, signal, steps);
  // The copies are transferred, the cache keeps its own.
  const candidates: CandidateView[] = r.candidates.map((c, i) => ({ ...candidateInfo(c), map: copyMap(maps[i]!) }));
  scanned = r;
  const view: ScanView = { volume: { ...r.volume }, candidates, unassembled: r.unassembled.map((e) => ({ ...e })), rejected: r.rejected.map((x) => ({ ...x })), rejectedCount: r.rejectedCount, warnings: [...r.warnings], parents: parents.map((p) => ({ ...p })), steps };
  return Comlink.transfer(view, candidates.flatMap((c) => [c.map.recovered.buffer, c.map.guessed.buffer, c.map.lost.buffer, c.map.parent.buffer]));
}

const NONE_REJECTED: CarvedRejected = { rejected: [], rejectedCount: 0 };

/** Candidates from the metadata passes and `carved` free-space evidence, with their maps (one such job at a time). */
async function candidatesFrom(carved: CarvedHeader[], texts: CarvedText[], onProgress?: (p: Progress) => void, carvedRejected: CarvedRejected = NONE_REJECTED): Promise<ScanView> {
  const d = requireDs();
  const signal = jobs.start('scan');
  const t = performance.now();
  const r = await buildCandidates(d, carved, { signal, ...(onProgress ? { onProgress: throttle(onProgress, 150) } : {}) }, texts, carvedRejected);
  return finishScan(d, r, signal, onProgress, [{ name: 'build', ms: performance.now() - t }]);
}

/** The recovered disk "look inside" reads (lookInside sets it), with the dump it was built on. */
let lookDisk: { ds: Datastore; scan: ScanResult; disk: DiskChain; key: string } | null = null;

function requireLookDisk(): DiskChain {
  if (!lookDisk || lookDisk.ds !== ds) throw new UserError('no recovered disk is open to look inside: choose a candidate and press Look inside');
  return lookDisk.disk;
}

const api = {
  /** Opens the volume on the picked dumps (one per LUN of a spanned volume, any order), or on the LUN of RAID members (`raid`). */
  open(files: File[], raid: RaidDetection | null = null): Promise<VolumeInfo> {
    return guarded(async () => {
      jobs.abort('export', 'chain', 'scan', 'carve', 'deleted');
      ds = null;
      chain = null;
      scanned = null;
      recoveries.clear();
      if (!files.length) throw new UserError('no dump file picked');
      roots = dumpSources(files, raid);
      ds = await openDatastore(roots);
      return ds.info;
    });
  },

  /** Free space (reads every cluster group header of the block bitmap). */
  usage(): Promise<VolumeUsage> {
    return guarded(async () => requireDs().usage());
  },

  /** Allocation of the FS blocks in `buckets` groups, for drawing and for the text table. */
  allocationSummary(buckets: number): Promise<AllocationSummary> {
    return guarded(async () => {
      const d = requireDs();
      const summary = summarizeAllocation(await d.allocationMap(), buckets, d instanceof DeepDatastore ? d.overwrittenBlocks() : undefined);
      const { used, free, pointer, system, overwritten } = summary;
      return Comlink.transfer(summary, [used.buffer, free.buffer, pointer.buffer, system.buffer, ...(overwritten ? [overwritten.buffer] : [])]);
    });
  },

  /** A folder's entries ('.' and '..' left out), with VMDK chain roles recognised. */
  readdir(path: string): Promise<DirListing> {
    return guarded(() => listFolder(requireDs(), path));
  },

  /** Copies one file out of the volume: a file from showSaveFilePicker, or OPFS (then downloaded by the page). */
  exportFile(path: string, dest: FileSystemFileHandle | 'opfs', fileName: string, onProgress?: (p: Progress) => void): Promise<FileExportResult> {
    return guarded(async () => {
      const d = requireDs();
      const signal = jobs.start('export');
      const src = await d.openFile(path);
      let sink: ByteSink;
      let destination: FileExportResult['destination'];
      if (dest === 'opfs') {
        if (fileName.includes('/') || fileName === '' || fileName === '.' || fileName === '..') throw new UserError(`invalid output file name: ${fileName}`);
        sink = await createFileSink(await opfsExportDir(true), fileName, true);
        destination = 'opfs';
      } else {
        sink = await WritableStreamSink.create(dest);
        fileName = dest.name;
        destination = 'file';
      }
      const r = await copySourceToSink(src, sink, { signal, onProgress: throttle(onProgress, 150) });
      return { path, sha256: r.sha256, bytes: r.bytes, destination, fileName };
    });
  },

  /** Opens the VMDK chain whose top is `descriptorPath`, reading every link out of the volume. */
  openChainInDump(descriptorPath: string, opts: { ignoreCid?: boolean } = {}): Promise<ChainLinkInfo[]> {
    return guarded(async () => {
      const d = requireDs();
      const signal = jobs.start('chain');
      chain = null;
      chain = await openChain(d.resolver(), descriptorPath, { ignoreCid: opts.ignoreCid ?? false, signal });
      return [...chain.links];
    });
  },

  /** Exports the merged disk of the chain opened last (same formats and targets as the VMDK view). */
  exportChain(format: ExportFormat, dest: ExportDestination, fileName: string, onProgress?: (p: Progress) => void): Promise<ChainExportResult> {
    return guarded(async () => {
      if (!chain) throw new UserError('no chain is open');
      const c = chain;
      const signal = jobs.start('export');
      const { target, destination, fileName: name } = await exportTarget(dest, fileName);
      const result = await exportDisk(c, target, { format, fileName: name, verify: true, signal, onProgress: throttle(onProgress, 150) });
      return { ...result, destination, opfsFiles: destination === 'opfs' ? result.files : [] };
    });
  },

  /**
   * Scans the open dump for deleted snapshot deltas; candidates best first, each with its grain
   * and damage map, plus the volume's descriptors (the parent choices).
   */
  scanLost(onProgress?: (p: Progress) => void): Promise<ScanView> {
    return guarded(async () => {
      const d = requireDs();
      const signal = jobs.start('scan');
      scanned = null;
      recoveries.clear();
      return finishScan(d, await scanForDeltas(d, { signal, onProgress: throttle(onProgress, 150) }), signal, onProgress);
    });
  },

  /**
   * The split scan, step 1: the volume's blocks in `count` ranges of about equal free space, or
   * `tapered` (see planFreeRanges), which the page hands to carve workers.
   */
  scanPlan(count: number, tapered = false): Promise<FreeRangePlan> {
    return guarded(async () => planFreeRanges(requireDs(), count, tapered));
  },

  /**
   * Step 1b: the ranges as carve jobs (plain reads in the picked files, see carve-job.ts) for carve
   * workers that need not open the dump; null: carve them on opened datastores (carveRange).
   */
  scanJobs(ranges: FreeRange[]): Promise<CarveJob[] | null> {
    return guarded(async () => carveJobs(requireDs(), ranges, roots));
  },

  /**
   * Step 2 (in a carve worker): the free-space pass over one range. `delayMs` is a test hook
   * (the page passes ?scanRangeDelayMs=): it stretches each range so a reload can land mid-scan.
   */
  carveRange(range: FreeRange, onProgress?: (p: Progress) => void, delayMs = 0): Promise<RangeEvidence> {
    return guarded(async () => {
      const d = requireDs();
      const signal = jobs.start('carve');
      const r = await carveFreeRange(d, range, { signal, onProgress: throttle(onProgress, 150) });
      await holdFor(delayMs, signal);
      return r;
    });
  },

  /**
   * Reads ahead what a scan's first list needs: the metadata passes (freed FDs and pointer blocks,
   * text in free sub-blocks), the delta headers and grain tables they lead to, their damage maps
   * and the parent choices, all kept for this opened datastore. The page asks when the Find view
   * first shows (RecoveryState.prepare), so a click on Find lists these candidates at once and the
   * free-space pass starts at full speed. Bounded metadata reads; no result, no scan state.
   */
  prepareScan(): Promise<void> {
    return guarded(async () => {
      const d = requireDs();
      await mapsAndParents(d, await buildCandidates(d, []));
    });
  },

  /**
   * Step 2 on a carve job (see scanJobs): the range's block heads read straight from the picked
   * files, as a carve worker reads them, with no layer of the opened volume between.
   */
  carve(job: CarveJob, onProgress?: (p: Progress) => void, delayMs = 0): Promise<RangeEvidence> {
    return guarded(async () => {
      const signal = jobs.start('carve');
      const r = await carveJob(roots, job, { signal, onProgress: throttle(onProgress, 150) });
      await holdFor(delayMs, signal);
      return r;
    });
  },

  /**
   * A provisional list while the carve runs: candidates from file-system metadata (freed FDs and
   * pointer blocks, descriptor text in free sub-blocks) and from the free-space evidence of the
   * ranges done so far. Step 3 cancels one still running.
   */
  scanProvisional(carved: CarvedHeader[] = [], texts: CarvedText[] = []): Promise<ScanView> {
    return guarded(async () => candidatesFrom(carved, texts));
  },

  /** Step 3: candidates from the merged free-space evidence of every range (mergeCarved), plus the single metadata passes. */
  scanLostFrom(carved: CarvedHeader[], onProgress?: (p: Progress) => void, texts: CarvedText[] = [], carvedRejected: CarvedRejected = NONE_REJECTED): Promise<ScanView> {
    return guarded(async () => {
      scanned = null;
      recoveries.clear();
      return candidatesFrom(carved, texts, onProgress, carvedRejected);
    });
  },

  cancelScan(): void {
    jobs.abort('scan', 'carve');
  },

  /**
   * Rebuilds candidate `candidateId` over `parentPath` (null: no parent, lost and unwritten
   * ranges read as zeros) and exports it, verified; same destinations as exportChain.
   */
  recover(candidateId: string, parentPath: string | null, format: ExportFormat, dest: ExportDestination, fileName: string, onProgress?: (p: Progress) => void): Promise<RecoveryResult> {
    return guarded(async () => {
      const d = requireDs();
      const c = requireCandidate(candidateId);
      const signal = jobs.start('export');
      const { disk, parent, warnings } = await recoveredDisk(d, c, parentPath);
      for (const l of disk.links) warnings.push(...l.warnings);
      const { target, destination, fileName: name } = await exportTarget(dest, fileName);
      const res = await exportDisk(disk, target, { format, fileName: name, verify: true, signal, onProgress: throttle(onProgress, 150) });
      const out: RecoveryResult = { ...res, candidateId, parent, format, destination, opfsFiles: destination === 'opfs' ? res.files : [], warnings };
      recoveries.set(candidateId, out);
      return out;
    });
  },

  /**
   * Writes candidate `candidateId` as a delta for use in place: its delta file as found (lost
   * blocks NOT filled) and a descriptor `descriptorName` with parentCID = the CID of `parentPath`
   * and parentFileNameHint = its name, into a picked folder or OPFS `exports` (then downloaded).
   */
  recoverDelta(candidateId: string, parentPath: string | null, dest: FileSystemDirectoryHandle | 'opfs', descriptorName: string, onProgress?: (p: Progress) => void): Promise<DeltaRecoveryResult> {
    return guarded(async () => {
      const d = requireDs();
      const c = requireCandidate(candidateId);
      if (!parentPath) throw new UserError(`${candidateId}: choose a parent: a delta for use in place must name one`);
      const signal = jobs.start('export');
      const rd = await rebuiltDelta(d, c, parentPath, descriptorName);
      const opfs = dest === 'opfs';
      const dir = opfs ? await opfsExportDir(true) : dest;
      // The pair is one output: a cancel or failure after the first file is saved removes it again.
      const saved: string[] = [];
      let copy: Awaited<ReturnType<typeof copySourceToSink>>;
      let sha256: string;
      try {
        copy = await copySourceToSink(rd.data, await createFileSink(dir, rd.dataName, opfs), { signal, onProgress: throttle(onProgress, 150) });
        saved.push(rd.dataName);
        await writeWhole(await createFileSink(dir, descriptorName, opfs), new TextEncoder().encode(rd.descriptor));
        saved.push(descriptorName);
        sha256 = await hashDisk(rd.asWritten, { signal, onProgress: throttle(onProgress, 150), phase: 'hash' });
      } catch (e) {
        await Promise.all(saved.map((n) => dir.removeEntry(n).catch(() => {})));
        throw e;
      }
      return { candidateId, parent: parentPath, parentCid: rd.parentCid, files: [descriptorName, rd.dataName], sha256, dataSha256: copy.sha256, destination: opfs ? 'opfs' : 'directory', notes: rd.notes };
    });
  },

  /** The JSON report of a candidate (evidence, lost runs, totals; hashes once it was recovered). */
  report(candidateId: string, parentPath: string | null): Promise<string> {
    return guarded(async () => {
      const c = requireCandidate(candidateId);
      const rec = recoveries.get(candidateId) ?? null;
      const report = recoveryReport(scanned!, c, rec ? rec.parent : parentPath, {
        tool: 'vmfs-rescue (browser)',
        output: rec ? { format: rec.format, files: rec.files, bytesWritten: rec.bytesWritten, verified: rec.verified } : null,
        sha256: rec ? rec.sha256 : null,
        warnings: rec?.warnings ?? [],
      });
      return JSON.stringify(report, null, 2) + '\n';
    });
  },

  /** Cancels the running export or chain open (a cancelled export leaves no file under its name). */
  cancel(): void {
    jobs.abort('export', 'chain');
  },

  /**
   * Opens the disk candidate `candidateId` gives over `parentPath` (as recover() would export it)
   * for the guest* methods: the user checks their files are there before exporting.
   */
  lookInside(candidateId: string, parentPath: string | null): Promise<LookInsideResult> {
    return guarded(async () => {
      const d = requireDs();
      const c = requireCandidate(candidateId);
      const key = `${candidateId}\0${parentPath ?? ''}`;
      if (lookDisk?.ds === d && lookDisk.scan === scanned && lookDisk.key === key) return { capacityBytes: lookDisk.disk.size, parent: parentPath, warnings: [] };
      lookDisk = null;
      const { disk, parent, warnings } = await recoveredDisk(d, c, parentPath);
      for (const l of disk.links) warnings.push(...l.warnings);
      lookDisk = { ds: d, scan: scanned!, disk, key };
      return { capacityBytes: disk.size, parent, warnings };
    });
  },

  /**
   * A guest file from the disk lookInside opened and from its parent alone (the base): the
   * recovered version next to the one the snapshot froze.
   */
  lookCompare(partition: number, path: string): Promise<FileComparison> {
    return guarded(async () => {
      const disk = requireLookDisk();
      const base = disk.layers.length > 1 ? new DiskChain(disk.layers.slice(1), disk.links.slice(1)) : null;
      return compareGuestFile(disk, base, partition, path);
    });
  },

  /** "Look inside" the disk opened by lookInside: partitions, guest folders, file content. */
  ...createGuestApi(() => requireLookDisk()),

  /** Inspector views: zoomed allocation map, block owners, volume bytes for the hex view. */
  ...createInspectorApi(() => requireDs()),

  /** Deleted and orphan files, and descriptor / .vmsd text in free sub-blocks (`ls --deleted`). */
  ...createDeletedApi(() => requireDs(), () => jobs.start('deleted')),
  /** Deep scan: every volume that lived on the dumps; a previous one opens as the datastore. */
  ...createDeepApi((r, d) => {
    jobs.abort('export', 'chain', 'scan', 'carve', 'deleted');
    roots = r;
    ds = d;
    chain = null;
    scanned = null;
    recoveries.clear();
  }, () => jobs.start('deep'), () => jobs.abort('deep')),
};

export type DatastoreWorkerApi = typeof api;

Comlink.expose(api);
