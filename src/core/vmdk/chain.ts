import { CidMismatchError, CorruptError, throwIfAborted } from '../errors.js';
import { NO_PARENT_CID, UNKNOWN_CID } from './descriptor.js';
import { DiskChain } from './disk-chain.js';
import { openDisk, openReferenced, type OpenedDisk } from './open-disk.js';
import type { ChainLinkInfo, ChainOptions, Descriptor, DiskLayer, FileResolver } from './types.js';

/** Deeper chains are refused: VMware allows 32 snapshots per chain; 64 leaves room for clones. */
export const MAX_CHAIN_DEPTH = 64;

/**
 * Opens `path` (a descriptor, a monolithic sparse file, a bare delta) and its parents, top first
 * (docs/format-notes.md "VMDK chain links"): follows parentFileNameHint (as given, then resolver.candidates), checks
 * every child's parentCID against its parent's CID, refuses cycles and absurd depth, and notes
 * capacity differences (a smaller parent reads as zeros past its end).
 */
export async function openChain(resolver: FileResolver, path: string, opts: ChainOptions = {}): Promise<DiskChain> {
  const layers: DiskLayer[] = [];
  const links: ChainLinkInfo[] = [];
  const descriptors: (Descriptor | null)[] = [];
  const seen = new Set<string>();
  let disk: OpenedDisk = await openDisk(resolver, path);
  seen.add(path);
  for (;;) {
    throwIfAborted(opts.signal);
    const link = await linkInfo(disk);
    layers.push(disk.layer);
    links.push(link);
    descriptors.push(disk.descriptor);
    const desc = disk.descriptor;
    const hint = desc?.parentFileNameHint ?? null;
    if (!desc || !hint) break;
    if (desc.parentCid === NO_PARENT_CID) {
      link.warnings.push(`${disk.path}: parentCID=ffffffff says this is a base disk; its parentFileNameHint "${hint}" is ignored`);
      break;
    }
    if (links.length >= MAX_CHAIN_DEPTH) throw new CorruptError(`${path}: chain is deeper than ${MAX_CHAIN_DEPTH} disks (at ${disk.path})`);
    const { path: parentPath, src } = await openReferenced(resolver, disk.path, hint, 'parent disk');
    if (seen.has(parentPath)) throw new CorruptError(`${disk.path}: parent chain loops: ${parentPath} appears twice`);
    seen.add(parentPath);
    const parent = await openDisk(resolver, parentPath, src);
    checkLink(disk, link, parent, opts);
    disk = parent;
  }
  return new DiskChain(layers, links, descriptors);
}

async function linkInfo(d: OpenedDisk): Promise<ChainLinkInfo> {
  return {
    path: d.path,
    createType: d.createType,
    format: d.layer.format,
    capacityBytes: d.layer.capacity,
    grainSizeBytes: d.layer.grainSize,
    cid: d.descriptor?.cid ?? null,
    parentCid: d.descriptor && d.descriptor.parentCid !== NO_PARENT_CID ? d.descriptor.parentCid : null,
    parentHint: d.descriptor?.parentFileNameHint ?? null,
    extents: d.extents,
    allocatedBytes: d.layer.format === 'rdm' ? 0 : await d.layer.allocatedBytes(),
    cidOk: null,
    warnings: [...d.warnings],
  };
}

/** CID and capacity checks between a child and its parent; warnings go on the child's link. */
function checkLink(child: OpenedDisk, link: ChainLinkInfo, parent: OpenedDisk, opts: ChainOptions): void {
  const expected = child.descriptor!.parentCid;
  const actual = parent.descriptor?.cid ?? null;
  if (actual === null) {
    link.warnings.push(`${child.path}: parent ${parent.path} has no descriptor, so parentCID=${expected} cannot be checked`);
  } else if (expected === UNKNOWN_CID || actual === UNKNOWN_CID) {
    link.warnings.push(`${child.path}: CID link to ${parent.path} cannot be checked (parentCID=${expected}, parent CID=${actual})`);
  } else if (expected === actual) {
    link.cidOk = true;
  } else if (opts.ignoreCid) {
    link.cidOk = false;
    link.warnings.push(
      `CID mismatch ignored: ${child.path} has parentCID=${expected} but its parent ${parent.path} has CID=${actual}; the parent changed after this delta was made, the merged image may be torn`,
    );
  } else {
    throw new CidMismatchError(child.path, parent.path, expected, actual);
  }
  const c = child.layer.capacity;
  const p = parent.layer.capacity;
  if (p < c) link.warnings.push(`${child.path}: parent ${parent.path} is smaller (${p} bytes) than this disk (${c} bytes); reads past its end are zeros`);
  else if (p > c) link.warnings.push(`${child.path}: parent ${parent.path} is larger (${p} bytes) than this disk (${c} bytes); its tail is not part of the disk`);
}
