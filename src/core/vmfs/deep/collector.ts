import type { ByteSource } from '../../io/byte-source.js';
import type { DirLandmark, FdLandmark, FsDescLandmark, Landmark, LvmLandmark } from './landmarks.js';

/**
 * What the deep search keeps of the landmarks it meets, grouped by the volume origin they imply,
 * within fixed bounds (counts per origin, capped FD lists and maps): a LUN full of stale
 * metadata cannot grow it without limit. One collector per scanned range; ranges scanned apart
 * (other lanes, a saved state) are absorbed in dump order.
 */

/** A dump range where landmarks of one origin lie (merged at 1 MiB). */
export interface MapRun {
  start: number;
  length: number;
}

/** What the scan found for one (dump, origin): the raw material of a volume. */
export interface OriginEvidence {
  source: number;
  origin: number;
  /** Self-addressed FDs (all of them counted, the first MAX_FDS kept). */
  fdCount: number;
  fds: FdLandmark[];
  /** Cluster headers per resource file name. */
  clusterHeaders: Record<string, number>;
  descriptors: FsDescLandmark[];
  map: MapRun[];
}

export interface DeepScanResult {
  sources: { name: string; size: number }[];
  origins: OriginEvidence[];
  lvm: (LvmLandmark & { source: number })[];
  /** Directory blocks (evidence; they name no origin). */
  directories: (DirLandmark & { source: number })[];
  directoryCount: number;
  bytesScanned: number;
  /** Landmarks dropped by the memory bounds. */
  dropped: number;
}

export const MAX_ORIGINS = 4096;
export const MAX_FDS = 1 << 20;
const MAX_DESCRIPTORS = 16;
const MAX_RUNS = 4096;
const MAX_LIST = 4096;
const MERGE_GAP = 1 << 20;

export class Collector {
  readonly byKey = new Map<string, OriginEvidence>();
  readonly lvm: DeepScanResult['lvm'] = [];
  readonly dirs: DeepScanResult['directories'] = [];
  dirCount = 0;
  dropped = 0;

  private origin(source: number, origin: number, weight = 1): OriginEvidence | null {
    const key = `${source}:${origin}`;
    let e = this.byKey.get(key);
    if (!e) {
      if (this.byKey.size >= MAX_ORIGINS) {
        this.dropped += weight;
        return null;
      }
      e = { source, origin, fdCount: 0, fds: [], clusterHeaders: {}, descriptors: [], map: [] };
      this.byKey.set(key, e);
    }
    return e;
  }

  add(source: number, l: Landmark): void {
    switch (l.kind) {
      case 'fd': {
        const e = this.origin(source, l.origin);
        if (!e) return;
        e.fdCount++;
        if (e.fds.length < MAX_FDS) e.fds.push(l);
        else this.dropped++;
        mapAdd(e.map, l.at, l.fdSize);
        return;
      }
      case 'cluster': {
        const e = this.origin(source, l.origin);
        if (!e) return;
        e.clusterHeaders[l.resource] = (e.clusterHeaders[l.resource] ?? 0) + 1;
        mapAdd(e.map, l.at, 1024);
        return;
      }
      case 'fs-descriptor': {
        const e = this.origin(source, l.origin);
        if (!e) return;
        if (e.descriptors.length < MAX_DESCRIPTORS) e.descriptors.push(l);
        mapAdd(e.map, l.at, 512);
        return;
      }
      case 'lvm':
        if (this.lvm.length < MAX_LIST) this.lvm.push({ ...l, source });
        else this.dropped++;
        return;
      case 'directory':
        this.dirCount++;
        if (this.dirs.length < MAX_LIST) this.dirs.push({ ...l, source });
        return;
    }
  }

  /**
   * Adds what another collector found (its result) under the same bounds, as if its landmarks had
   * come here one by one: call in dump order, so kept lists stay in dump order. Copies, so `r`
   * stays its owner's.
   */
  absorb(r: Omit<DeepScanResult, 'sources' | 'bytesScanned'>): void {
    for (const o of r.origins) {
      const clusters = Object.values(o.clusterHeaders).reduce((s, n) => s + n, 0);
      const e = this.origin(o.source, o.origin, o.fdCount + clusters + o.descriptors.length);
      if (!e) continue;
      e.fdCount += o.fdCount;
      const room = Math.max(0, MAX_FDS - e.fds.length);
      for (let i = 0; i < Math.min(room, o.fds.length); i++) e.fds.push(o.fds[i]!);
      // Those the other collector had dropped already are in its `dropped`.
      this.dropped += Math.max(0, o.fds.length - room);
      for (const [name, n] of Object.entries(o.clusterHeaders)) e.clusterHeaders[name] = (e.clusterHeaders[name] ?? 0) + n;
      for (const d of o.descriptors) if (e.descriptors.length < MAX_DESCRIPTORS) e.descriptors.push(d);
      for (const m of o.map) mapAdd(e.map, m.start, m.length);
    }
    for (const l of r.lvm) {
      if (this.lvm.length < MAX_LIST) this.lvm.push({ ...l });
      else this.dropped++;
    }
    for (const d of r.directories) if (this.dirs.length < MAX_LIST) this.dirs.push({ ...d });
    this.dirCount += r.directoryCount;
    this.dropped += r.dropped;
  }

  result(sources: readonly ByteSource[], bytesScanned: number): DeepScanResult {
    const origins = [...this.byKey.values()].map((e) => ({ ...e, fds: e.fds.slice(), map: e.map.map((m) => ({ ...m })), descriptors: e.descriptors.slice(), clusterHeaders: { ...e.clusterHeaders } }));
    origins.sort((a, b) => a.source - b.source || a.origin - b.origin);
    const byAt = <T extends { source: number; at: number }>(x: T[]) => x.slice().sort((a, b) => a.source - b.source || a.at - b.at);
    return {
      sources: sources.map((s) => ({ name: s.name, size: s.size })),
      origins,
      lvm: byAt(this.lvm),
      directories: byAt(this.dirs),
      directoryCount: this.dirCount,
      bytesScanned,
      dropped: this.dropped,
    };
  }
}

/** Adds [at, at + len) to a sorted run list, merging within MERGE_GAP (bounded length). */
function mapAdd(map: MapRun[], at: number, len: number): void {
  // Landmarks arrive in dump order within a range, so the last run is nearly always the one to grow.
  const last = map[map.length - 1];
  if (last && at >= last.start && at <= last.start + last.length + MERGE_GAP) {
    last.length = Math.max(last.length, at + len - last.start);
    return;
  }
  let i = map.length;
  while (i > 0 && map[i - 1]!.start > at) i--;
  const prev = map[i - 1];
  if (prev && at <= prev.start + prev.length + MERGE_GAP) {
    prev.length = Math.max(prev.length, at + len - prev.start);
    return;
  }
  if (map.length >= MAX_RUNS) {
    // Out of room: widen the nearest run instead of growing the list.
    const near = prev ?? map[i]!;
    const s = Math.min(near.start, at);
    near.length = Math.max(near.start + near.length, at + len) - s;
    near.start = s;
    return;
  }
  map.splice(i, 0, { start: at, length: len });
}
