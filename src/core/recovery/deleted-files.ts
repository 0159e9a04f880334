import { RescueError, throwIfAborted } from '../errors.js';
import type { JobOptions } from '../progress.js';
import { u32 } from '../util/struct.js';
import { encodeFd, FD_META, formatFdAddress, fsOf, parseFd, readLinearDir, type Datastore, type FileDescriptor, type FileType } from '../vmfs/index.js';

/** A file the volume no longer lists: its FD is freed (deleted) or allocated but in no directory (orphan). */
export interface DeletedFile {
  /** From a directory remnant (a freed directory's entries still naming this FD), else null. */
  name: string | null;
  /** Live folder the FD says it was in (FD metadata 0x70), else null. */
  dir: string | null;
  type: FileType;
  size: number;
  fdAddress: number;
  fdAddressText: string;
  generation: number;
  mtime: number;
  state: 'deleted' | 'orphan';
}

const FD_LOCK_MAGIC = 0x10c00001;
/** Items of .fdc.sf visited at most, and live entries walked: far above a real volume, bounds a corrupt one. */
const MAX_ITEMS = 4 * 1024 * 1024;
const MAX_LIVE = 1 << 20;
const MAX_DEPTH = 16;

/**
 * Freed FDs that still parse as an FD at their own address, and allocated FDs that no live
 * directory reaches. Names come from directory remnants: entries of freed directory FDs (a
 * deleted folder keeps its entry array) that name the FD with its generation. VMFS3/5 only (the
 * VMFS6 FDC bitmap is not decoded, so no FD is known to be free there): returns a warning instead.
 */
export async function listDeletedFiles(ds: Datastore, opts: JobOptions = {}): Promise<{ files: DeletedFile[]; warnings: string[] }> {
  const fs = fsOf(ds);
  const warnings: string[] = [];
  const files: DeletedFile[] = [];
  const fdc = fs.fdc;
  if (!fdc || fs.L.v6) return { files, warnings: ['deleted files: the FD allocation bitmap of this volume version is not decoded; nothing listed'] };

  // Live tree: every FD a directory reaches, and the path of each live directory by its FD.
  const reachable = new Set<number>();
  const dirPath = new Map<number, string>();
  let seen = 0;
  const walk = async (p: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || seen > MAX_LIVE) return;
    let entries;
    try {
      entries = await ds.readdir(p);
    } catch (e) {
      if (e instanceof RescueError) return void warnings.push(`cannot list ${p}: ${e.message}`);
      throw e;
    }
    for (const e of entries) {
      seen++;
      reachable.add(e.fdAddress);
      if (e.name === '.') dirPath.set(e.fdAddress, p);
      if (e.name === '.' || e.name === '..' || e.type !== 'directory') continue;
      if (!dirPath.has(e.fdAddress)) await walk((p === '/' ? '' : p) + '/' + e.name, depth + 1);
    }
  };
  reachable.add((await ds.stat('/')).fdAddress);
  await walk('/', 0);

  const L = fs.L;
  const R = fdc.h.R;
  const items = Math.min(fdc.h.numResources, fdc.totalClusters * R, MAX_ITEMS);
  const found: { fd: FileDescriptor; state: DeletedFile['state']; parentDir: number }[] = [];
  for (let i = 0; i < items; i++) {
    if ((i & 255) === 0) throwIfAborted(opts.signal);
    const c = Math.floor(i / R);
    const r = i % R;
    try {
      const allocated = await fdc.isAllocated(c, r);
      if (allocated === null) continue;
      const address = encodeFd(c, r);
      if (allocated && reachable.has(address)) continue;
      const ext = await fs.mapOffset(fdc.content.fd, fdc.itemOffset(c, r));
      if (ext.kind !== 'vol' || ext.length < L.fdSize) continue;
      const raw = await fs.meta.read(ext.volOffset, L.fdSize);
      if (u32(raw, 0) !== FD_LOCK_MAGIC) continue;
      const fd = parseFd(raw.slice(), address, ext.volOffset, L, fs.d.majorVersion, fs.name);
      if (fd.typeCode < 2 || fd.typeCode > 6) continue;
      found.push({ fd, state: allocated ? 'orphan' : 'deleted', parentDir: FD_META.parse(fd.raw, L.fdMetaOffset).parentFd });
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      // Garbage in a free slot is not a file.
    }
  }

  // Directory remnants: freed directories' entries, keyed by FD address and generation.
  const names = new Map<string, string>();
  for (const f of found) {
    if (f.fd.type !== 'directory') continue;
    try {
      for (const e of await readLinearDir(fs.fileSource(f.fd, formatFdAddress(f.fd.address)))) {
        if (e.name !== '.' && e.name !== '..') names.set(`${e.fdAddress}:${e.generation}`, e.name);
      }
    } catch (e) {
      if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
    }
  }
  for (const f of found) {
    files.push({
      name: names.get(`${f.fd.address}:${f.fd.generation}`) ?? null,
      dir: dirPath.get(f.parentDir) ?? null,
      type: f.fd.type,
      size: f.fd.length,
      fdAddress: f.fd.address,
      fdAddressText: formatFdAddress(f.fd.address),
      generation: f.fd.generation,
      mtime: f.fd.mtime,
      state: f.state,
    });
  }
  return { files, warnings };
}
