import { RescueError, throwIfAborted } from '../errors.js';
import { readUpTo } from '../io/byte-source.js';
import { decodeDescriptorBytes, descriptorSectors, looksLikeDescriptor, MAX_DESCRIPTOR_BYTES, parseDescriptor } from '../vmdk/descriptor.js';
import type { Datastore } from '../vmfs/index.js';
import { MAX_TEXT_BYTES, parseVmsdRemnant, remnantWhere, type VmsdRemnant } from './text-carving.js';
import type { ParentAlternative } from './types.js';

/** A live descriptor on the volume that could be a parent. */
export interface LiveDisk {
  path: string;
  dir: string;
  dirFd: number;
  capacityBytes: number;
  cid: string;
  createType: string;
  /** Path of its parent as resolved from parentFileNameHint (same folder), or null. */
  parentPath: string | null;
}

const MAX_ENTRIES = 20000;
const MAX_DEPTH = 8;

/** Live .vmsd files read at most (a datastore of many VMs still has few). */
const MAX_VMSD = 1024;

/** Live descriptors and live `.vmsd` files (with snapshot keys), in one bounded walk from the root. */
export async function surveyLive(ds: Datastore, signal?: AbortSignal): Promise<{ disks: LiveDisk[]; vmsds: VmsdRemnant[] }> {
  const out: LiveDisk[] = [];
  const vmsds: VmsdRemnant[] = [];
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    let entries;
    try {
      entries = await ds.readdir(dir);
    } catch (e) {
      if (e instanceof RescueError && e.kind !== 'cancelled') return;
      throw e;
    }
    const dirFd = entries.find((e) => e.name === '.')?.fdAddress ?? 0;
    for (const e of entries) {
      throwIfAborted(signal);
      if (++seen > MAX_ENTRIES) return;
      if (e.name === '.' || e.name === '..' || e.error) continue;
      const p = (dir === '/' ? '' : dir) + '/' + e.name;
      if (e.type === 'directory') await walk(p, depth + 1);
      else if (e.type === 'file' && /\.vmsd$/i.test(e.name) && e.size > 0 && e.size <= MAX_TEXT_BYTES && vmsds.length < MAX_VMSD) {
        try {
          const v = parseVmsdRemnant(await readUpTo(await ds.openFile(p), 0, MAX_TEXT_BYTES), { volOffset: -1, location: 'live-file', path: p, dir });
          if (v) vmsds.push(v);
        } catch (err) {
          if (!(err instanceof RescueError)) throw err;
        }
      } else if (e.type === 'file' && /\.vmdk$/i.test(e.name) && e.size > 0 && e.size <= MAX_DESCRIPTOR_BYTES) {
        try {
          const src = await ds.openFile(p);
          const bytes = await readUpTo(src, 0, MAX_DESCRIPTOR_BYTES);
          if (!looksLikeDescriptor(bytes)) continue;
          const d = parseDescriptor(decodeDescriptorBytes(bytes, p), p);
          const hint = d.parentFileNameHint;
          out.push({
            path: p,
            dir,
            dirFd,
            capacityBytes: descriptorSectors(d) * 512,
            cid: d.cid,
            createType: d.createType,
            parentPath: hint ? (hint.startsWith('/') ? '/' + hint.split('/').filter(Boolean).slice(-2).join('/') : (dir === '/' ? '' : dir) + '/' + hint) : null,
          });
        } catch (err) {
          if (!(err instanceof RescueError)) throw err;
        }
      }
    }
  };
  await walk('/', 0);
  return { disks: out, vmsds };
}

/**
 * A file name as a descriptor or .vmsd writes it, resolved to a volume path: relative names
 * against `dir` (null: unknown, e.g. carved text, then only the base name is known); absolute
 * /vmfs/volumes/<ds>/<folder>/<name> paths keep their last two parts.
 */
export function resolveNamed(name: string, dir: string | null): { path: string | null; base: string } {
  const parts = name.split('/').filter(Boolean);
  const base = parts[parts.length - 1] ?? '';
  if (name.startsWith('/')) return { path: '/' + parts.slice(-2).join('/'), base };
  return { path: dir === null ? null : (dir === '/' ? '' : dir) + '/' + name, base };
}

/** Whether a name written in a descriptor or .vmsd (in folder `dir`, null: unknown) is live disk `d`. */
export function namesDisk(name: string, dir: string | null, d: LiveDisk): boolean {
  const r = resolveNamed(name, dir);
  return r.path !== null ? r.path === d.path : r.base.length > 0 && d.path.split('/').pop() === r.base;
}

/** Evidence about the parent that a recovered descriptor or .vmsd gives (see guessParent). */
export interface ParentHints {
  dirFd?: number;
  /** parentCID of a recovered descriptor of the delta. */
  parentCid?: string;
  /** parentFileNameHint of that descriptor, with the folder it resolves against (null: unknown). */
  parentHint?: { name: string; dir: string | null; where: string };
  /** .vmsd files (live or carved): the disks their current snapshot froze. */
  vmsds?: readonly VmsdRemnant[];
}

/** What guessParent concludes: a parent, or (ambiguous) the disks the evidence cannot tell apart. */
export interface ParentGuess {
  path: string | null;
  reasons: string[];
  /** Several live disks share the best score: path is null and the user must choose. */
  ambiguous: boolean;
  /** Every live disk of the capacity, best first (for the chooser and the JSON). */
  alternatives: ParentAlternative[];
}

/** Alternatives listed at most (a datastore of many same-size VMs). */
const MAX_ALTERNATIVES = 32;

/**
 * The parent of a deleted delta of `capacityBytes` among the live descriptors of that capacity,
 * by evidence: the parentCID and parentFileNameHint of a recovered descriptor, a .vmsd naming the
 * disk as frozen by the current snapshot, a live leaf delta over it (after a revert, ESXi makes a
 * new empty delta over the same parent), the folder the freed FD came from. Capacity alone, or
 * evidence that fits several disks equally, picks none: ambiguous, with the alternatives.
 */
export function guessParent(disks: readonly LiveDisk[], capacityBytes: number, hints: ParentHints = {}): ParentGuess {
  const referenced = new Set(disks.map((d) => d.parentPath).filter((p): p is string => p !== null));
  const leafParents = new Set(disks.filter((d) => !referenced.has(d.path) && d.parentPath).map((d) => d.parentPath!));
  const scored: ParentAlternative[] = [];
  for (const d of disks) {
    if (d.capacityBytes !== capacityBytes) continue;
    const reasons = [`live disk ${d.path} has the same capacity (${capacityBytes} bytes)`];
    let score = 1;
    if (hints.parentCid && d.cid === hints.parentCid) {
      score += 8;
      reasons.push(`its CID ${d.cid} is the parentCID of the recovered descriptor`);
    }
    if (hints.parentHint && namesDisk(hints.parentHint.name, hints.parentHint.dir, d)) {
      score += 6;
      reasons.push(`the parentFileNameHint "${hints.parentHint.name}" of the recovered descriptor (${hints.parentHint.where}) names it`);
    }
    // After a revert, the deleted delta sat on the disk the current snapshot froze, which the .vmsd names.
    const named = (hints.vmsds ?? []).filter((v) => v.currentDisks.some((f) => namesDisk(f, v.dir, d)));
    if (named.length > 0) {
      score += 3;
      const v = named[0]!;
      const f = v.currentDisks.find((x) => namesDisk(x, v.dir, d))!;
      reasons.push(`.vmsd names ${d.path} ("${f}") as a disk of the current snapshot${v.currentName ? ` "${v.currentName}"` : ''} (uid ${v.currentUid}; ${v.location === 'live-file' ? v.path : remnantWhere(v)}${named.length > 1 ? `, and ${named.length - 1} more .vmsd` : ''})`);
    }
    if (leafParents.has(d.path)) {
      score += 4;
      reasons.push('a live leaf delta names it as parent (the new delta made after a revert)');
    } else if (referenced.has(d.path)) score += 1;
    if (hints.dirFd && d.dirFd === hints.dirFd) {
      score += 2;
      reasons.push('same folder as the freed file descriptor');
    }
    scored.push({ path: d.path, score, reasons });
  }
  scored.sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const alternatives = scored.slice(0, MAX_ALTERNATIVES);
  const best = scored[0];
  if (!best) return { path: null, reasons: [`no live disk has capacity ${capacityBytes} bytes`], ambiguous: false, alternatives: [] };
  const tied = scored.filter((x) => x.score === best.score);
  if (tied.length > 1) {
    return {
      path: null,
      reasons: [`${tied.length} live disks of capacity ${capacityBytes} bytes fit equally well (${tied.map((x) => x.path).join(', ')}): no evidence tells them apart, choose the parent`],
      ambiguous: true,
      alternatives,
    };
  }
  return { path: best.path, reasons: best.reasons, ambiguous: false, alternatives: scored.length > 1 ? alternatives : [] };
}
