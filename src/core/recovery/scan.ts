import { RescueError, throwIfAborted, UserError } from '../errors.js';
import type { JobOptions } from '../progress.js';
import { hex } from '../util/struct.js';
import { openCowdExtent } from '../vmdk/formats/cowd.js';
import { openSeSparseExtent } from '../vmdk/formats/sesparse.js';
import type { DiskLayer } from '../vmdk/types.js';
import { formatFdAddress, fsOf, type Datastore, type VmfsFs } from '../vmfs/index.js';
import { damageReport, DamagedDeltaLayer } from './damage-layer.js';
import { HEADER_PROBE_BYTES, probeDeltaHeader, type DeltaHeader } from './delta-header.js';
import { readFreedPb, scanFreedFds, scanFreedPbs, type DescriptorRemnant } from './evidence.js';
import { joinPointerBlocks, pieceDetail } from './pb-join.js';
import type { BlockUse } from './free-map.js';
import { blockUseOf, carveFreeRange, type CarvedHeader } from './free-ranges.js';
import { linkCandidates } from './chain-link.js';
import { guessParent, listLiveDisks } from './parent-guess.js';
import { checkTables, planContiguous, planFromBlocks } from './plan.js';
import { rebuiltFile } from './rebuilt-file.js';
import type { BlockPlan, CandidateInfo, Evidence } from './types.js';

export interface VolumeSummary {
  label: string;
  uuid: string;
  version: number;
  blockSize: number;
  totalBlocks: number;
  freeBlocks: number;
  allocationBasis: string;
}

/** A candidate with what it takes to read it again. */
export interface Candidate extends CandidateInfo {
  header: DeltaHeader;
  plan: BlockPlan;
  /** The rebuilt delta as a layer with its damage applied (lost ranges are 'missing'). */
  layer: DiskLayer;
  /** Set when `parent` is 'candidate:<id>': the recovered delta this one sits on. */
  parentCandidate?: Candidate;
  /** Freed descriptor attributed to this candidate, if any. */
  descriptor?: DescriptorRemnant;
  /** Folder FD of the freed delta FD (0 when unknown), for linking candidates by folder. */
  dirFd: number;
}

export interface ScanResult {
  volume: VolumeSummary;
  candidates: Candidate[];
  /** Delta headers seen but not turned into a candidate (e.g. seSparse: not reassembled yet). */
  unassembled: Evidence[];
  descriptors: DescriptorRemnant[];
  warnings: string[];
}

interface Found {
  headerVolOffset: number;
  header: DeltaHeader;
  evidence: Evidence[];
  plans: { plan: BlockPlan | null; base: number; reason: string; checkWithGt: boolean; dirFd?: number }[];
}

/**
 * Finds deleted snapshot deltas on an opened datastore: freed FDs and freed pointer blocks that
 * still lead to a delta header, and delta headers carved from the start of free blocks; each is
 * rebuilt as a delta layer over the blocks found, checked with its own grain tables, given a
 * parent guess and a damage map. Best candidate first. The free-space pass runs here in one go;
 * split it with carveFreeRange and hand the merged headers to buildCandidates instead.
 */
export async function scanForDeltas(ds: Datastore, opts: JobOptions = {}): Promise<ScanResult> {
  const use = await blockUseOf(ds);
  const carved = await carveFreeRange(ds, { startBlock: 0, endBlock: use.totalBlocks }, opts);
  return buildCandidates(ds, carved.headers, opts);
}

/**
 * The scan after the free-space pass: the freed-FD and pointer-block passes (single, metadata
 * only), then candidates from all the evidence, `carved` being the merged free-space headers
 * (mergeCarved of every range's result).
 */
export async function buildCandidates(ds: Datastore, carved: readonly CarvedHeader[], opts: JobOptions = {}): Promise<ScanResult> {
  const fs: VmfsFs = fsOf(ds);
  const map = await ds.allocationMap();
  const use = await blockUseOf(ds);
  const absent = use.absent;
  const warnings: string[] = [];
  for (const a of absent) warnings.push(`volume range ${hex(a.offset)}+${hex(a.length)} is not in the dump (${a.reason}): deltas stored there are lost`);
  if (map.basis !== 'bitmap') warnings.push(`free space comes from ${map.basis} (no decoded bitmap): reuse of blocks cannot be confirmed`);
  const bs = use.blockSize;
  const found = new Map<number, Found>();
  const get = (at: number, header: DeltaHeader): Found => {
    let f = found.get(at);
    if (!f) found.set(at, (f = { headerVolOffset: at, header, evidence: [], plans: [] }));
    return f;
  };

  const fds = await scanFreedFds(fs, use, opts);
  warnings.push(...fds.warnings);
  for (const d of fds.deltas) {
    const f = get(d.headerVolOffset, d.header);
    const fdText = formatFdAddress(d.fd.address);
    f.evidence.push({ kind: 'freed-fd', volOffset: d.fd.volOffset, fd: fdText, detail: `freed FD ${fdText} (generation ${d.fd.generation}, ${d.fd.length} bytes, ${d.fd.zla === 3 ? 'pointer blocks' : 'direct blocks'}) still lists the delta's blocks` });
    f.plans.push({ plan: planFromBlocks(d.blocks, d.header.format === 'seSparse' ? d.fd.length : Math.min(d.fd.length, d.header.fileSize), use, 'fd', d.unknown), base: 0.45, reason: `block list from freed FD ${fdText}`, checkWithGt: false, dirFd: d.parentDir });
  }
  throwIfAborted(opts.signal);
  const pbs = await scanFreedPbs(fs, use, opts);
  warnings.push(...pbs.warnings);
  const perPb = fs.L.pbEntries;
  for (const p of pbs.heads) {
    throwIfAborted(opts.signal);
    const f = get(p.headerVolOffset, p.header);
    const join = await joinPointerBlocks(fs.vol, p, pbs.others, p.item, perPb, use, (pb) => readFreedPb(fs, pb, use.totalBlocks));
    const nBlocks = Math.ceil(p.header.fileSize / bs);
    f.evidence.push({ kind: 'freed-pb', volOffset: p.pbVolOffset, detail: `freed pointer block ${hex(p.pbAddress, 8)} lists the delta's first ${p.blocks.filter((b) => b >= 0).length} blocks in order` });
    for (const piece of join.pieces) f.evidence.push({ kind: 'freed-pb', volOffset: piece.pbVolOffset, detail: pieceDetail(piece, perPb) });
    const pieces = Math.ceil(nBlocks / perPb);
    const joined = 1 + join.pieces.length;
    f.plans.push({
      plan: planFromBlocks(join.blocks, p.header.fileSize, use, 'pointer-block', join.unknown),
      base: 0.35,
      reason: pieces > 1 ? `block list from ${joined} of ${pieces} freed pointer blocks, joined in file order` : `block list from freed pointer block ${hex(p.pbAddress, 8)}`,
      checkWithGt: false,
    });
  }
  throwIfAborted(opts.signal);
  for (const c0 of carved) {
    if (!Number.isSafeInteger(c0.block) || c0.block < 0 || c0.block >= use.totalBlocks || use.isUsed(c0.block)) continue; // not a free block of this volume
    // Evidence may come from another worker or a saved (resumed) scan: the header is read again here.
    const c = await reprobe(fs, c0.block, bs);
    if (!c) continue;
    const f = get(c.block * bs, c.header);
    f.evidence.push({ kind: 'carved-header', volOffset: c.block * bs, detail: `${c.header.format} header at the start of free block ${c.block} (capacity ${c.header.capacityBytes}, file ${c.header.fileSize} bytes)` });
    if (f.plans.length === 0) f.plans.push({ plan: null, base: 0.15, reason: 'blocks guessed contiguous from the header block, checked with the grain tables', checkWithGt: true });
  }

  const disks = await listLiveDisks(ds);
  const candidates: Candidate[] = [];
  const unassembled: Evidence[] = [];
  for (const f of [...found.values()].sort((a, b) => a.headerVolOffset - b.headerVolOffset)) {
    throwIfAborted(opts.signal);
    try {
      candidates.push(await buildCandidate(fs, use, f, disks, fds.descriptors));
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      warnings.push(`delta header at volume ${hex(f.headerVolOffset)}: ${e.message}`);
    }
  }
  linkCandidates(candidates, fds.descriptors, disks);
  candidates.sort((a, b) => b.confidence - a.confidence || b.recoverableGrains - a.recoverableGrains || a.headerVolOffset - b.headerVolOffset);
  const i = ds.info;
  return {
    volume: { label: i.label, uuid: i.uuid, version: i.version, blockSize: bs, totalBlocks: use.totalBlocks, freeBlocks: use.freeBlocks, allocationBasis: map.basis },
    candidates,
    unassembled,
    descriptors: fds.descriptors,
    warnings,
  };
}

async function buildCandidate(fs: VmfsFs, use: BlockUse, f: Found, disks: Awaited<ReturnType<typeof listLiveDisks>>, descriptors: DescriptorRemnant[]): Promise<Candidate> {
  let h = f.header;
  const bs = use.blockSize;
  const chosen = f.plans.sort((a, b) => b.base - a.base)[0]!;
  const reasons: string[] = [];
  let confidence = chosen.base;
  reasons.push(`+${chosen.base} ${chosen.reason}`);
  let plan: BlockPlan;
  let fit: number;
  let checked: number;
  if (chosen.checkWithGt) {
    const r = await planContiguous(fs.vol, f.headerVolOffset / bs, h, use);
    plan = r.plan;
    h = r.header;
    fit = r.tablesFit;
    checked = r.tablesChecked;
  } else {
    plan = chosen.plan!;
    ({ fit, checked } = await checkTables(fs.vol, plan, h, false));
  }
  const headerScore = h.notes.length ? 0.05 : 0.1;
  confidence += headerScore;
  reasons.push(`+${headerScore} ${h.format === 'seSparse' ? 'seSparse' : 'COWD'} header is consistent (capacity ${h.capacityBytes}, grain ${h.grainBytes}, ${h.gdEntries} GD entries)${h.notes.length ? ` but ${h.notes.join(', ')}` : ''}`);
  if (checked > 0) {
    const s = round(0.25 * (fit / checked));
    confidence += s;
    reasons.push(`+${s} ${fit} of ${checked} readable grain tables fit the file (pointers inside it, no duplicates)`);
  } else reasons.push('+0 no grain table could be checked');

  const id = `delta-${f.headerVolOffset / bs}`;
  const file = rebuiltFile(fs.vol, plan, id);
  const inner = h.format === 'seSparse' ? await openSeSparseExtent(file, id) : await openCowdExtent(file, id);
  const layer = new DamagedDeltaLayer(inner, file, h, plan);
  const dmg = await damageReport(layer);
  // Penalise by the share of the delta FILE that is lost: a lost grain table's 2 MiB range counts
  // every grain as lost, most of which may never have been written, so grain counts overstate it.
  const fileBlocks = Math.max(1, Math.ceil(plan.fileSize / bs));
  if (plan.lost.size > 0) {
    const s = round(0.2 * (plan.lost.size / fileBlocks));
    confidence -= s;
    reasons.push(`-${s} ${plan.lost.size} of ${fileBlocks} delta file blocks are lost (${dmg.lostGrains} grains in lost runs)`);
  }
  if (dmg.recoverableGrains === 0) {
    confidence -= 0.3;
    reasons.push('-0.3 no grain data is recoverable');
  }
  const desc = descriptors.find((d) => d.capacityBytes === h.capacityBytes && (h.format === 'seSparse' ? /sesparse/i : /vmfssparse/i).test(d.createType) && (!chosen.dirFd || d.parentDir === chosen.dirFd));
  const parent = guessParent(disks, h.capacityBytes, { ...(chosen.dirFd ? { dirFd: chosen.dirFd } : {}), ...(desc ? { parentCid: desc.parentCid } : {}) });
  const evidence = [...f.evidence];
  if (desc) {
    evidence.push({ kind: 'descriptor', volOffset: desc.volOffset, fd: desc.fd, detail: `freed descriptor ${desc.fd}: createType ${desc.createType}, CID ${desc.cid}, parentCID ${desc.parentCid}, parentFileNameHint "${desc.parentFileNameHint ?? ''}", extent "${desc.extentFile ?? ''}"` });
    confidence += 0.05;
    reasons.push(`+0.05 a freed descriptor of the same capacity describes a ${h.format} delta`);
  }
  if (parent.path) {
    confidence += 0.2;
    reasons.push(`+0.2 parent guess ${parent.path}`);
  } else reasons.push('+0 no parent of the same capacity on the volume');
  return {
    id,
    format: h.format,
    capacityBytes: h.capacityBytes,
    sizeBytes: plan.fileSize,
    confidence: round(Math.max(0, Math.min(1, confidence))),
    reasons,
    parent: parent.path,
    parentReasons: parent.reasons,
    evidence,
    recoverableGrains: dmg.recoverableGrains,
    lostGrains: dmg.lostGrains,
    grainBytes: h.grainBytes,
    lostRuns: dmg.lostRuns,
    headerVolOffset: f.headerVolOffset,
    method: plan.method,
    dirFd: chosen.dirFd ?? 0,
    ...(desc ? { descriptor: desc } : {}),
    header: h,
    plan,
    layer,
  };
}

async function reprobe(fs: VmfsFs, block: number, bs: number): Promise<CarvedHeader | null> {
  const at = block * bs;
  if (at + HEADER_PROBE_BYTES > fs.vol.size) return null;
  try {
    const header = probeDeltaHeader(await fs.vol.read(at, HEADER_PROBE_BYTES), fs.vol.size);
    return header ? { block, header } : null;
  } catch (e) {
    if (e instanceof RescueError && e.kind !== 'cancelled') return null;
    throw e;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The candidate with `id` from a scan, or a UserError listing the ids there are. */
export function pickCandidate(r: ScanResult, id: string): Candidate {
  const c = r.candidates.find((x) => x.id === id);
  if (!c) throw new UserError(`no candidate '${id}' (found: ${r.candidates.map((x) => x.id).join(', ') || 'none'})`);
  return c;
}
