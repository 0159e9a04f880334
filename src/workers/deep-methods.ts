import { throttle, type Progress } from '../core/progress.js';
import type { ByteSource } from '../core/io/byte-source.js';
import { RescueError } from '../core/errors.js';
import { findDeepVolumes, openDeepVolume, type DeepFindResult } from '../core/vmfs/deep/open.js';
import { parseDeepScanState } from '../core/vmfs/deep/resume.js';
import type { DeepScanState } from '../core/vmfs/deep/scan.js';
import type { DeepVolume } from '../core/vmfs/deep/volumes.js';
import type { Datastore, VolumeInfo } from '../core/vmfs/index.js';
import { BlobSource } from '../platform/browser/blob-source.js';
import { guarded } from './common.js';
import type { DeepCheckpoint, DeepResumeCheck, DeepVolumeView } from './datastore.api.js';

/** Deep scan read size in the browser (page multiple, as core's CHUNK must be). */
const BLOB_CHUNK = 1088 * 1024;

/** What a saved state is called in the messages of core's reader. */
const SAVED = 'the saved deep scan';

/**
 * The deep scan's test hook (the page's ?deepReadDelayMs=): each read of `src` waits `ms` first
 * (less once cancelled, and without failing: the scan then saves where it stopped, as on a real
 * cancel), so an e2e test can stop a scan of a small dump part-way.
 */
function slowed(src: BlobSource, ms: number, signal: AbortSignal): ByteSource {
  const wait = () =>
    new Promise<void>((res) => {
      const t = setTimeout(res, Math.min(ms, 1000));
      signal.addEventListener('abort', () => (clearTimeout(t), res()), { once: true });
    });
  return { size: src.size, name: src.name, read: async (offset, length) => (await wait(), src.read(offset, length)) };
}

/**
 * "Deep scan" for the datastore worker's api (the CLI's `info --deep` and `--volume`): every VMFS
 * volume that lived on the picked dumps, and opening one of them as the worker's datastore. A scan
 * goes on from a saved state (the page keeps them in IndexedDB), checked by core's reader.
 */

export function createDeepApi(adopt: (roots: BlobSource[], ds: Datastore) => void, start: () => AbortSignal, stop: () => void) {
  let found: { roots: BlobSource[]; result: DeepFindResult } | null = null;
  /** Where the last scan stopped (cancel, error), for these files: the page saves it. */
  let stopped: { key: string; state: DeepScanState } | null = null;
  const keyOf = (files: File[]) => files.map((f) => `${f.name}\u0000${f.size}\u0000${f.lastModified}`).join('\u0001');
  const totalOf = (files: File[]) => files.reduce((s, f) => s + f.size, 0);
  const checkpointOf = (files: File[], state: DeepScanState): DeepCheckpoint => ({ text: JSON.stringify(state), done: state.bytesScanned, total: totalOf(files) });
  return {
    /**
     * Searches the dumps for every volume (streamed, cancellable); the previous ones can then be
     * opened. `resume`: a saved state of these files (DeepCheckpoint.text) to go on from; one core's
     * reader refuses fails the call (the page checks it first with checkDeepResume). `onCheckpoint`
     * gets the state to save while the scan runs (core's pace: every 10 s, and on cancel or error).
     */
    deepScan(
      files: File[],
      onProgress?: (p: Progress) => void,
      resume?: string | null,
      onZoneVolumes?: (v: DeepVolumeView[]) => void,
      onCheckpoint?: (c: DeepCheckpoint) => void,
      readDelayMs = 0,
    ): Promise<DeepVolumeView[]> {
      return guarded(async () => {
        const signal = start();
        const roots = files.map((f) => new BlobSource(f, f.name));
        const key = keyOf(files);
        const view = (v: DeepVolume): DeepVolumeView => ({
          uuid: v.uuid, uuidFromMetadata: v.uuidFromMetadata, label: v.label, version: v.version, blockSize: v.blockSize,
          originBytes: v.originBytes, sizeBytes: v.sizeBytes, state: v.state, sourceName: v.sourceName, dumpSize: roots[v.source]!.size,
          evidence: v.evidence, geometryFrom: v.geometry.from, map: v.map,
        });
        const from = resume ? parseDeepScanState(resume, roots, SAVED) : undefined;
        // Stopped before its first checkpoint, a resumed scan still stopped where it was resumed from.
        stopped = from && from.next.pass < 2 ? { key, state: from } : null;
        const sources = readDelayMs > 0 ? roots.map((r) => slowed(r, readDelayMs, signal)) : (roots as ByteSource[]);
        const result = await findDeepVolumes(sources, {
          signal, onProgress: throttle(onProgress, 150), ...(from ? { resume: from } : {}),
          // Each Blob read is a round trip to the browser's IO thread: fewer, larger reads than Node's.
          chunkBytes: BLOB_CHUNK,
          onCheckpoint: (state) => {
            stopped = state.next.pass < 2 ? { key, state } : null;
            if (stopped) onCheckpoint?.(checkpointOf(files, state));
          },
          ...(onZoneVolumes ? { onZoneVolumes: (vs: DeepVolume[]) => onZoneVolumes(vs.map(view)) } : {}),
        });
        found = { roots, result };
        return result.volumes.map(view);
      });
    },

    cancelDeepScan(): void {
      stop();
    },

    /** Where the last scan of these files stopped before its end (cancel, error), else null. */
    deepScanStopped(files: File[]): DeepCheckpoint | null {
      return stopped?.key === keyOf(files) ? checkpointOf(files, stopped.state) : null;
    },

    /** A saved state checked by core's reader against these files: how far it got, or why it cannot be used. */
    checkDeepResume(files: File[], text: string): DeepResumeCheck {
      try {
        const s = parseDeepScanState(text, files, SAVED);
        return { ok: true, done: s.bytesScanned, total: totalOf(files) };
      } catch (e) {
        // Core's reader throws only RescueErrors; whatever else a stored value provokes is a refusal too.
        return { ok: false, message: e instanceof RescueError ? e.message : `${SAVED} cannot be read (${String(e)})` };
      }
    },

    /** Opens a volume the last deep scan found as the open datastore (listing, map, export as usual). */
    openDeepVolume(uuid: string): Promise<VolumeInfo> {
      return guarded(async () => {
        if (!found) throw new Error('run the deep scan first');
        const ds = await openDeepVolume(found.roots, uuid, { found: found.result });
        adopt(found.roots, ds);
        return ds.info;
      });
    },
  };
}
