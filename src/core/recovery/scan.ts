import { RescueError, throwIfAborted, UserError } from '../errors.js';
import type { JobOptions } from '../progress.js';
import type { ByteSource } from '../io/byte-source.js';
import { MemoSource } from '../io/memo-source.js';
import { mapBounded } from '../util/map-bounded.js';
import { hex } from '../util/struct.js';
import { openCowdExtent } from '../vmdk/formats/cowd.js';
import { openSeSparseExtent } from '../vmdk/formats/sesparse.js';
import { formatFdAddress, fsOf, ZLA_DOUBLE, ZLA_PB, type Datastore, type VmfsFs } from '../vmfs/index.js';
import { damageReport, DamagedDeltaLayer } from './damage-layer.js';
import { HEADER_PROBE_BYTES, probeHeaderRemnant, type DeltaHeader } from './delta-header.js';
import { readFreedPb } from './evidence.js';
import { metadataPasses } from './metadata-passes.js';
import { readBlockText, remnantWhere, type DescriptorRemnant, type VmsdRemnant } from './text-carving.js';
import { joinPointerBlocks, pieceDetail } from './pb-join.js';
import type { BlockUse } from './free-map.js';
import { blockUseOf, carveFreeRange, type CarvedHeader, type CarvedText } from './free-ranges.js';
import { linkCandidates, orderCandidates } from './chain-link.js';
import type { Candidate } from './candidate.js';
import { lostReasons, parentPart, scoreFields } from './candidate-score.js';
import { descriptorEvidence, descriptorHints } from './descriptor-evidence.js';
import { guessParent, namesDisk, type LiveDisk } from './parent-guess.js';
import { checkTables, planContiguous, planFromBlocks } from './plan.js';
import { rebuiltFile } from './rebuilt-file.js';
import type { BlockPlan, CandidateInfo, Evidence, LostRun, RejectedRemnant } from './types.js';
import { IDENTITY_WEIGHTS as W, scoreOf, type Score, type WeightedPart } from './score.js';
import { Rejections } from './rejected.js';

export interface VolumeSummary {
  label: string;
  uuid: string;
  version: number;
  blockSize: number;
  totalBlocks: number;
  freeBlocks: number;
  allocationBasis: string;
}

export interface ScanResult {
  volume: VolumeSummary;
  candidates: Candidate[];
  /** Delta headers seen but not turned into a candidate (e.g. seSparse: not reassembled yet). */
  unassembled: Evidence[];
  /** Every descriptor remnant: freed FDs' resident text, then text carved from free sub-blocks and free blocks. */
  descriptors: DescriptorRemnant[];
  /** .vmsd files: live ones, freed FDs' resident text, and text carved from free space. */
  vmsds: VmsdRemnant[];
  /**
   * Carved or freed structures that did not parse, or parsed but could not be used (the first
   * MAX_REJECTED by volume offset), and how many there were: the scan went on without them.
   */
  rejected: RejectedRemnant[];
  rejectedCount: number;
  warnings: string[];
}

/** Candidates built at once (their reads overlap; each holds its layer and tables while built). */
const BUILD_AT_ONCE = 4;

interface Found {
  headerVolOffset: number;
  header: DeltaHeader;
  evidence: Evidence[];
  /** Ways to place its blocks, the strongest source first once sorted (`source.weight`). */
  plans: { plan: BlockPlan | null; source: WeightedPart; checkWithGt: boolean; dirFd?: number; fdTimes?: Candidate['fdTimes'] }[];
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
  return buildCandidates(ds, carved.headers, opts, carved.texts ?? [], carved);
}

/**
 * The volume as the candidate builds read it: the app builds candidates several times per scan
 * (provisional lists, then the final one) over the same dump, and each build reads the same delta
 * headers and grain tables again; remembered per opened datastore, the final build then makes
 * almost no reads (in a browser each is a round trip through the IO thread).
 */
const buildVolumes = new WeakMap<Datastore, ByteSource>();
function buildReads(ds: Datastore, fs: VmfsFs): ByteSource {
  let v = buildVolumes.get(ds);
  if (!v) buildVolumes.set(ds, (v = new MemoSource(fs.vol)));
  return v;
}

/**
 * The scan after the free-space pass: the freed-FD and pointer-block passes (single, metadata
 * only), then candidates from all the evidence, `carved` being the merged free-space headers
 * (mergeCarved of every range's result).
 */
export async function buildCandidates(
  ds: Datastore,
  carved: readonly CarvedHeader[],
  opts: JobOptions = {},
  texts: readonly CarvedText[] = [],
  /** What the free-space pass rejected (mergeCarvedRejected of the ranges, or one range result). */
  carvedRejected: { rejected?: readonly RejectedRemnant[]; rejectedCount?: number } = {},
): Promise<ScanResult> {
  const fs: VmfsFs = fsOf(ds);
  const vol = buildReads(ds, fs);
  // The block use holds the allocation map's basis: no second walk of the bitmaps per build.
  const use = await blockUseOf(ds);
  const absent = use.absent;
  const warnings: string[] = [];
  const rejected = new Rejections().merge([carvedRejected]);
  for (const a of absent) warnings.push(`volume range ${hex(a.offset)}+${hex(a.length)} is not in the dump (${a.reason}): deltas stored there are lost`);
  if (use.basis !== 'bitmap') warnings.push(`free space comes from ${use.basis} (no decoded bitmap): reuse of blocks cannot be confirmed`);
  const bs = use.blockSize;
  const found = new Map<number, Found>();
  const get = (at: number, header: DeltaHeader): Found => {
    let f = found.get(at);
    if (!f) found.set(at, (f = { headerVolOffset: at, header, evidence: [], plans: [] }));
    return f;
  };

  const { fds, pbs, sub, live, rejected: metaRejected } = await metadataPasses(ds, opts);
  rejected.merge([metaRejected]);
  warnings.push(...fds.warnings);
  for (const d of fds.deltas) {
    const f = get(d.headerVolOffset, d.header);
    const fdText = formatFdAddress(d.fd.address);
    f.evidence.push({ kind: 'freed-fd', volOffset: d.fd.volOffset, fd: fdText, detail: `freed FD ${fdText} (generation ${d.fd.generation}, ${d.fd.length} bytes, ${d.fd.zla === ZLA_PB ? 'pointer blocks' : d.fd.zla === ZLA_DOUBLE ? 'double indirection' : 'direct blocks'}) still lists the delta's blocks` });
    f.plans.push({ plan: planFromBlocks(d.blocks, d.header.format === 'seSparse' ? d.fd.length : Math.min(d.fd.length, d.header.fileSize), use, 'fd', d.unknown), source: { key: 'source', weight: W.freedFd, effect: 'for', kind: 'freed-fd', text: `its block list survived in a freed file descriptor (FD ${fdText})` }, checkWithGt: false, dirFd: d.parentDir, fdTimes: { fd: fdText, mtime: d.fd.mtime, ctime: d.fd.ctime } });
  }
  throwIfAborted(opts.signal);
  warnings.push(...pbs.warnings);
  const perPb = fs.geometry.pbEntries;
  for (const p of pbs.heads) {
    throwIfAborted(opts.signal);
    const f = get(p.headerVolOffset, p.header);
    const join = await joinPointerBlocks(vol, p, pbs.others, p.item, perPb, use, (pb) => readFreedPb(fs, pb, use.totalBlocks));
    const nBlocks = Math.ceil(p.header.fileSize / bs);
    f.evidence.push({ kind: 'freed-pb', volOffset: p.pbVolOffset, detail: `freed pointer block ${hex(p.pbAddress, 8)} lists the delta's first ${p.blocks.filter((b) => b >= 0).length} blocks in order` });
    for (const piece of join.pieces) f.evidence.push({ kind: 'freed-pb', volOffset: piece.pbVolOffset, detail: pieceDetail(piece, perPb) });
    const pieces = Math.ceil(nBlocks / perPb);
    const joined = 1 + join.pieces.length;
    f.plans.push({
      plan: planFromBlocks(join.blocks, p.header.fileSize, use, 'pointer-block', join.unknown),
      source: {
        key: 'source',
        weight: W.freedPb,
        effect: 'for',
        kind: 'freed-pb',
        text: pieces > 1 ? `its block list survived in ${joined} of ${pieces} freed pointer blocks, joined in file order` : `its block list survived in a freed pointer block (${hex(p.pbAddress, 8)})`,
      },
      checkWithGt: false,
    });
  }
  throwIfAborted(opts.signal);
  for (const c0 of carved) {
    if (!Number.isSafeInteger(c0.block) || c0.block < 0 || c0.block >= use.totalBlocks || use.isUsed(c0.block)) continue; // not a free block of this volume
    // Evidence may come from another worker or a saved (resumed) scan: the header is read again here.
    const c = await reprobe(vol, c0.block, bs, rejected);
    if (!c) continue;
    const f = get(c.block * bs, c.header);
    f.evidence.push({ kind: 'carved-header', volOffset: c.block * bs, detail: `${c.header.format} header at the start of free block ${c.block} (capacity ${c.header.capacityBytes}, file ${c.header.fileSize} bytes)` });
    if (f.plans.length === 0) f.plans.push({ plan: null, source: { key: 'source', weight: W.carvedHeader, effect: 'for', kind: 'carved-header', text: `only its header survived, at the start of free block ${c.block}: the blocks after it are taken as contiguous and checked with its grain tables` }, checkWithGt: true });
  }

  // Text evidence: free sub-blocks (one metadata pass) and the free blocks the range pass flagged.
  warnings.push(...sub.warnings);
  const descriptors = [...fds.descriptors, ...sub.descriptors];
  const vmsds = [...fds.vmsds, ...sub.vmsds];
  const seenText = new Set<number>();
  for (const t of texts) {
    if (!Number.isSafeInteger(t.block) || t.block < 0 || t.block >= use.totalBlocks || use.isUsed(t.block) || seenText.has(t.block)) continue;
    seenText.add(t.block);
    if (seenText.size > 4096) break;
    const r = await readBlockText(fs, t.block, rejected);
    if (r && 'descriptor' in r) descriptors.push(r.descriptor);
    else if (r) vmsds.push(r.vmsd);
  }
  dedupeDescriptors(descriptors);
  throwIfAborted(opts.signal);
  const disks = live.disks;
  // A stale copy of a live descriptor (same CID, type and capacity) describes no deleted delta.
  const liveCopy = (d: DescriptorRemnant) => disks.some((x) => x.cid === d.cid && x.capacityBytes === d.capacityBytes && x.createType.toLowerCase() === d.createType.toLowerCase());
  for (let i = descriptors.length - 1; i >= 0; i--) if (liveCopy(descriptors[i]!)) descriptors.splice(i, 1);
  // A freed .vmsd FD says its folder: its disk names resolve there when the folder is live.
  for (const v of vmsds) if (v.parentDir && v.dir === null) v.dir = disks.find((x) => x.dirFd === v.parentDir)?.dir ?? null;
  vmsds.unshift(...live.vmsds);
  const candidates: Candidate[] = [];
  const unassembled: Evidence[] = [];
  // A few at a time: each waits on its own reads (round trips in a browser); results in header order.
  const built = await mapBounded([...found.values()].sort((a, b) => a.headerVolOffset - b.headerVolOffset), BUILD_AT_ONCE, async (f) => {
    throwIfAborted(opts.signal);
    try {
      return await buildCandidate(vol, use, f, disks, descriptors, vmsds, rejected);
    } catch (e) {
      // The header parsed but the delta it starts does not open (its GD or tables): rejected.
      rejected.caught(f.header.format === 'seSparse' ? 'sesparse-header' : 'cowd-header', f.headerVolOffset, e, 'the header parses but the delta it starts does not open: ');
      return null;
    }
  });
  for (const c of built) if (c) candidates.push(c);
  linkCandidates(candidates, descriptors, disks, vmsds);
  const ordered = orderCandidates(candidates);
  const i = ds.info;
  return {
    volume: { label: i.label, uuid: i.uuid, version: i.version, blockSize: bs, totalBlocks: use.totalBlocks, freeBlocks: use.freeBlocks, allocationBasis: use.basis },
    candidates: ordered,
    unassembled,
    descriptors,
    vmsds,
    rejected: rejected.merge([]).list,
    rejectedCount: rejected.count,
    warnings,
  };
}

async function buildCandidate(vol: ByteSource, use: BlockUse, f: Found, disks: readonly LiveDisk[], descriptors: readonly DescriptorRemnant[], vmsds: readonly VmsdRemnant[], rejected: Rejections): Promise<Candidate> {
  let h = f.header;
  const bs = use.blockSize;
  const chosen = f.plans.sort((a, b) => b.source.weight - a.source.weight)[0]!;
  const parts: WeightedPart[] = [chosen.source];
  let plan: BlockPlan;
  let fit: number;
  let checked: number;
  if (chosen.checkWithGt) {
    const r = await planContiguous(vol, f.headerVolOffset / bs, h, use, rejected);
    plan = r.plan;
    h = r.header;
    fit = r.tablesFit;
    checked = r.tablesChecked;
  } else {
    plan = chosen.plan!;
    ({ fit, checked } = await checkTables(vol, plan, h, false, rejected));
  }
  const fmt = h.format === 'seSparse' ? 'seSparse' : 'COWD';
  const geometry = `capacity ${h.capacityBytes} bytes, grain ${h.grainBytes} bytes, ${h.gdEntries} grain directory entries`;
  parts.push(h.notes.length
    ? { key: 'header', weight: W.headerWithNotes, effect: 'against', kind: 'header', text: `its ${fmt} header is consistent (${geometry}) except that ${h.notes.join(', ')}` }
    : { key: 'header', weight: W.header, effect: 'for', kind: 'header', text: `its ${fmt} header is consistent (${geometry})` });
  if (checked > 0) {
    const all = fit === checked;
    parts.push({
      key: 'tables',
      weight: W.tables * (fit / checked),
      effect: fit * 2 >= checked ? 'for' : 'against',
      kind: 'grain-tables',
      text: all ? `all ${checked} of its readable grain tables fit the rebuilt file (pointers inside it, none twice)` : `only ${fit} of its ${checked} readable grain tables fit the rebuilt file (the others point outside it or twice at one place)`,
    });
  } else parts.push({ key: 'tables', weight: 0, effect: 'against', kind: 'grain-tables', text: 'none of its grain tables could be read to check the rebuilt file' });

  const id = `delta-${f.headerVolOffset / bs}`;
  const file = rebuiltFile(vol, plan, id);
  const inner = h.format === 'seSparse' ? await openSeSparseExtent(file, id) : await openCowdExtent(file, id);
  const layer = new DamagedDeltaLayer(inner, file, h, plan);
  const dmg = await damageReport(layer);
  const desc = pickDescriptor(descriptors, h, chosen.dirFd ?? 0, disks);
  const parent = guessParent(disks, h.capacityBytes, { ...(chosen.dirFd ? { dirFd: chosen.dirFd } : {}), ...(desc ? descriptorHints(desc, disks) : {}), vmsds });
  const evidence = [...f.evidence];
  if (desc) {
    evidence.push(descriptorEvidence(desc));
    parts.push({
      key: 'descriptor',
      weight: W.descriptor,
      effect: 'for',
      kind: desc.location === 'freed-fd' ? 'descriptor' : 'descriptor-text',
      text: `its own descriptor was recovered (${desc.location === 'freed-fd' ? `a freed descriptor file, FD ${desc.fd}` : 'descriptor text found in free space'}): a ${desc.createType} disk of the same capacity whose parent is on this volume`,
    });
  }
  evidence.push(...vmsdEvidence(vmsds, parent.path, disks));
  parts.push(parentPart(parent));
  const score = scoreOf(parts, dmg, h.grainBytes, lostReasons(dmg.lostRuns));
  return {
    id,
    format: h.format,
    capacityBytes: h.capacityBytes,
    sizeBytes: plan.fileSize,
    ...scoreFields(score),
    identityParts: parts,
    parent: parent.path,
    parentReasons: parent.reasons,
    parentAmbiguous: parent.ambiguous,
    parentAlternatives: parent.alternatives,
    evidence,
    recoverableGrains: dmg.recoverableGrains,
    guessedGrains: dmg.guessedGrains,
    lostGrains: dmg.lostGrains,
    grainBytes: h.grainBytes,
    lostRuns: dmg.lostRuns,
    guessedRuns: dmg.guessedRuns,
    headerVolOffset: f.headerVolOffset,
    method: plan.method,
    dirFd: chosen.dirFd ?? 0,
    ...(chosen.fdTimes ? { fdTimes: chosen.fdTimes } : {}),
    ...(desc ? { descriptor: desc } : {}),
    header: h,
    plan,
    layer,
  };
}

/**
 * Drops copies of one descriptor (same CID, parentCID, type, capacity, extent: e.g. an old copy in
 * a free sub-block of a descriptor whose freed FD also survives), keeping the first (freed FDs
 * come first): chain linking needs one remnant per CID.
 */
function dedupeDescriptors(ds: DescriptorRemnant[]): void {
  const seen = new Set<string>();
  let w = 0;
  for (const d of ds) {
    const k = [d.cid, d.parentCid, d.createType.toLowerCase(), d.capacityBytes, d.extentFile ?? ''].join('|');
    if (seen.has(k)) continue;
    seen.add(k);
    ds[w++] = d;
  }
  ds.length = w;
}

/** .vmsd evidence naming the guessed parent as a disk of the current snapshot. */
function vmsdEvidence(vmsds: readonly VmsdRemnant[], parentPath: string | null, disks: readonly LiveDisk[]): Evidence[] {
  const d = disks.find((x) => x.path === parentPath);
  if (!d) return [];
  return vmsds
    .filter((v) => v.currentDisks.some((f) => namesDisk(f, v.dir, d)))
    .slice(0, 4)
    .map((v) => ({
      kind: 'vmsd-text' as const,
      volOffset: v.volOffset,
      location: v.location,
      detail: `${v.location === 'live-file' ? `.vmsd ${v.path}` : `.vmsd text in ${remnantWhere(v)}`}: current snapshot uid ${v.currentUid}${v.currentName ? ` "${v.currentName}"` : ''} froze ${v.currentDisks.map((x) => `"${x}"`).join(', ')} (${v.snapshots} snapshot(s) listed)`,
    }));
}

/**
 * The descriptor of a delta with header `h` among the remnants: same capacity and createType
 * (and the freed FD's folder when known). Several: prefer one whose parentCID is a live disk's
 * CID of that capacity, then a freed FD's over carved text (it also says the folder).
 */
function pickDescriptor(descriptors: readonly DescriptorRemnant[], h: DeltaHeader, dirFd: number, disks: readonly LiveDisk[]): DescriptorRemnant | undefined {
  const re = h.format === 'seSparse' ? /sesparse/i : /vmfssparse/i;
  // A descriptor is only attributed when it links to something on the volume: a live disk of this
  // capacity by parentCID or parentFileNameHint, another recovered descriptor (a chain), or the freed
  // FD's own folder. Text of a disk that never existed (stale or random) matches capacity and type
  // alone, and would lend the candidate evidence it does not have.
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1).toLowerCase();
  const linked = (d: DescriptorRemnant) =>
    disks.some((x) => x.capacityBytes === h.capacityBytes && (x.cid === d.parentCid || (d.parentFileNameHint !== null && base(d.parentFileNameHint) === base(x.path)))) ||
    descriptors.some((o) => o !== d && o.cid === d.parentCid) ||
    (dirFd !== 0 && d.parentDir === dirFd);
  const fits = descriptors.filter((d) => d.capacityBytes === h.capacityBytes && re.test(d.createType) && (!dirFd || d.parentDir === 0 || d.parentDir === dirFd) && linked(d));
  const score = (d: DescriptorRemnant) => (disks.some((x) => x.capacityBytes === h.capacityBytes && x.cid === d.parentCid) ? 4 : 0) + (dirFd && d.parentDir === dirFd ? 2 : 0) + (d.location === 'freed-fd' ? 1 : 0);
  let best: DescriptorRemnant | undefined;
  for (const d of fits) if (!best || score(d) > score(best)) best = d;
  // Equally good descriptors of different disks (two VMs of one size): attributing either would
  // pick the parent silently, so none is attributed.
  if (best && fits.some((d) => d !== best && score(d) === score(best!) && (d.parentCid !== best!.parentCid || d.parentFileNameHint !== best!.parentFileNameHint))) return undefined;
  return best;
}

async function reprobe(vol: ByteSource, block: number, bs: number, rejected: Rejections): Promise<CarvedHeader | null> {
  const at = block * bs;
  if (at + HEADER_PROBE_BYTES > vol.size) return null;
  try {
    const header = probeHeaderRemnant(await vol.read(at, HEADER_PROBE_BYTES), vol.size);
    if (header && !('format' in header)) rejected.add(header.kind, at, header.reason);
    return header && 'format' in header ? { block, header } : null;
  } catch (e) {
    if (e instanceof RescueError && e.kind !== 'cancelled') return null;
    throw e;
  }
}

/**
 * Checks, before a whole scan, that `id` can name a candidate of `ds`: candidate ids are
 * `delta-<block>` where a delta header starts that block (the scan's identity of a candidate). A
 * malformed id, a block past the volume, or a block that holds no delta header is a UserError at
 * once; a block that does may still fail to become a candidate (pickCandidate says so after the scan).
 */
export async function precheckCandidateId(ds: Datastore, id: string): Promise<void> {
  const m = /^delta-(\d{1,15}(?:\.\d{1,15})?)$/.exec(id);
  if (!m) throw new UserError(`no candidate '${id}': candidate ids are delta-<block> (see scan --json)`);
  const block = Number(m[1]);
  if (!Number.isInteger(block)) return; // a header inside a block: left to the scan
  const fs = fsOf(ds);
  const bs = ds.info.blockSize;
  const at = block * bs;
  if (at + HEADER_PROBE_BYTES > fs.vol.size) throw new UserError(`no candidate '${id}': block ${block} is past the end of the volume`);
  if (!(await reprobe(fs.vol, block, bs, new Rejections()))) throw new UserError(`no candidate '${id}': no snapshot delta header starts block ${block} (see scan --json for the candidates)`);
}

/** The candidate with `id` from a scan, or a UserError listing the ids there are. */
export function pickCandidate(r: ScanResult, id: string): Candidate {
  const c = r.candidates.find((x) => x.id === id);
  if (!c) throw new UserError(`no candidate '${id}' (found: ${r.candidates.map((x) => x.id).join(', ') || 'none'})`);
  return c;
}
