import { del, get, set, update } from 'idb-keyval';
import type { DeepCheckpoint } from '../../workers/datastore.api.js';
import { stampsKey, type FileStamp } from './sessions.js';

/**
 * Where unfinished Deep scans stopped, kept in IndexedDB so a reload, a crashed tab or an ended
 * worker does not send a scan of many TiB back to 0. One record per set of dumps (names, sizes,
 * dates, in order): an index of small summaries (what the Resume button says) and, under its own
 * key, each scan's state as core wrote it (JSON text, checked by core's reader before a resume).
 * At most MAX_DEEP_STATES are kept, the oldest written dropped first.
 */

export const MAX_DEEP_STATES = 4;
const INDEX = 'vmfs-rescue:deep-scans';
const stateKey = (id: string) => `vmfs-rescue:deep-scan:${id}`;

/** The part of idb-keyval the store uses (Node tests give a Map-backed one). */
export interface KeyValue {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  update(key: string, fn: (old: unknown) => unknown): Promise<void>;
}

const idb: KeyValue = { get: (k) => get(k), set: (k, v) => set(k, v), del: (k) => del(k), update: (k, fn) => update(k, fn) };

/** How far a saved scan got: bytes scanned of all the dumps' bytes. */
export type DeepProgressSaved = Omit<DeepCheckpoint, 'text'>;

interface IndexEntry extends DeepProgressSaved {
  id: string;
  files: FileStamp[];
  savedAt: number;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Well-formed index entries only (the stored index is input like any other). */
function validIndex(v: unknown): IndexEntry[] {
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is IndexEntry => {
    const o = e as Partial<IndexEntry> | null;
    return o != null && typeof o.id === 'string' && Array.isArray(o.files) && isCount(o.done) && isCount(o.total) && o.done <= o.total && isCount(o.savedAt);
  });
}

/** The store's record id for these dumps. */
export const deepScanId = (files: readonly FileStamp[]): string => stampsKey(files);

const stamps = (files: readonly FileStamp[]): FileStamp[] => files.map((f) => ({ name: f.name, size: f.size, lastModified: f.lastModified }));

export class DeepResumeStore {
  constructor(
    private readonly kv: KeyValue = idb,
    private readonly max = MAX_DEEP_STATES,
  ) {}

  /** Saves (replaces) the checkpoint of these dumps; the oldest beyond `max` go. */
  async save(files: readonly FileStamp[], c: DeepCheckpoint): Promise<void> {
    const id = deepScanId(files);
    const entry: IndexEntry = { id, files: stamps(files), done: c.done, total: c.total, savedAt: Date.now() };
    let evicted: IndexEntry[] = [];
    // The state first: an index entry never names a state that was not written.
    await this.kv.set(stateKey(id), c.text);
    await this.kv.update(INDEX, (cur) => {
      const list = [entry, ...validIndex(cur).filter((e) => e.id !== id)];
      evicted = list.slice(Math.max(1, this.max));
      return list.slice(0, Math.max(1, this.max));
    });
    for (const e of evicted) await this.kv.del(stateKey(e.id));
  }

  /** How far the saved scan of these dumps got, or null when none is saved. */
  async progress(files: readonly FileStamp[]): Promise<DeepProgressSaved | null> {
    const e = validIndex(await this.kv.get(INDEX)).find((x) => x.id === deepScanId(files));
    return e ? { done: e.done, total: e.total } : null;
  }

  /** The saved checkpoint of these dumps (its state text unchecked: core's reader checks it), or null. */
  async load(files: readonly FileStamp[]): Promise<DeepCheckpoint | null> {
    const p = await this.progress(files);
    if (!p) return null;
    const text = await this.kv.get(stateKey(deepScanId(files)));
    if (typeof text === 'string') return { ...p, text };
    await this.remove(files);
    return null;
  }

  /** Forgets the saved scan of these dumps (it finished, or its state was refused). */
  async remove(files: readonly FileStamp[]): Promise<void> {
    const id = deepScanId(files);
    await this.kv.update(INDEX, (cur) => validIndex(cur).filter((e) => e.id !== id));
    await this.kv.del(stateKey(id));
  }
}
