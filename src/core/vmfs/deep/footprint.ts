import { RescueError } from '../../errors.js';
import { fsOf } from '../datastore.js';
import type { FileDescriptor } from '../fd.js';
import { ZLA_RESIDENT } from '../address.js';
import type { VmfsFs } from '../filesystem.js';
import { fileVolumeRuns } from '../allocation.js';
import { fdItems, walkLiveTree } from '../live-items.js';
import type { ResourceFile } from '../resource.js';
import type { Datastore } from '../types.js';

/**
 * Dump byte ranges a volume has written: what a datastore formatted (or used) over an older one
 * overwrote of it. Sorted, merged [start, end) pairs.
 */
export class Ranges {
  private starts: number[] = [];
  private ends: number[] = [];
  private pending: [number, number][] = [];

  add(start: number, length: number): void {
    if (length > 0) this.pending.push([start, start + length]);
  }

  /** Sorts and merges what was added (call once before queries). */
  seal(): this {
    const all = this.pending.concat(this.starts.map((s, i) => [s, this.ends[i]!] as [number, number]));
    all.sort((a, b) => a[0] - b[0]);
    this.starts = [];
    this.ends = [];
    for (const [s, e] of all) {
      const k = this.ends.length - 1;
      if (k >= 0 && s <= this.ends[k]!) this.ends[k] = Math.max(this.ends[k]!, e);
      else (this.starts.push(s), this.ends.push(e));
    }
    this.pending = [];
    return this;
  }

  get size(): number {
    return this.starts.length;
  }

  /** The parts of [start, end) covered, in order. */
  covered(start: number, end: number): [number, number][] {
    const out: [number, number][] = [];
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.ends[m]! <= start) lo = m + 1;
      else hi = m;
    }
    for (let i = lo; i < this.starts.length && this.starts[i]! < end; i++) {
      const s = Math.max(start, this.starts[i]!);
      const e = Math.min(end, this.ends[i]!);
      if (s < e) out.push([s, e]);
    }
    return out;
  }

  toJSON(): { start: number; length: number }[] {
    return this.starts.map((s, i) => ({ start: s, length: this.ends[i]! - s }));
  }
}

/** Cluster headers looked at per resource file at most (bounds the walk on huge volumes). */
const MAX_CLUSTERS = 1 << 20;

/**
 * What the current volume at dump offset `origin` holds: the FD addresses its tree reaches, and
 * the dump bytes it wrote: FDs, file data, sub-blocks and pointer blocks of live files, the
 * resource files' headers and cluster headers, the FS descriptor and heartbeat region.
 */
export async function currentFootprint(ds: Datastore, origin: number): Promise<{ reachable: Set<number>; written: Ranges }> {
  const fs = fsOf(ds);
  const reachable = new Set<number>();
  const written = new Ranges();
  const add = (volOffset: number, length: number) => written.add(origin + volOffset, length);
  const addFileRange = async (fd: FileDescriptor, off: number, len: number) => {
    if (off >= fd.length || len <= 0) return;
    for (const e of await fs.mapRange(fd, off, Math.min(len, fd.length - off), true)) if (e.kind === 'vol') add(e.volOffset, e.length);
  };
  const addItem = async (res: ResourceFile | null, item: number) => {
    if (!res || res.h.R === 0 || res.h.S === 0) return;
    try {
      await addFileRange(res.content.fd, res.itemOffset(Math.floor(item / res.h.R), item % res.h.R), res.h.S);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  };
  await walkLiveTree(fs, (a) => ds.readdir(a), async (fd) => {
    reachable.add(fd.address);
    add(fd.volOffset, fs.L.fdSize);
    if (fd.typeCode === 5 && fd.type !== 'directory') return; // resource files: headers below
    if (fd.zla === ZLA_RESIDENT) return;
    try {
      await fileVolumeRuns(fs, fd, add);
      const items: [ResourceFile | null, number][] = [];
      await fdItems(fs, fd, (res, item) => void items.push([res, item]));
      for (const [res, item] of items) if (res !== fs.fdc) await addItem(res, item);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  });
  const seen = new Set<ResourceFile>();
  for (const res of [fs.fdc, fs.fbb, fs.sfb, fs.sbc, fs.pbc, fs.pb2, fs.jbc]) {
    if (!res || seen.has(res)) continue;
    seen.add(res);
    try {
      await addFileRange(res.content.fd, 0, 0x200);
      const n = Math.min(res.totalClusters, MAX_CLUSTERS);
      for (let c = 0; c < n; c++) await addFileRange(res.content.fd, res.clusterHeaderOffset(c), res.headerSize);
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  }
  add(0x200000, 0x200);
  add(0x300000, fs.L.v6 ? 0x400000 : 0x100000);
  return { reachable, written: written.seal() };
}

/** File ranges [offset, offset + length) of `fd` whose bytes lie in `written` (dump offsets; the file's volume starts at `origin`). */
export async function overwrittenRanges(fs: VmfsFs, fd: FileDescriptor, origin: number, written: Ranges): Promise<{ offset: number; length: number }[]> {
  const out: { offset: number; length: number }[] = [];
  if (written.size === 0 || fd.zla === ZLA_RESIDENT || fd.length === 0 || fd.type === 'rdm') return out;
  const window = 2 ** fd.shift * 4096;
  for (let off = 0; off < fd.length; off += window) {
    let pos = off;
    for (const e of await fs.mapRange(fd, off, Math.min(window, fd.length - off), true)) {
      if (e.kind === 'vol') {
        const s = origin + e.volOffset;
        for (const [a, b] of written.covered(s, s + e.length)) {
          const fo = pos + (a - s);
          const last = out[out.length - 1];
          if (last && last.offset + last.length === fo) last.length += b - a;
          else out.push({ offset: fo, length: b - a });
        }
      }
      pos += e.length;
    }
  }
  return out;
}
