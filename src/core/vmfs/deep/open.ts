import { CorruptError, RescueError, UnsupportedError, UserError } from '../../errors.js';
import { checkRange, SliceSource, type ByteSource } from '../../io/byte-source.js';
import { putU16, putU32, putU64 } from '../../util/struct.js';
import { fsOf, openDatastore, openVolumeAt } from '../datastore.js';
import { formatFdAddress, parsePathOrFd } from '../fd-address.js';
import { FS_DESCRIPTOR, FS_DESCRIPTOR_OFFSET, VMFS_MAGIC } from '../fs-descriptor.js';
import { SYSTEM_FD } from '../filesystem.js';
import { walkLiveTree } from '../live-items.js';
import type { AllocationMap, Datastore, DirEntry, FileStat, PathOrFd, VolumeInfo, VolumeUsage } from '../types.js';
import type { FileResolver } from '../../vmdk/types.js';
import { VolumeResolver } from '../volume-resolver.js';
import { currentFootprint, overwrittenRanges, Ranges } from './footprint.js';
import { joinTailExtents, type SpannedVolume } from './spanned.js';
import { DEFAULT_ZONE, deepScan, type DeepScanOptions, type DeepScanResult, type OriginEvidence } from './scan.js';
import { descriptorOf, userFds, volumesOf, type CurrentVolume, type DeepVolume, type VolumeGeometry } from './volumes.js';

/** A deep-search listing entry: the usual entry plus the bytes of it the current volume now uses. */
export type DeepDirEntry = DirEntry & { overwrittenBytes: number };

export interface DeepFindResult {
  /** The datastore the partition table and LVM describe, when one opens (closed over the same sources). */
  current: Datastore | null;
  currentError?: string;
  volumes: DeepVolume[];
  scan: DeepScanResult;
  /** Internal: landmarks per volume, and the current volume's footprint. */
  evidence: Map<DeepVolume, OriginEvidence>;
  written: Ranges | null;
  /** FD addresses the current volume's tree reaches. */
  currentReachable: ReadonlySet<number> | null;
}

/** Dump offset of the current datastore's address 0 (first extent), and which dump holds it. */
function currentOrigin(ds: Datastore): { source: number; origin: number } | null {
  const p = ds.info.partitions[0];
  if (!p) return null;
  const dev = ds.info.devices[0];
  return { source: p.source, origin: p.offset + (dev ? dev.dataOffset : 0) };
}

/**
 * Deep volume search over the dumps: the current datastore (if one opens), the landmark scan,
 * and every volume rebuilt from it, current and previous.
 */
export async function findDeepVolumes(
  sources: readonly ByteSource[],
  opts: DeepScanOptions & { wanted?: string; onZoneVolumes?: (v: DeepVolume[]) => void } = {},
): Promise<DeepFindResult> {
  let current: Datastore | null = null;
  let currentError: string | undefined;
  try {
    current = await openDatastore(sources);
  } catch (e) {
    if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
    currentError = e.message;
  }
  let cur: CurrentVolume | null = null;
  let written: Ranges | null = null;
  let currentReachable: Set<number> | null = null;
  const at = current ? currentOrigin(current) : null;
  if (current && at) {
    const fp = await currentFootprint(current, at.origin);
    written = fp.written;
    currentReachable = fp.reachable;
    cur = {
      uuid: current.info.uuid,
      lvmUuid: current.info.lvmUuid,
      label: current.info.label,
      source: at.source,
      origin: at.origin,
      sizeBytes: current.info.volumeSize,
      reachable: fp.reachable,
    };
  }
  const wanted = opts.wanted;
  const zone = opts.resume?.metadataZone ?? opts.metadataZone ?? DEFAULT_ZONE;
  const scan = await deepScan(sources, {
    ...opts,
    // First results: the volumes of the metadata zone, before the full pass (their sizes and
    // spans are settled after it).
    onZoneDone: (z) => {
      opts.onZoneDone?.(z);
      opts.onZoneVolumes?.(volumesOf(z, cur).volumes);
    },
    // One volume wanted (--volume): once the metadata zone holds it, with at least half a zone of
    // it inside the zone (VMFS keeps its metadata in a volume's first GiBs), the rest is data.
    ...(wanted !== undefined ? {
      stopAfterZone: (z: DeepScanResult) => volumesOf(z, cur).volumes.some((v) => idMatches(v, wanted) && v.originBytes + zone / 2 <= Math.min(zone, sources[v.source]!.size)),
    } : {}),
  });
  const { volumes, evidence } = volumesOf(scan, cur);
  if (current && at && !volumes.some((v) => v.state === 'current')) {
    // A current volume always shows, even if the scan saw too little of it.
    volumes.unshift({
      uuid: current.info.uuid, uuidFromMetadata: true, label: current.info.label, version: current.info.version, blockSize: current.info.blockSize,
      source: at.source, sourceName: sources[at.source]!.name, originBytes: at.origin, sizeBytes: current.info.volumeSize, state: 'current',
      lvmUuid: current.info.lvmUuid,
      geometry: {
        version: current.info.version, fsMajor: current.info.fsMajor, blockSize: current.info.blockSize, subBlockSize: current.info.subBlockSize,
        mdAlignment: current.info.mdAlignment, fdSize: fsOf(current).L.fdSize, fdcGroupOffset: fsOf(current).d.fdcClusterGroupOffset,
        fdcClustersPerGroup: fsOf(current).d.fdcClustersPerGroup, from: { all: 'descriptor' },
      },
      evidence: { fds: 0, clusterHeaders: {}, fsDescriptor: true, lvmHeader: current.info.devices.length > 0, directories: 0 },
      map: [],
    });
  }
  // A previous volume's tail extents on other dumps (spanned), then its size: its .fbb.sf counts
  // blocks (when its system files still open).
  for (const v of volumes) {
    if (v.state !== 'previous') continue;
    const span = await spanOf(sources, v, volumes, scan);
    if (span) {
      v.extents = span.extents;
      v.sizeBytes = span.sizeBytes;
    }
    try {
      const inner = await openInner(sources, v, current, undefined, span);
      const cap = inner.info.capacity;
      // (A spanned volume's size is its LVM's: the bitmaps at its head may be a newer volume's.)
      if (cap > 0 && !span) v.sizeBytes = Math.min(v.sizeBytes, cap);
      if (!v.label && v.uuidFromMetadata) v.label = inner.info.label;
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  }
  return { current, currentError, volumes, scan, evidence, written, currentReachable };
}

/** '5f00001e-…' as VMware prints it, compared case-insensitively. */
export function sameUuid(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

const idMatches = (v: DeepVolume, id: string) => sameUuid(v.uuid, id) || (v.lvmUuid !== undefined && sameUuid(v.lvmUuid, id));

export function pickVolume(volumes: readonly DeepVolume[], id: string): DeepVolume {
  const hits = volumes.filter((v) => idMatches(v, id));
  // A UUID shared by the current volume and a previous one at another place: the current one.
  const v = hits.find((x) => x.state === 'current') ?? hits[0];
  if (!v) throw new UserError(`no volume ${id} on these dumps (deep search found: ${volumes.map((x) => `${x.uuid} (${x.state})`).join(', ') || 'none'})`);
  return v;
}

/** The 512-byte FS descriptor a rebuilt geometry implies (the reader needs one to mount). */
export function synthDescriptor(g: VolumeGeometry, label: string): Uint8Array {
  const b = new Uint8Array(FS_DESCRIPTOR.size);
  const f = FS_DESCRIPTOR.fields;
  putU32(b, f.magic[0], VMFS_MAGIC);
  putU32(b, f.majorVersion[0], g.fsMajor);
  b.set(new TextEncoder().encode(label).subarray(0, 127), f.label[0]);
  putU32(b, f.diskBlockSize[0], 512);
  putU64(b, f.fileBlockSize[0], g.blockSize);
  putU32(b, f.fdcClusterGroupOffset[0], g.fdcGroupOffset);
  putU32(b, f.fdcClustersPerGroup[0], g.fdcClustersPerGroup);
  putU32(b, f.subBlockSize[0], g.subBlockSize);
  putU32(b, f.mdAlignment[0], g.mdAlignment);
  if (g.version === 6) putU16(b, f.sfbToLfbShift[0], 9);
  return b;
}

/** A volume window of a dump with a rebuilt FS descriptor laid over its descriptor sector. */
class RebuiltVolumeSource implements ByteSource {
  constructor(
    private readonly base: ByteSource,
    private readonly desc: Uint8Array,
    readonly name: string,
  ) {}
  get size(): number {
    return this.base.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const b = await this.base.read(offset, length);
    const s = Math.max(offset, FS_DESCRIPTOR_OFFSET);
    const e = Math.min(offset + length, FS_DESCRIPTOR_OFFSET + this.desc.length);
    if (s >= e) return b;
    const out = b.slice();
    out.set(this.desc.subarray(s - FS_DESCRIPTOR_OFFSET, e - FS_DESCRIPTOR_OFFSET), s - offset);
    return out;
  }
}

/**
 * The tail extents of a previous volume on the other dumps, when its LVM header is gone but
 * theirs survive: by its LV UUID when it has one, else the tails no found volume heads.
 */
function spanOf(sources: readonly ByteSource[], v: DeepVolume, volumes: readonly DeepVolume[], scan: DeepScanResult): Promise<SpannedVolume | null> {
  if (sources.length < 2 || v.state !== 'previous') return Promise.resolve(null);
  const heads = new Set(volumes.map((x) => `${x.source}:${x.originBytes}`));
  const taken = new Set(volumes.filter((x) => x !== v && x.lvmUuid).map((x) => x.lvmUuid!.toLowerCase()));
  return joinTailExtents(sources, v.source, v.originBytes, v.lvmUuid, scan.lvm, (l) => !heads.has(`${l.source}:${l.partition + l.dataOffset}`) && !taken.has(l.lvUuid.toLowerCase()));
}

async function openInner(sources: readonly ByteSource[], v: DeepVolume, current: Datastore | null, evidence?: OriginEvidence, span?: SpannedVolume | null): Promise<Datastore> {
  const dump = sources[v.source]!;
  if (v.originBytes >= dump.size) throw new CorruptError(`${dump.name}: volume origin 0x${v.originBytes.toString(16)} past the dump end`);
  const size = span ? span.sizeBytes : dump.size - v.originBytes;
  const slice = span ? span.source : new SliceSource(dump, v.originBytes, size, `${dump.name}@0x${v.originBytes.toString(16)}`);
  // The descriptor on disk is used only when it is this volume's own (not a newer volume's at the same place).
  const own = v.uuidFromMetadata && (!current || !sameUuid(current.info.uuid, v.uuid) || v.state === 'current') && (!evidence || descriptorOf(evidence) !== null);
  const vol = own ? slice : new RebuiltVolumeSource(slice, synthDescriptor(v.geometry, v.label), slice.name);
  const part = { source: v.source, sourceName: dump.name, scheme: 'bare' as const, index: 0, offset: v.originBytes, length: size, type: 'deep', warnings: [] };
  try {
    return await openVolumeAt(vol, [part], [...(span?.warnings ?? []), ...(own ? [] : [`FS descriptor rebuilt from landmarks (${Object.entries(v.geometry.from).map(([k, x]) => `${k}: ${x}`).join('; ')})`])]);
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
    throw new UnsupportedError(`volume ${v.uuid} at 0x${v.originBytes.toString(16)}: its system files do not open (${e.message}); reading a volume without them is not supported yet`);
  }
}

/**
 * Opens a volume found by the deep search by its UUID (or the tool's id) as a Datastore: the
 * normal reader over its rebuilt geometry, a /lost+found folder for what no directory reaches,
 * and overwrittenBytes on every entry.
 */
export async function openDeepVolume(sources: readonly ByteSource[], id: string, opts: DeepScanOptions & { found?: DeepFindResult } = {}): Promise<DeepDatastore> {
  const found = opts.found ?? (await findDeepVolumes(sources, { ...opts, wanted: id }));
  const v = pickVolume(found.volumes, id);
  if (v.state === 'current' && found.current) return new DeepDatastore(found.current, v, true, [], null);
  const e = found.evidence.get(v);
  const inner = await openInner(sources, v, found.current, e, await spanOf(sources, v, found.volumes, found.scan));
  const sharesOrigin = found.current !== null && found.volumes.some((x) => x.state === 'current' && x.source === v.source && x.originBytes === v.originBytes);
  // Another geometry at the same origin: its FD addresses are its own (the current tree's say
  // nothing of them), and its root directory is its own where the new format left it.
  const foreign = v.evidence.foreignFds !== undefined;
  const currentReach: ReadonlySet<number> = (sharesOrigin && !foreign && found.currentReachable) || new Set<number>();
  const candidates = e ? userFds(e, v.geometry.fdSize).map((f) => f.address).filter((a) => !currentReach.has(a)) : [];
  return new DeepDatastore(inner, v, !sharesOrigin || (foreign && (await rootIsDirectory(inner))), [...new Set(candidates)], found.written);
}

async function rootIsDirectory(ds: Datastore): Promise<boolean> {
  try {
    return (await fsOf(ds).fd(SYSTEM_FD.root)).type === 'directory';
  } catch (e) {
    if (e instanceof RescueError) return false;
    throw e;
  }
}

const LOST = 'lost+found';

type Target = { kind: 'root' } | { kind: 'lost' } | { kind: 'fd'; fd: number };

/** A volume found by the deep search, browsable like a datastore. */
export class DeepDatastore implements Datastore {
  readonly info: VolumeInfo;
  private lostTops: Promise<number[]> | null = null;

  constructor(
    readonly inner: Datastore,
    readonly volume_: DeepVolume,
    /** The root FD at this origin is this volume's own (no newer volume took it). */
    private readonly ownsRoot: boolean,
    /** FDs of live files at this origin that the current volume does not reach. */
    private readonly candidates: number[],
    /** Dump bytes a newer volume wrote. */
    private readonly written: Ranges | null,
  ) {
    this.info = { ...inner.info, uuid: volume_.uuid, label: volume_.label || inner.info.label };
  }

  get fs() {
    return fsOf(this.inner);
  }
  get volume(): ByteSource {
    return this.inner.volume;
  }

  /** FDs no directory of this volume reaches: the tops of /lost+found. */
  private tops(): Promise<number[]> {
    this.lostTops ??= (async () => {
      if (this.candidates.length === 0) return [];
      const reached = new Set<number>();
      if (this.ownsRoot) await walkLiveTree(fsOf(this.inner), (a) => this.inner.readdir(a), (fd) => void reached.add(fd.address));
      const lost = this.candidates.filter((a) => !reached.has(a));
      // Entries of lost folders are reached through them.
      const child = new Set<number>();
      for (const a of lost) {
        try {
          const fd = await fsOf(this.inner).fd(a);
          if (fd.type !== 'directory') continue;
          for (const e of await this.inner.readdir(a)) if (e.name !== '.' && e.name !== '..' && e.fdAddress !== a) child.add(e.fdAddress);
        } catch (e) {
          if (!(e instanceof RescueError)) throw e;
        }
      }
      const out: number[] = [];
      for (const a of lost) {
        if (child.has(a)) continue;
        try {
          await fsOf(this.inner).fd(a);
          out.push(a);
        } catch (e) {
          if (!(e instanceof RescueError)) throw e;
        }
      }
      return out.sort((x, y) => x - y);
    })();
    return this.lostTops;
  }

  private async target(p: PathOrFd): Promise<Target> {
    const r = parsePathOrFd(p);
    if ('fd' in r) return { kind: 'fd', fd: r.fd };
    const parts = r.path.split('/').filter(Boolean);
    if (parts.length === 0) return this.ownsRoot ? { kind: 'fd', fd: SYSTEM_FD.root } : { kind: 'root' };
    let cur: number;
    let k: number;
    if (parts[0] === LOST) {
      if (parts.length === 1) return { kind: 'lost' };
      const a = lostName(parts[1]!);
      if (a === null || !(await this.tops()).includes(a)) throw new UserError(`no such file or directory: /${parts.slice(0, 2).join('/')}`);
      cur = a;
      k = 2;
    } else {
      if (!this.ownsRoot) throw new UserError(`no such file or directory: /${parts[0]} (this volume's root directory was overwritten; see /${LOST})`);
      cur = SYSTEM_FD.root;
      k = 0;
    }
    for (; k < parts.length; k++) {
      const fd = await fsOf(this.inner).fd(cur);
      if (fd.type !== 'directory') throw new UserError(`not a directory: /${parts.slice(0, k).join('/')}`);
      const e = (await this.inner.readdir(cur)).find((x) => x.name === parts[k] && x.name !== '.' && x.name !== '..');
      if (!e) throw new UserError(`no such file or directory: /${parts.slice(0, k + 1).join('/')}`);
      cur = e.fdAddress;
    }
    return { kind: 'fd', fd: cur };
  }

  async lookup(p: PathOrFd): Promise<number> {
    const t = await this.target(p);
    if (t.kind !== 'fd') throw new UserError(`${String(p)} is a folder made by the deep search; it has no FD`);
    return this.inner.lookup(t.fd);
  }

  async stat(p: PathOrFd): Promise<FileStat> {
    const t = await this.target(p);
    if (t.kind === 'fd') return this.inner.stat(t.fd);
    return synthDirStat();
  }

  /** Bytes of a file a newer volume now uses, as file ranges. */
  async overwritten(p: PathOrFd): Promise<{ offset: number; length: number }[]> {
    const t = await this.target(p);
    if (t.kind !== 'fd' || !this.written) return [];
    const fd = await fsOf(this.inner).fd(t.fd);
    return overwrittenRanges(fsOf(this.inner), fd, this.volume_.originBytes, this.written);
  }

  private async withOverwritten(e: DirEntry): Promise<DeepDirEntry> {
    let n = 0;
    if (this.written && !e.error && e.type !== 'directory' && e.name !== '.' && e.name !== '..') {
      try {
        for (const r of await this.overwritten(e.fdAddress)) n += r.length;
      } catch (err) {
        if (!(err instanceof RescueError)) throw err;
      }
    }
    return { ...e, overwrittenBytes: n };
  }

  async readdir(p: PathOrFd): Promise<DeepDirEntry[]> {
    const t = await this.target(p);
    let entries: DirEntry[];
    if (t.kind === 'root') entries = [synthEntry('.'), synthEntry('..')];
    else if (t.kind === 'lost') {
      entries = [synthEntry('.'), synthEntry('..')];
      for (const a of await this.tops()) {
        const st = await this.inner.stat(a);
        entries.push({
          name: lostEntryName(a), type: st.type, fdAddress: a, fdAddressText: formatFdAddress(a), generation: st.generation, size: st.size,
          allocatedBytes: st.allocatedBytes, mtime: st.mtime, ctime: st.ctime, mode: st.mode, uid: st.uid, gid: st.gid,
        });
      }
    } else entries = await this.inner.readdir(t.fd);
    const atRoot = t.kind === 'root' || (t.kind === 'fd' && t.fd === SYSTEM_FD.root && this.ownsRoot);
    if (atRoot && (await this.tops()).length > 0) entries.push(synthEntry(LOST));
    const out: DeepDirEntry[] = [];
    for (const e of entries) out.push(await this.withOverwritten(e));
    return out;
  }

  async openFile(p: PathOrFd): Promise<ByteSource> {
    const t = await this.target(p);
    if (t.kind !== 'fd') throw new UserError(`not a file: ${String(p)}`);
    return this.inner.openFile(t.fd);
  }

  async readlink(p: PathOrFd): Promise<string> {
    const t = await this.target(p);
    if (t.kind !== 'fd') throw new UserError(`not a symbolic link: ${String(p)}`);
    return this.inner.readlink(t.fd);
  }

  usage(): Promise<VolumeUsage> {
    return this.inner.usage();
  }

  allocationMap(): Promise<AllocationMap> {
    return this.inner.allocationMap();
  }

  /** Volume blocks of this volume that a newer volume wrote (for the allocation map). */
  overwrittenBlocks(): { start: number; count: number }[] {
    if (!this.written) return [];
    const bs = this.info.blockSize;
    const o = this.volume_.originBytes;
    const out: { start: number; count: number }[] = [];
    for (const [s, e] of this.written.covered(o, o + this.inner.volume.size)) {
      const a = Math.floor((s - o) / bs);
      const b = Math.ceil((e - o) / bs);
      const last = out[out.length - 1];
      if (last && last.start + last.count >= a) last.count = Math.max(last.count, b - last.start);
      else out.push({ start: a, count: b - a });
    }
    return out;
  }

  resolver(): FileResolver {
    return new VolumeResolver(this);
  }
}

/** Name of a /lost+found entry: the FD address, as ls prints it without brackets. */
export function lostEntryName(a: number): string {
  return `0x${(a >>> 0).toString(16).padStart(8, '0')}`;
}
function lostName(s: string): number | null {
  const m = /^<?(0x[0-9a-fA-F]{1,8})>?$/.exec(s);
  if (!m) return null;
  const a = Number(m[1]);
  return (a & 7) === 4 ? a >>> 0 : null;
}

function synthEntry(name: string): DirEntry {
  return { name, type: 'directory', fdAddress: 0, fdAddressText: formatFdAddress(0), generation: 0, size: 0, allocatedBytes: 0, mtime: 0, ctime: 0, mode: 0o40755, uid: 0, gid: 0 };
}

function synthDirStat(): FileStat {
  return {
    fdAddress: 0, fdAddressText: formatFdAddress(0), fdVolOffset: 0, type: 'directory', typeCode: 2, size: 0, blockSize: 0, numBlocks: 0, zla: 0,
    addressing: 'direct', generation: 0, linkCount: 1, mode: 0o40755, uid: 0, gid: 0, mtime: 0, ctime: 0, atime: 0, tbzBlocks: 0, allocatedBytes: 0,
  };
}
