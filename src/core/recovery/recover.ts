import { UserError } from '../errors.js';
import { openChain } from '../vmdk/chain.js';
import { DiskChain } from '../vmdk/disk-chain.js';
import type { ChainLinkInfo } from '../vmdk/types.js';
import type { Datastore } from '../vmfs/index.js';
import { CANDIDATE_PARENT } from './chain-link.js';
import type { Candidate } from './candidate.js';

/** Recovered deltas stacked on each other at most (bounds a linking cycle). */
const MAX_DEPTH = 32;

/**
 * The recovered logical disk: the candidate's damaged layer over its parent chain opened from the
 * volume. Lost ranges ('missing') read from the parent, as the damage map lists them.
 */
export async function recoveredDisk(ds: Datastore, c: Candidate, parentPath: string | null, candidates: readonly Candidate[] = [], depth = 0): Promise<{ disk: DiskChain; parent: string | null; warnings: string[] }> {
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
  if (!parentPath && c.parentAmbiguous) throw new UserError(ambiguousParentMessage(c));
  if (!parentPath) {
    warnings.push(`${c.id}: no parent given or guessed; unallocated and lost ranges read as zeros`);
    return { disk: new DiskChain([c.layer], [link]), parent: null, warnings };
  }
  if (parentPath.startsWith(CANDIDATE_PARENT)) {
    // Another recovered delta (a deleted chain): its own parent, guessed or linked, continues below.
    const pid = parentPath.slice(CANDIDATE_PARENT.length);
    const p = candidates.find((x) => x.id === pid) ?? (c.parentCandidate?.id === pid ? c.parentCandidate : undefined);
    if (!p || p === c) throw new UserError(`${c.id}: parent ${parentPath} is not a candidate of this scan`);
    if (depth >= MAX_DEPTH) throw new UserError(`${c.id}: chain of recovered deltas deeper than ${MAX_DEPTH}`);
    if (p.capacityBytes !== c.capacityBytes) warnings.push(`parent ${parentPath} has capacity ${p.capacityBytes}, the delta ${c.capacityBytes}`);
    const below = await recoveredDisk(ds, p, p.parent, candidates, depth + 1);
    warnings.push(...below.warnings);
    return { disk: new DiskChain([c.layer, ...below.disk.layers], [link, ...below.disk.links]), parent: parentPath, warnings };
  }
  const parent = await openChain(ds.resolver(), parentPath);
  if (parent.size !== c.capacityBytes) {
    if (parent.size < c.capacityBytes) warnings.push(`parent ${parentPath} is smaller (${parent.size}) than the delta (${c.capacityBytes}); the tail reads as zeros`);
    else warnings.push(`parent ${parentPath} is larger (${parent.size}) than the delta (${c.capacityBytes})`);
  }
  if (parent.layers.length === 0) throw new UserError(`parent ${parentPath} has no layers`);
  return { disk: new DiskChain([c.layer, ...parent.layers], [link, ...parent.links]), parent: parentPath, warnings };
}

/** The refusal to pick a parent the evidence does not decide, with the alternatives to choose from. */
export function ambiguousParentMessage(c: Candidate): string {
  const alts = c.parentAlternatives.map((a) => `  ${a.path} (score ${a.score}: ${a.reasons.join('; ')})`);
  return [`${c.id}: the parent is ambiguous (${c.parentAlternatives.length} live disks of capacity ${c.capacityBytes} bytes; no evidence decides); choose one with --parent PATH:`, ...alts].join('\n');
}
