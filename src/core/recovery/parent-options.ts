import { metadataPasses } from './metadata-passes.js';
import type { Datastore } from '../vmfs/index.js';

/** A live descriptor on the volume that can serve as a parent (the app's parent chooser). */
export interface ParentOption {
  path: string;
  capacityBytes: number;
  createType: string;
  cid: string;
}

/**
 * The live text descriptors of the volume, in walk order: the disks surveyLive found in the
 * scan's metadata passes (run once per opened datastore, so after a scan this reads nothing).
 */
export async function parentOptions(ds: Datastore, signal?: AbortSignal): Promise<ParentOption[]> {
  const { live } = await metadataPasses(ds, signal ? { signal } : {});
  return live.disks.map((d) => ({ path: d.path, capacityBytes: d.capacityBytes, createType: d.createType, cid: d.cid }));
}
