import { del, get, set, update } from 'idb-keyval';
import type { RangeEvidence } from '../../core/recovery/free-ranges.js';
import { isSavedScan, type ResumeStore, type SavedScan } from './split-scan.js';

/**
 * The split scan's resume store in IndexedDB, one record per image: a scan a reload interrupted
 * continues with the ranges not done.
 */

/** A picked dump file as far as its identity goes. */
export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
}

/** The image's identity: volume UUID and, per picked file, name, size and last change. */
export function scanKey(files: readonly FileIdentity[], uuid: string): string {
  return `vmfs-rescue:scan:${uuid}:${files.map((f) => `${f.name}/${f.size}/${f.lastModified}`).join('|')}`;
}

/** The IndexedDB record under `key` as a ResumeStore. */
export function idbResumeStore(key: string): ResumeStore {
  return {
    load: () => get(key),
    create: (s) => set(key, s),
    saveDone: (i: number, ev: RangeEvidence, whole: SavedScan) => update<SavedScan>(key, (cur) => (isSavedScan(cur) ? { ...cur, done: { ...cur.done, [i]: ev } } : whole)),
    clear: () => del(key),
  };
}

/** A scan of this image is saved (a reload interrupted it). */
export async function hasSavedScan(files: readonly FileIdentity[], uuid: string): Promise<boolean> {
  return isSavedScan(await get(scanKey(files, uuid)).catch(() => undefined));
}

/** How far an unfinished scan of this image got (the recent-sessions list shows it), or null. */
export async function savedScanProgress(files: readonly FileIdentity[], uuid: string): Promise<{ done: number; total: number } | null> {
  const saved = await get(scanKey(files, uuid)).catch(() => undefined);
  if (!isSavedScan(saved)) return null;
  return { done: Object.keys(saved.done).length, total: saved.ranges.length };
}
