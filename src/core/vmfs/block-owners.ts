import { RescueError, throwIfAborted } from '../errors.js';
import { fileVolumeRuns } from './allocation.js';
import { fsOf } from './datastore.js';
import { formatFdAddress } from './fd-address.js';
import type { AllocationMap, Datastore, DirEntry } from './types.js';

/**
 * Block → owner, the inverse of the files' block lists: which live file (path and FD address),
 * system file or free space holds each FS block of the volume. Built once per open volume from the
 * allocation map and one bounded walk of the live tree; queries are binary searches.
 */

export type BlockState = 'free' | 'used' | 'system' | 'pointer';

/** A run of blocks with one state and one owner. */
export interface OwnerSpan {
  start: number;
  count: number;
  state: BlockState;
  /** File path, system file name ('.fbb.sf'...), 'free', or a phrase for used blocks no live file references. */
  owner: string;
  /** FD address text of the owning file, when a file owns the run. */
  fd?: string;
}

export interface OwnerQuery {
  spans: OwnerSpan[];
  /** More spans lie in the range than were returned. */
  more: boolean;
}

/** Per cell of a window, blocks in each state (a block counts once: system > pointer > used > free). */
export interface WindowCounts {
  used: Uint32Array;
  free: Uint32Array;
  pointer: Uint32Array;
  system: Uint32Array;
}

export interface BlockIndexOptions {
  signal?: AbortSignal;
  /** Directory entries visited in the walk (beyond: owners of the rest read as unknown). */
  maxEntries?: number;
  maxDepth?: number;
  /** Owner runs kept (a fragmented volume stops adding owners here). */
  maxRuns?: number;
}

/** Pointer-block resource files: their blocks are drawn as pointer blocks, other system files' as system. */
export const POINTER_FILES: ReadonlySet<string> = new Set(['.pbc.sf', '.pb2.sf']);
/** Owner text of used blocks no live file (nor system file) references. */
export const NO_LIVE_OWNER = 'used, no live file references it';
/** Owner text of used blocks before .fdc.sf: the volume header and LVM metadata area. */
export const HEADER_OWNER = 'metadata (volume header area)';

interface Files {
  path: string;
  fd: string;
}

/** Sorted, non-overlapping runs stored as parallel arrays (bounded by the caller). */
class Runs {
  starts: number[] = [];
  counts: number[] = [];
  tags: number[] = [];

  push(start: number, count: number, tag: number): void {
    const n = this.starts.length;
    if (n > 0 && this.tags[n - 1] === tag && this.starts[n - 1]! + this.counts[n - 1]! === start) this.counts[n - 1]! += count;
    else {
      this.starts.push(start);
      this.counts.push(count);
      this.tags.push(tag);
    }
  }

  get length(): number {
    return this.starts.length;
  }

  /** Index of the last run starting at or before `b` (-1: none). */
  floor(b: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= b) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
}

export class BlockIndex {
  /** Every block of the volume in one state; tag = state code, or for system/pointer 4 + system file index. */
  private readonly segments = new Runs();
  private readonly sysNames: string[] = [];
  /** Blocks live files own (the first file claiming a block keeps it). */
  private readonly owners = new Runs();
  private readonly files: Files[] = [];
  /** The walk saw every live file within its bounds. */
  complete = true;
  entriesSeen = 0;

  private constructor(
    readonly totalBlocks: number,
    readonly blockSize: number,
    readonly headerBlocks: number,
  ) {}

  /** Builds the index of an open volume (its allocation map plus a bounded walk of the tree). */
  static async build(ds: Datastore, opts: BlockIndexOptions = {}): Promise<BlockIndex> {
    const ix = await BlockIndex.states(ds);
    await ix.walkOwners(ds, opts);
    return ix;
  }

  /** Block states only (enough for window()); walkOwners() adds the file owners ownersOf() names. */
  static async states(ds: Datastore): Promise<BlockIndex> {
    const map = await ds.allocationMap();
    const ix = new BlockIndex(map.totalBlocks, map.blockSize, Math.ceil(fsOf(ds).L.fdcBase / map.blockSize));
    ix.addSegments(map);
    ix.complete = false;
    return ix;
  }

  /** From a prepared map and owner list (tests, and callers that walked already). */
  static fromParts(map: Pick<AllocationMap, 'totalBlocks' | 'blockSize' | 'runs' | 'systemRuns'>, headerBlocks: number, files: { path: string; fd: string; runs: [number, number][] }[]): BlockIndex {
    const ix = new BlockIndex(map.totalBlocks, map.blockSize, headerBlocks);
    ix.addSegments(map);
    ix.walked = true;
    const raw: [number, number, number][] = [];
    for (const f of files) {
      const k = ix.files.push({ path: f.path, fd: f.fd }) - 1;
      for (const [s, c] of f.runs) raw.push([s, c, k]);
    }
    ix.setOwners(raw);
    return ix;
  }

  private addSegments(map: Pick<AllocationMap, 'totalBlocks' | 'runs' | 'systemRuns'>): void {
    const total = map.totalBlocks;
    // System runs sorted and clipped so each block has one system owner (the earlier run keeps it).
    const sys = map.systemRuns
      .map((r) => ({ start: Math.max(0, r.start), end: Math.min(total, r.start + r.count), file: r.file }))
      .filter((r) => r.end > r.start)
      .sort((a, b) => a.start - b.start);
    const clipped: { start: number; end: number; tag: number }[] = [];
    for (const r of sys) {
      const prevEnd = clipped.length ? clipped[clipped.length - 1]!.end : 0;
      const start = Math.max(r.start, prevEnd);
      if (start >= r.end) continue;
      let k = this.sysNames.indexOf(r.file);
      if (k < 0) k = this.sysNames.push(r.file) - 1;
      clipped.push({ start, end: r.end, tag: 4 + k });
    }
    // Base runs (used/free) with the system runs cut out of them.
    let si = 0;
    const pushBase = (start: number, end: number, code: number) => {
      for (let b = start; b < end; ) {
        while (si < clipped.length && clipped[si]!.end <= b) si++;
        const s = clipped[si];
        if (s && s.start <= b) {
          const stop = Math.min(end, s.end);
          this.segments.push(b, stop - b, s.tag);
          b = stop;
        } else {
          const stop = s ? Math.min(end, s.start) : end;
          this.segments.push(b, stop - b, code);
          b = stop;
        }
      }
    };
    let pos = 0;
    for (const r of map.runs) {
      const start = Math.max(pos, r.start);
      const end = Math.min(total, r.start + r.count);
      if (start > pos) pushBase(pos, Math.min(start, total), 1); // a gap in the runs: call it used, owner unknown
      if (end > start) pushBase(start, end, r.state === 'free' ? 0 : 1);
      pos = Math.max(pos, end);
    }
    if (pos < total) pushBase(pos, total, 1);
  }

  private setOwners(raw: [number, number, number][]): void {
    raw.sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (const [s, c, k] of raw) {
      const start = Math.max(s, end);
      const stop = Math.min(this.totalBlocks, s + c);
      if (stop <= start) continue;
      this.owners.push(start, stop - start, k);
      end = Math.max(end, stop);
    }
  }

  /** Walks the live tree (bounded) for the owners of used blocks; once per index. */
  async walkOwners(ds: Datastore, opts: BlockIndexOptions = {}): Promise<void> {
    if (this.walked) return;
    this.walked = true;
    this.complete = true;
    await this.walk(ds, opts);
  }

  private walked = false;

  private async walk(ds: Datastore, opts: BlockIndexOptions): Promise<void> {
    const maxEntries = opts.maxEntries ?? 100_000;
    const maxDepth = opts.maxDepth ?? 32;
    const maxRuns = opts.maxRuns ?? 1_000_000;
    const bs = this.blockSize;
    const raw: [number, number, number][] = [];
    const seen = new Set<number>();
    const queue: { path: string; fd: number; depth: number }[] = [{ path: '/', fd: -1, depth: 0 }];
    const addFile = async (path: string, fdAddr: number): Promise<void> => {
      if (raw.length >= maxRuns) {
        this.complete = false;
        return;
      }
      const k = this.files.push({ path, fd: formatFdAddress(fdAddr) }) - 1;
      try {
        await fileVolumeRuns(fsOf(ds), await fsOf(ds).fd(fdAddr), (v, n) => {
          if (raw.length >= maxRuns) {
            this.complete = false;
            return;
          }
          const start = Math.floor(v / bs);
          const last = raw[raw.length - 1];
          const count = Math.ceil((v + n) / bs) - start;
          if (last && last[2] === k && start >= last[0] && last[0] + last[1] >= start) last[1] = Math.max(last[1], start + count - last[0]);
          else raw.push([start, count, k]);
        });
      } catch (e) {
        if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
      }
    };
    while (queue.length) {
      const dir = queue.shift()!;
      throwIfAborted(opts.signal);
      let entries: DirEntry[];
      try {
        entries = await ds.readdir(dir.fd < 0 ? dir.path : dir.fd);
      } catch (e) {
        if (!(e instanceof RescueError) || e.kind === 'cancelled') throw e;
        continue;
      }
      for (const e of entries) {
        throwIfAborted(opts.signal);
        if (e.name === '.' && dir.fd < 0 && !seen.has(e.fdAddress)) {
          seen.add(e.fdAddress);
          await addFile('/', e.fdAddress); // the root directory's own blocks
        }
        if (e.error || e.name === '.' || e.name === '..' || e.type === 'rdm' || seen.has(e.fdAddress)) continue;
        if (++this.entriesSeen > maxEntries) {
          this.complete = false;
          break;
        }
        seen.add(e.fdAddress);
        const path = dir.path === '/' ? `/${e.name}` : `${dir.path}/${e.name}`;
        await addFile(path, e.fdAddress);
        if (e.type === 'directory') {
          if (dir.depth + 1 <= maxDepth) queue.push({ path, fd: e.fdAddress, depth: dir.depth + 1 });
          else this.complete = false;
        }
      }
      if (this.entriesSeen > maxEntries) break;
    }
    this.setOwners(raw);
  }

  /** Who holds blocks [first, first + count): at most `maxSpans` spans, in block order. */
  ownersOf(first: number, count: number, maxSpans = 16): OwnerQuery {
    const spans: OwnerSpan[] = [];
    const end = Math.min(this.totalBlocks, first + Math.max(0, count));
    let b = Math.max(0, first);
    let si = Math.max(0, this.segments.floor(b));
    const seg = this.segments;
    const emit = (start: number, n: number, state: BlockState, owner: string, fd?: string): boolean => {
      const last = spans[spans.length - 1];
      if (last && last.state === state && last.owner === owner && last.start + last.count === start) {
        last.count += n;
        return true;
      }
      if (spans.length >= maxSpans) return false;
      spans.push(fd ? { start, count: n, state, owner, fd } : { start, count: n, state, owner });
      return true;
    };
    while (b < end && si < seg.length) {
      const sEnd = Math.min(end, seg.starts[si]! + seg.counts[si]!);
      if (sEnd <= b) {
        si++;
        continue;
      }
      const tag = seg.tags[si]!;
      if (tag >= 4) {
        const name = this.sysNames[tag - 4]!;
        if (!emit(b, sEnd - b, POINTER_FILES.has(name) ? 'pointer' : 'system', name)) return { spans, more: true };
        b = sEnd;
      } else if (tag === 0) {
        if (!emit(b, sEnd - b, 'free', 'free')) return { spans, more: true };
        b = sEnd;
      } else {
        // Used: split by the owner runs.
        while (b < sEnd) {
          const oi = this.owners.floor(b);
          const oEnd = oi >= 0 ? this.owners.starts[oi]! + this.owners.counts[oi]! : -1;
          let ok: boolean;
          if (oi >= 0 && oEnd > b) {
            const stop = Math.min(sEnd, oEnd);
            const f = this.files[this.owners.tags[oi]!]!;
            ok = emit(b, stop - b, 'used', f.path, f.fd);
            b = stop;
          } else {
            const next = oi + 1 < this.owners.length ? this.owners.starts[oi + 1]! : Infinity;
            const stop = Math.min(sEnd, next, b < this.headerBlocks ? this.headerBlocks : Infinity);
            ok = emit(b, stop - b, 'used', b < this.headerBlocks ? HEADER_OWNER : NO_LIVE_OWNER);
            b = stop;
          }
          if (!ok) return { spans, more: true };
        }
      }
      si++;
    }
    return { spans, more: false };
  }

  /** Block counts per cell of `cells` cells of `perCell` blocks from block `first`. */
  window(first: number, perCell: number, cells: number): WindowCounts {
    const n = Math.max(0, Math.floor(cells));
    const per = Math.max(1, Math.floor(perCell));
    const out: WindowCounts = { used: new Uint32Array(n), free: new Uint32Array(n), pointer: new Uint32Array(n), system: new Uint32Array(n) };
    const start = Math.max(0, Math.floor(first));
    const end = Math.min(this.totalBlocks, start + per * n);
    const seg = this.segments;
    for (let si = Math.max(0, seg.floor(start)); si < seg.length && seg.starts[si]! < end; si++) {
      const tag = seg.tags[si]!;
      const arr = tag >= 4 ? (POINTER_FILES.has(this.sysNames[tag - 4]!) ? out.pointer : out.system) : tag === 0 ? out.free : out.used;
      const sEnd = Math.min(end, seg.starts[si]! + seg.counts[si]!);
      for (let b = Math.max(start, seg.starts[si]!); b < sEnd; ) {
        const c = Math.floor((b - start) / per);
        const stop = Math.min(sEnd, start + (c + 1) * per);
        arr[c]! += stop - b;
        b = stop;
      }
    }
    return out;
  }
}
