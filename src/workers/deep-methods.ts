import { throttle, type Progress } from '../core/progress.js';
import type { ByteSource } from '../core/io/byte-source.js';
import { findDeepVolumes, openDeepVolume, type DeepFindResult } from '../core/vmfs/deep/open.js';
import type { Datastore, VolumeInfo } from '../core/vmfs/index.js';
import { BlobSource } from '../platform/browser/blob-source.js';
import { guarded } from './common.js';
import type { DeepVolumeView } from './datastore.api.js';

/**
 * "Deep scan" for the datastore worker's api (the CLI's `info --deep` and `--volume`): every VMFS
 * volume that lived on the picked dumps, and opening one of them as the worker's datastore.
 */

export function createDeepApi(adopt: (roots: BlobSource[], ds: Datastore) => void, start: () => AbortSignal, stop: () => void) {
  let found: { roots: BlobSource[]; result: DeepFindResult } | null = null;
  return {
    /** Searches the dumps for every volume (streamed, cancellable); the previous ones can then be opened. */
    deepScan(files: File[], onProgress?: (p: Progress) => void): Promise<DeepVolumeView[]> {
      return guarded(async () => {
        const signal = start();
        const roots = files.map((f) => new BlobSource(f, f.name));
        const result = await findDeepVolumes(roots as ByteSource[], { signal, onProgress: throttle(onProgress, 150) });
        found = { roots, result };
        return result.volumes.map((v) => ({
          uuid: v.uuid, uuidFromMetadata: v.uuidFromMetadata, label: v.label, version: v.version, blockSize: v.blockSize,
          originBytes: v.originBytes, sizeBytes: v.sizeBytes, state: v.state, sourceName: v.sourceName, dumpSize: roots[v.source]!.size,
          evidence: v.evidence, geometryFrom: v.geometry.from, map: v.map,
        }));
      });
    },

    cancelDeepScan(): void {
      stop();
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
