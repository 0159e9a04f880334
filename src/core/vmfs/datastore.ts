import { CorruptError, RescueError, UnsupportedError, UserError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import type { FileResolver } from '../vmdk/types.js';
import { scanDump, noVmfs, type PartitionCandidate } from './device-scan.js';
import { HashedDir, readLinearDir, type RawDirEntry } from './directory.js';
import { ZLA_RESIDENT } from './address.js';
import { addressingOf, fileTypeOf, type FileDescriptor } from './fd.js';
import { forEachFd } from './fd-batch.js';
import { formatFdAddress, parsePathOrFd } from './fd-address.js';
import { VmfsFileSource } from './file-source.js';
import { SYSTEM_FD, VmfsFs } from './filesystem.js';
import { VMFSL_MAGIC } from './fs-descriptor.js';
import { assembleVolumes, describeDiskId, readLvmDevice, type LogicalVolume, type LvmDevice } from './lvm.js';
import { buildAllocationMap, computeUsage } from './allocation.js';
import { fileBlockLevels, type FileBlockLevels } from './file-blocks.js';
import { VolumeResolver } from './volume-resolver.js';
import type { AllocationMap, Datastore, DirEntry, FileStat, LvmDeviceInfo, PartitionInfo, PathOrFd, VolumeInfo, VolumeUsage } from './types.js';

export interface OpenDatastoreOptions {
  /** LV UUID (or FS UUID) to open when the dumps hold several volumes. */
  volumeUuid?: string;
}

interface VolumeChoice {
  vol: ByteSource;
  lv: LogicalVolume | null;
  partitions: PartitionInfo[];
  devices: LvmDevice[];
}

/**
 * Opens a datastore from one or several LUN/partition dumps (any order). Spanned volumes are
 * assembled by LV UUID; a missing extent becomes a hole (reported in info.holes; reads there
 * throw VolumeHoleError).
 */
export async function openDatastore(sources: readonly ByteSource[], opts: OpenDatastoreOptions = {}): Promise<Datastore> {
  if (sources.length === 0) throw new UserError('no datastore dump given');
  const warnings: string[] = [];
  const candidates: PartitionCandidate[] = [];
  for (let i = 0; i < sources.length; i++) {
    const s = await scanDump(sources[i]!, i);
    warnings.push(...s.warnings);
    if (s.candidates.length === 0) {
      if (sources.length === 1) throw noVmfs(sources[i]!);
      warnings.push(noVmfs(sources[i]!).message);
    }
    candidates.push(...s.candidates);
  }
  const devices: LvmDevice[] = [];
  const devParts = new Map<LvmDevice, PartitionInfo>();
  let firstError: unknown = null;
  for (const c of candidates.filter((x) => x.kind === 'lvm')) {
    try {
      const d = await readLvmDevice(c.source);
      d.dump = { name: sources[c.info.source]?.name ?? c.source.name, offset: c.info.offset };
      devices.push(d);
      devParts.set(d, c.info);
      warnings.push(...d.warnings);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
      firstError ??= e;
      warnings.push(e.message);
    }
  }
  const choices: VolumeChoice[] = [];
  for (const lv of assembleVolumes(devices)) {
    choices.push({ vol: lv.source, lv, devices: lv.devices, partitions: lv.devices.map((d) => devParts.get(d)!) });
  }
  for (const c of candidates.filter((x) => x.kind === 'volume')) choices.push({ vol: c.source, lv: null, devices: [], partitions: [c.info] });
  if (choices.length === 0) throw firstError ?? new CorruptError(`no VMFS volume found in ${sources.map((s) => s.name).join(', ')}`);

  // Prefer the requested volume, then complete volumes, then larger ones.
  const wanted = opts.volumeUuid?.toLowerCase();
  let ordered = choices.slice().sort((a, b) => (a.lv?.holes.length ?? 0) - (b.lv?.holes.length ?? 0) || b.vol.size - a.vol.size);
  if (wanted) ordered = ordered.filter((c) => c.lv?.lvUuid === wanted || c.lv === null);
  let opened: { fs: VmfsFs; choice: VolumeChoice } | null = null;
  let fallback: { fs: VmfsFs; choice: VolumeChoice } | null = null;
  for (const choice of ordered) {
    try {
      const fs = await VmfsFs.open(choice.vol);
      if (wanted && choice.lv === null && fs.d.uuid !== wanted) continue;
      // A VMFS-L (OSDATA) volume is only chosen when no regular datastore opens.
      if (fs.d.magic === VMFSL_MAGIC) {
        fallback ??= { fs, choice };
        continue;
      }
      opened = { fs, choice };
      break;
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
      firstError ??= e;
      warnings.push(`${choice.vol.name}: ${e.message}`);
    }
  }
  opened ??= fallback;
  if (!opened) throw firstError ?? new CorruptError('no openable VMFS volume');
  if (choices.length > 1) {
    const others = choices.filter((c) => c !== opened!.choice).map((c) => c.lv?.lvUuid ?? c.vol.name);
    warnings.push(`the dumps hold ${choices.length} volumes; opened ${opened.choice.lv?.lvUuid ?? opened.choice.vol.name} (others: ${others.join(', ')})`);
  }
  return new VmfsDatastore(opened.fs, opened.choice, warnings);
}

/**
 * Opens one logical volume given directly (deep search: a volume rebuilt from its landmarks, no
 * partition table or LVM behind it).
 */
export async function openVolumeAt(vol: ByteSource, partitions: PartitionInfo[], warnings: string[]): Promise<Datastore> {
  const fs = await VmfsFs.open(vol);
  return new VmfsDatastore(fs, { vol, lv: null, devices: [], partitions }, warnings);
}

const DIR_CACHE = 64;

/**
 * The mounted file system behind a Datastore (raw FD, pointer-block and bitmap access for recovery):
 * every datastore opened here has one, and so does a deep-search volume, which wraps one of them.
 */
export function fsOf(ds: Datastore): VmfsFs {
  const fs = (ds as { readonly fs?: unknown }).fs;
  if (!(fs instanceof VmfsFs)) throw new TypeError('fsOf: not a datastore opened from a VMFS volume');
  return fs;
}

class VmfsDatastore implements Datastore {
  readonly info: VolumeInfo;
  readonly volume: ByteSource;
  private readonly levels: FileBlockLevels;
  private readonly dirCache = new Map<number, Promise<RawDirEntry[]>>();

  constructor(
    readonly fs: VmfsFs,
    choice: VolumeChoice,
    warnings: string[],
  ) {
    const d = fs.d;
    this.volume = fs.vol;
    const lv = choice.lv;
    const devices: LvmDeviceInfo[] = choice.devices.map((dev, k) => {
      const part = choice.partitions[k]!;
      const desc = lv!.descs[k]!;
      return {
        source: part.source,
        sourceName: part.sourceName,
        partitionOffset: part.offset,
        lvmMajor: dev.major,
        lvmMinor: dev.minor,
        deviceUuid: dev.deviceUuid,
        deviceSize: dev.totalBytes,
        dataOffset: dev.dataOffset,
        numPEs: dev.numPEs,
        firstPE: desc.firstPE,
        lastPE: desc.lastPE,
        volumeUuid: desc.lvUuid,
        snapId: desc.snapId,
        numDevs: desc.numDevs,
      };
    });
    this.levels = fileBlockLevels(fs);
    const totalBlocks = this.levels.totalBlocks;
    this.info = {
      version: d.version,
      fsMajor: d.majorVersion,
      fsMinor: d.minorVersion,
      versionText: `VMFS-${d.version}.${d.minorVersion}`,
      label: d.label,
      uuid: d.uuid,
      lvmUuid: lv?.lvUuid ?? d.lvUuid,
      creationTime: d.creationTime,
      blockSize: d.fileBlockSize,
      subBlockSize: d.subBlockSize,
      mdAlignment: d.mdAlignment,
      configFlags: d.config,
      volumeSize: fs.vol.size,
      capacity: totalBlocks * d.fileBlockSize,
      totalBlocks,
      partitions: choice.partitions,
      devices,
      holes: lv?.holes ?? [],
      warnings: [...warnings, ...(lv?.warnings ?? []), ...fs.warnings, ...this.levels.warnings],
    };
  }

  // ---- paths ----

  async lookup(p: PathOrFd): Promise<number> {
    const r = parsePathOrFd(p);
    if ('fd' in r) {
      await this.fs.fd(r.fd).catch((e: unknown) => {
        throw e instanceof CorruptError ? new UserError(`no valid file descriptor at ${formatFdAddress(r.fd)}: ${e.message}`) : e;
      });
      return r.fd;
    }
    let cur: number = SYSTEM_FD.root;
    const parts = r.path.split('/').filter(Boolean);
    for (let k = 0; k < parts.length; k++) {
      const dir = await this.fs.fd(cur);
      if (dir.type !== 'directory') throw new UserError(`not a directory: /${parts.slice(0, k).join('/')}`);
      const e = await this.findEntry(dir, parts[k]!);
      if (!e) throw new UserError(`no such file or directory: /${parts.slice(0, k + 1).join('/')}`);
      cur = e.fdAddress;
    }
    return cur;
  }

  private async findEntry(dir: FileDescriptor, name: string): Promise<RawDirEntry | null> {
    if (this.fs.L.v6) {
      const hd = await HashedDir.open(this.fs.fileSource(dir, `dir ${formatFdAddress(dir.address)}`), this.fs.d.mdAlignment);
      const hit = await hd.lookup(name, dir.address === SYSTEM_FD.root).catch(() => null);
      if (hit) return hit;
    }
    // VMFS3/5 directories are linear; on VMFS6 a full listing backs up a missed hash lookup.
    return (await this.rawEntries(dir)).find((e) => e.name === name) ?? null;
  }

  private rawEntries(dir: FileDescriptor): Promise<RawDirEntry[]> {
    let p = this.dirCache.get(dir.address);
    if (p) return p;
    p = (async () => {
      const src = this.fs.fileSource(dir, `dir ${formatFdAddress(dir.address)}`);
      if (this.fs.L.v6) return (await HashedDir.open(src, this.fs.d.mdAlignment)).list();
      return readLinearDir(src);
    })();
    p.catch(() => this.dirCache.delete(dir.address));
    if (this.dirCache.size >= DIR_CACHE) this.dirCache.delete(this.dirCache.keys().next().value as number);
    this.dirCache.set(dir.address, p);
    return p;
  }

  async stat(p: PathOrFd): Promise<FileStat> {
    const fd = await this.fs.fd(await this.lookup(p));
    return this.toStat(fd);
  }

  private async toStat(fd: FileDescriptor): Promise<FileStat> {
    const st: FileStat = {
      fdAddress: fd.address,
      fdAddressText: formatFdAddress(fd.address),
      fdVolOffset: fd.volOffset,
      type: fd.type,
      typeCode: fd.typeCode,
      size: fd.length,
      blockSize: fd.blockSize,
      numBlocks: fd.numBlocks,
      zla: fd.zla,
      addressing: addressingOf(fd.zla),
      generation: fd.generation,
      linkCount: fd.linkCount,
      mode: fd.mode,
      uid: fd.uid,
      gid: fd.gid,
      mtime: fd.mtime,
      ctime: fd.ctime,
      atime: fd.atime,
      tbzBlocks: fd.tbzBlocks,
      allocatedBytes: allocatedBytes(fd),
    };
    if (fd.type === 'symlink') st.symlinkTarget = await this.readTarget(fd);
    if (fd.type === 'rdm') st.rdm = describeDiskId(fd.raw.subarray(this.fs.L.fdDataOffset, this.fs.L.fdDataOffset + 78));
    return st;
  }

  async readdir(p: PathOrFd): Promise<DirEntry[]> {
    const addr = await this.lookup(p);
    const dir = await this.fs.fd(addr);
    if (dir.type !== 'directory') throw new UserError(`not a directory: ${typeof p === 'string' ? p : formatFdAddress(addr)}`);
    const raw = await this.rawEntries(dir);
    const out: DirEntry[] = raw.map((e) => ({
      name: e.name,
      type: fileTypeOf(e.typeCode, 0),
      fdAddress: e.fdAddress,
      fdAddressText: formatFdAddress(e.fdAddress),
      generation: e.generation,
      size: 0,
      allocatedBytes: 0,
      mtime: 0,
      ctime: 0,
      mode: 0,
      uid: 0,
      gid: 0,
    }));
    // Each FD is read once, into a shared buffer: only its fields are kept.
    await forEachFd(this.fs, raw.map((e) => e.fdAddress), (k, fd) => {
      const base = out[k]!;
      if (fd instanceof RescueError) base.error = fd.message;
      else {
        base.type = fd.type;
        base.size = fd.length;
        base.allocatedBytes = allocatedBytes(fd);
        base.mtime = fd.mtime;
        base.ctime = fd.ctime;
        base.mode = fd.mode;
        base.uid = fd.uid;
        base.gid = fd.gid;
      }
    });
    return out;
  }

  async openFile(p: PathOrFd): Promise<ByteSource> {
    const addr = await this.lookup(p);
    const fd = await this.fs.fd(addr);
    const name = typeof p === 'string' ? p : formatFdAddress(addr);
    if (fd.type === 'rdm') throw new UnsupportedError(`${name} is a raw device mapping: its data is on another LUN, not in this dump`);
    return new VmfsFileSource(this.fs, fd, name);
  }

  async readlink(p: PathOrFd): Promise<string> {
    const fd = await this.fs.fd(await this.lookup(p));
    if (fd.type !== 'symlink') throw new UserError(`not a symbolic link: ${String(p)}`);
    return this.readTarget(fd);
  }

  private async readTarget(fd: FileDescriptor): Promise<string> {
    if (fd.length > 4096) throw new CorruptError(`symlink ${formatFdAddress(fd.address)} target of ${fd.length} bytes`);
    const b = await new VmfsFileSource(this.fs, fd, formatFdAddress(fd.address)).read(0, fd.length);
    return new TextDecoder().decode(b).replace(/\0+$/, '');
  }

  usage(): Promise<VolumeUsage> {
    return computeUsage(this.fs, this.levels);
  }

  allocationMap(): Promise<AllocationMap> {
    return buildAllocationMap(this.fs, this.info.totalBlocks, (p) => this.readdir(p), this.levels);
  }

  resolver(): FileResolver {
    return new VolumeResolver(this);
  }
}

/** Bytes a file holds on the volume, from its FD: resident data is inside the FD (0 blocks). */
export function allocatedBytes(fd: FileDescriptor): number {
  if (fd.zla === ZLA_RESIDENT) return 0;
  const v = fd.numBlocks * fd.blockSize;
  return Number.isSafeInteger(v) ? v : Number.MAX_SAFE_INTEGER;
}
