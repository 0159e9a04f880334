import { UserError } from '../errors.js';
import { openChain } from '../vmdk/chain.js';
import { DiskChain } from '../vmdk/disk-chain.js';
import type { ChainLinkInfo } from '../vmdk/types.js';
import type { Datastore } from '../vmfs/index.js';
import type { Candidate } from './scan.js';

/**
 * The recovered logical disk: the candidate's damaged layer over its parent chain opened from the
 * volume. Lost ranges ('missing') read from the parent, as the damage map lists them.
 */
export async function recoveredDisk(ds: Datastore, c: Candidate, parentPath: string | null): Promise<{ disk: DiskChain; parent: string | null; warnings: string[] }> {
  const warnings: string[] = [];
  const link: ChainLinkInfo = {
    path: c.id,
    createType: c.format,
    format: c.format,
    capacityBytes: c.capacityBytes,
    grainSizeBytes: c.grainBytes,
    cid: null,
    parentCid: null,
    parentHint: parentPath,
    extents: [{ type: c.format === 'seSparse' ? 'SESPARSE' : 'VMFSSPARSE', fileName: c.id, sectors: c.capacityBytes / 512, offset: 0, format: c.format }],
    allocatedBytes: c.recoverableGrains * c.grainBytes,
    cidOk: null,
    warnings: [],
  };
  if (!parentPath) {
    warnings.push(`${c.id}: no parent given or guessed; unallocated and lost ranges read as zeros`);
    return { disk: new DiskChain([c.layer], [link]), parent: null, warnings };
  }
  const parent = await openChain(ds.resolver(), parentPath);
  if (parent.size !== c.capacityBytes) {
    if (parent.size < c.capacityBytes) warnings.push(`parent ${parentPath} is smaller (${parent.size}) than the delta (${c.capacityBytes}); the tail reads as zeros`);
    else warnings.push(`parent ${parentPath} is larger (${parent.size}) than the delta (${c.capacityBytes})`);
  }
  if (parent.layers.length === 0) throw new UserError(`parent ${parentPath} has no layers`);
  return { disk: new DiskChain([c.layer, ...parent.layers], [link, ...parent.links]), parent: parentPath, warnings };
}
