import { get, update } from 'idb-keyval';
import type { RaidDetection } from '../../core/raid/detect.js';
import type { PickedInput } from '../../platform/browser/file-set-resolver.js';

/**
 * Recent sessions: what was opened (a datastore dump or a VMDK set), kept in IndexedDB with the
 * file handles so it can be reopened after a reload. Handles survive structured cloning; Files
 * picked through <input> or a drop do not have one, so those sessions are listed but cannot be
 * reopened. The pure list logic (merge, change check) is separate so Node tests can run it.
 */

export type SessionKind = 'datastore' | 'vmdk';

/** A file's identity as the session saw it (a change in size or date means another image). */
export interface FileStamp {
  name: string;
  size: number;
  lastModified: number;
}

export interface SessionRecord {
  v: 1;
  id: string;
  kind: SessionKind;
  /** Handles of the picked files, in pick order; null when picked without handles. */
  handles: FileSystemFileHandle[] | null;
  /** A picked folder (VMDK "Open folder…"); its files are listed again on reopen. */
  directory: FileSystemDirectoryHandle | null;
  /** Names, sizes and change dates when opened (for a folder: the folder name, size 0). */
  files: FileStamp[];
  /** Datastore: volume label and UUID. */
  label: string | null;
  uuid: string | null;
  /** VMDK: the chain top that was open. */
  top: string | null;
  /** Datastore on RAID members: the array's parameters (the files are the members). */
  raid?: RaidDetection;
  /** Date.now() of the last open. */
  openedAt: number;
}

/** What the caller knows when something was opened. */
export type SessionInput = Omit<SessionRecord, 'v' | 'id' | 'openedAt' | 'directory' | 'handles' | 'label' | 'uuid' | 'top'> &
  Partial<Pick<SessionRecord, 'directory' | 'handles' | 'label' | 'uuid' | 'top' | 'raid'>>;

export const MAX_SESSIONS = 8;
const KEY = 'vmfs-rescue:sessions';

/** Names, sizes and dates in order: the picked files' identity (a stored record's key part). */
export const stampsKey = (files: readonly FileStamp[]): string => files.map((f) => `${f.name}/${f.size}/${f.lastModified}`).join('|');

/** Same kind, same names, sizes and dates: the same session (reopening it moves it to the top). */
export function sessionId(kind: SessionKind, files: readonly FileStamp[], directory = false): string {
  return `${kind}:${directory ? 'dir:' : ''}${stampsKey(files)}`;
}

export function canReopen(r: SessionRecord): boolean {
  return (r.handles !== null && r.handles.length > 0) || r.directory !== null;
}

/**
 * The list after `rec` was opened: newest first, at most `max`. Reopening the same files without
 * handles (the classic dialog) keeps the handles saved earlier: they still point at those files.
 */
export function mergeSession(list: readonly SessionRecord[], rec: SessionRecord, max = MAX_SESSIONS): SessionRecord[] {
  const old = list.find((r) => r.id === rec.id);
  const merged: SessionRecord = old
    ? {
        ...rec,
        handles: rec.handles ?? old.handles,
        directory: rec.directory ?? old.directory,
        label: rec.label ?? old.label,
        uuid: rec.uuid ?? old.uuid,
        top: rec.top ?? old.top,
      }
    : rec;
  return [merged, ...list.filter((r) => r.id !== rec.id)].slice(0, Math.max(1, max));
}

/** Keeps only well-formed records (the store may hold an older or damaged list). */
export function validSessions(v: unknown): SessionRecord[] {
  if (!Array.isArray(v)) return [];
  return v.filter(
    (r): r is SessionRecord =>
      r != null && typeof r === 'object' && r.v === 1 && typeof r.id === 'string' && (r.kind === 'datastore' || r.kind === 'vmdk') && Array.isArray(r.files),
  );
}

const fmtDate = (t: number): string => (t > 0 ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : 'unknown');

/** Where to pick the files again, by session kind. */
export const openAgainHint = (kind: SessionKind): string => (kind === 'datastore' ? '"Open datastore dump"' : '"Open VMDK files"');

/**
 * Null when `now` matches what the session saw; else one sentence saying which file changed and
 * what to do. Names are matched in order (a file handle keeps its name).
 */
export function describeChange(kind: SessionKind, saved: readonly FileStamp[], now: readonly FileStamp[]): string | null {
  for (let i = 0; i < saved.length; i++) {
    const s = saved[i]!;
    const n = now[i];
    if (!n) return `${s.name} is missing from the reopened set: open the files again with ${openAgainHint(kind)}.`;
    const what =
      n.size !== s.size
        ? `its size was ${s.size} bytes and is now ${n.size}`
        : n.lastModified !== s.lastModified
          ? `it was last modified ${fmtDate(s.lastModified)} and now ${fmtDate(n.lastModified)}`
          : null;
    if (what)
      return `${s.name} changed since this session was saved (${what})${kind === 'datastore' ? ', so a scan saved for it no longer applies' : ''}: open it again with ${openAgainHint(kind)} to start afresh, and remove this entry.`;
  }
  return null;
}

// --- IndexedDB ---------------------------------------------------------------------------------

/** Fired (as 'change') after the stored list changed: the recent list reloads. */
export const sessionsChanged = new EventTarget();

export async function loadSessions(): Promise<SessionRecord[]> {
  return validSessions(await get(KEY).catch(() => undefined));
}

/** Records an open. Failures (no IndexedDB, e.g. private mode) only lose the recent list. */
/** Sessions opened in this page (since it loaded): their files are open now, handle or not. */
export const openHere = new Set<string>();

export async function rememberSession(input: SessionInput): Promise<void> {
  const rec: SessionRecord = {
    v: 1,
    handles: null,
    directory: null,
    label: null,
    uuid: null,
    top: null,
    ...input,
    id: sessionId(input.kind, input.files, !!input.directory),
    openedAt: Date.now(),
  };
  openHere.add(rec.id);
  try {
    await update(KEY, (cur: unknown) => mergeSession(validSessions(cur), rec));
    sessionsChanged.dispatchEvent(new Event('change'));
  } catch {
    /* no IndexedDB: nothing to remember */
  }
}

export async function forgetSession(id: string): Promise<void> {
  await update(KEY, (cur: unknown) => validSessions(cur).filter((r) => r.id !== id)).catch(() => {});
  sessionsChanged.dispatchEvent(new Event('change'));
}

export const stampOf = (f: File): FileStamp => ({ name: f.name, size: f.size, lastModified: f.lastModified });

/** Records a VMDK open from the picked input (handles: their files are stat'ed; a folder: its name). */
export async function rememberVmdkSession(input: PickedInput, top: string | null): Promise<void> {
  try {
    if (input.kind === 'directory') {
      await rememberSession({ kind: 'vmdk', directory: input.handle, files: [{ name: input.handle.name, size: 0, lastModified: 0 }], top });
    } else if (input.kind === 'handles') {
      const files = await Promise.all(input.handles.map((h) => h.getFile()));
      await rememberSession({ kind: 'vmdk', handles: [...input.handles], files: files.map(stampOf), top });
    } else {
      await rememberSession({ kind: 'vmdk', files: input.files.map(stampOf), top });
    }
  } catch {
    /* a handle went away meanwhile: nothing worth remembering */
  }
}

// --- Reopening ---------------------------------------------------------------------------------

/** The permission methods of FileSystemHandle (Chromium; absent from TypeScript's DOM lib). */
interface PermissionHandle {
  name: string;
  queryPermission?: (d: { mode: 'read' | 'readwrite' }) => Promise<PermissionState>;
  requestPermission?: (d: { mode: 'read' | 'readwrite' }) => Promise<PermissionState>;
}

/**
 * Read access to every handle: asks only where not yet granted. Call straight from a click: the
 * permission prompt needs the user's gesture. Returns the name of the first refused handle, or null.
 */
export async function ensureReadPermission(handles: readonly FileSystemHandle[]): Promise<string | null> {
  for (const h of handles as unknown as PermissionHandle[]) {
    if (typeof h.queryPermission !== 'function') continue; // no permission model: reading will tell
    let state = await h.queryPermission({ mode: 'read' });
    if (state !== 'granted' && typeof h.requestPermission === 'function') {
      try {
        state = await h.requestPermission({ mode: 'read' });
      } catch {
        state = 'denied'; // e.g. SecurityError when the gesture was lost
      }
    }
    if (state !== 'granted') return h.name;
  }
  return null;
}

export type Reopened =
  | { ok: true; kind: 'files'; handles: FileSystemFileHandle[]; files: File[] }
  | { ok: true; kind: 'directory'; handle: FileSystemDirectoryHandle }
  | { ok: false; message: string };

/** Permission, presence and change checks before a session is reopened; each failure says what to do. */
export async function reopen(rec: SessionRecord): Promise<Reopened> {
  const again = openAgainHint(rec.kind);
  if (!canReopen(rec)) return { ok: false, message: `These files were picked without a handle (classic dialog or drop), so the browser cannot reopen them: pick them again with ${again}.` };
  const handles: FileSystemHandle[] = rec.directory ? [rec.directory] : rec.handles!;
  const refused = await ensureReadPermission(handles);
  if (refused !== null)
    return { ok: false, message: `Permission to read ${refused} was not granted, so the session was not reopened: click Reopen again and allow access, or pick the files again with ${again}.` };
  if (rec.directory) return { ok: true, kind: 'directory', handle: rec.directory };
  const files: File[] = [];
  for (const h of rec.handles!) {
    try {
      files.push(await h.getFile());
    } catch (e) {
      const name = (e as { name?: string })?.name;
      if (name === 'NotFoundError')
        return { ok: false, message: `${h.name} is no longer where it was (moved, renamed or deleted): pick it again with ${again}, and remove this entry.` };
      if (name === 'NotAllowedError' || name === 'SecurityError')
        return { ok: false, message: `Permission to read ${h.name} was not granted, so the session was not reopened: click Reopen again and allow access, or pick the files again with ${again}.` };
      return { ok: false, message: `${h.name} could not be read (${name ?? 'error'}): pick it again with ${again}.` };
    }
  }
  const changed = describeChange(rec.kind, rec.files, files.map(stampOf));
  if (changed) return { ok: false, message: changed };
  return { ok: true, kind: 'files', handles: [...rec.handles!], files };
}
