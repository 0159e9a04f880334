import { throttle, type Progress } from '../core/progress.js';
import type { ByteSource } from '../core/io/byte-source.js';
import { findDeepVolumes, openDeepVolume, type DeepFindResult } from '../core/vmfs/deep/open.js';
import type { DeepScanState } from '../core/vmfs/deep/scan.js';
import type { DeepVolume } from '../core/vmfs/deep/volumes.js';
import type { Datastore, VolumeInfo } from '../core/vmfs/index.js';
import { BlobSource } from '../platform/browser/blob-source.js';
import { guarded } from './common.js';
import type { DeepVolumeView } from './datastore.api.js';

/** Deep scan read size in the browser (page multiple, as core's CHUNK must be). */
const BLOB_CHUNK = 1088 * 1024;

/**
 * "Deep scan" for the datastore worker's api (the CLI's `info --deep` and `--volume`): every VMFS
 * volume that lived on the picked dumps, and opening one of them as the worker's datastore.
 */

export function createDeepApi(adopt: (roots: BlobSource[], ds: Datastore) => void, start: () => AbortSignal, stop: () => void) {
  let found: { roots: BlobSource[]; result: DeepFindResult } | null = null;
  /** Where the last scan stopped (cancel, error), for these files: a later scan can go on from it. */
  let stopped: { key: string; state: DeepScanState } | null = null;
  const keyOf = (files: File[]) => files.map((f) => `${f.name}\u0000${f.size}\u0000${f.lastModified}`).join('\u0001');
  return {
    /**
     * Searches the dumps for every volume (streamed, cancellable); the previous ones can then be
     * opened. `resume`: go on from where the last scan of the same files stopped, if it did.
     */
    deepScan(files: File[], onProgress?: (p: Progress) => void, resume = false, onZoneVolumes?: (v: DeepVolumeView[]) => void): Promise<DeepVolumeView[]> {
      return guarded(async () => {
        const signal = start();
        const roots = files.map((f) => new BlobSource(f, f.name));
        const key = keyOf(files);
        const view = (v: DeepVolume): DeepVolumeView => ({
          uuid: v.uuid, uuidFromMetadata: v.uuidFromMetadata, label: v.label, version: v.version, blockSize: v.blockSize,
          originBytes: v.originBytes, sizeBytes: v.sizeBytes, state: v.state, sourceName: v.sourceName, dumpSize: roots[v.source]!.size,
          evidence: v.evidence, geometryFrom: v.geometry.from, map: v.map,
        });
        const from = resume && stopped?.key === key ? stopped.state : undefined;
        const result = await findDeepVolumes(roots as ByteSource[], {
          signal, onProgress: throttle(onProgress, 150), ...(from ? { resume: from } : {}),
          // Each Blob read is a round trip to the browser's IO thread: fewer, larger reads than Node's.
          chunkBytes: BLOB_CHUNK,
          onCheckpoint: (state) => (stopped = state.next.pass < 2 ? { key, state } : null),
          ...(onZoneVolumes ? { onZoneVolumes: (vs: DeepVolume[]) => onZoneVolumes(vs.map(view)) } : {}),
        });
        found = { roots, result };
        return result.volumes.map(view);
      });
    },

    cancelDeepScan(): void {
      stop();
    },

    /** Bytes done and in all when the last scan of these files stopped before its end, else null. */
    deepScanStopped(files: File[]): { done: number; total: number } | null {
      if (stopped?.key !== keyOf(files)) return null;
      return { done: stopped.state.bytesScanned, total: files.reduce((s, f) => s + f.size, 0) };
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
