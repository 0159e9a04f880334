import { RescueError, throwIfAborted } from '../errors.js';
import type { JobOptions } from '../progress.js';
import { carveFreeSubBlocks } from './text-carving.js';
import { blockUseOf } from './free-ranges.js';
import { fdItems, fdParentDir, formatFdAddress, fsOf, readFdItem, readLinearDir, type Datastore, type FileDescriptor, type FileType } from '../vmfs/index.js';

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

/** Live entries walked, and folder depth: far above a real volume, bounds a corrupt one. */
const MAX_LIVE = 1 << 20;
const MAX_DEPTH = 16;

/**
 * Freed FDs that still parse as an FD at their own address, and allocated FDs that no live
 * directory reaches. Names come from directory remnants: entries of freed directory FDs (a
 * deleted folder keeps its entry array) that name the FD with its generation. On VMFS6 the FDC
 * bitmap is decoded in vmfs6-tools' layout; in ESXi's ('rcmd' cluster metadata, no decoded bitmap)
 * an FD is free when the live tree does not reference it (the allocation map installs that).
 */
export async function listDeletedFiles(ds: Datastore, opts: JobOptions = {}): Promise<{ files: DeletedFile[]; warnings: string[] }> {
  const fs = fsOf(ds);
  const warnings: string[] = [];
  const files: DeletedFile[] = [];
  const fdc = fdItems(fs);
  if (!fdc) return { files, warnings: ['deleted files: the volume has no readable FD resource file (.fdc.sf); nothing listed'] };
  // 'rcmd' clusters: item allocation comes from the live walk the block-use map runs once.
  await blockUseOf(ds);

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

  const found: { fd: FileDescriptor; state: DeletedFile['state']; parentDir: number }[] = [];
  for (let i = 0; i < fdc.count; i++) {
    if ((i & 255) === 0) throwIfAborted(opts.signal);
    try {
      const allocated = await fdc.allocated(i);
      if (allocated === null) continue;
      if (allocated && reachable.has(fdc.address(i) as number)) continue;
      const item = await readFdItem(fs, fdc, i);
      if (!item) continue;
      const fd = item.parse();
      if (fd.typeCode < 2 || fd.typeCode > 6) continue;
      found.push({ fd, state: allocated ? 'orphan' : 'deleted', parentDir: fdParentDir(fs, fd) });
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

/** Descriptor or .vmsd text left in a free sub-block (no FD names it any more). */
export interface TextRemnant {
  kind: 'descriptor-text' | 'vmsd-text';
  volOffset: number;
  size: number;
  /** One line: what the text says (CIDs, parent hint, extent; or the current snapshot's disks). */
  detail: string;
}

/** Descriptor and .vmsd text in free sub-blocks, for `ls --deleted` (freed resident FDs are listed as files already). */
export async function listTextRemnants(ds: Datastore, opts: JobOptions = {}): Promise<{ remnants: TextRemnant[]; warnings: string[] }> {
  const r = await carveFreeSubBlocks(fsOf(ds), opts);
  const remnants: TextRemnant[] = [
    ...r.descriptors.map((d) => ({ kind: 'descriptor-text' as const, volOffset: d.volOffset, size: d.textBytes, detail: `createType ${d.createType}, CID ${d.cid}, parentCID ${d.parentCid}, parentFileNameHint "${d.parentFileNameHint ?? ''}", extent "${d.extentFile ?? ''}", capacity ${d.capacityBytes}` })),
    ...r.vmsds.map((v) => ({ kind: 'vmsd-text' as const, volOffset: v.volOffset, size: v.textBytes, detail: `${v.snapshots} snapshot(s), current uid ${v.currentUid}${v.currentName ? ` "${v.currentName}"` : ''} froze ${v.currentDisks.map((x) => `"${x}"`).join(', ')}` })),
  ];
  return { remnants, warnings: r.warnings };
}
