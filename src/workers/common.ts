import { CancelledError, RescueError } from '../core/errors.js';
import type { ExportTarget } from '../core/export/export-disk.js';
import { DirectoryTarget, FileHandleTarget, opfsExportDir } from '../platform/browser/sinks.js';

/** Plumbing the Comlink workers share: error transfer, cancellable jobs, export targets. */

/** Where an export goes: a file from showSaveFilePicker, a folder from showDirectoryPicker, or OPFS. */
export type ExportDestination = FileSystemFileHandle | FileSystemDirectoryHandle | 'opfs';

/**
 * RescueErrors cross with their (unminified) class name and one-line message — the UI keys on the
 * name; anything else is said to be a bug.
 */
export function toTransferable(e: unknown): Error {
  // RescueError names are set explicitly (errors.ts), so they survive minification.
  if (e instanceof RescueError) return Object.assign(new Error(e.message), { name: e.name });
  const err = e as { name?: string; message?: string };
  if (err?.name === 'AbortError') return Object.assign(new Error('cancelled'), { name: 'CancelledError' });
  return Object.assign(new Error(`internal error: ${err?.message ?? String(e)}`), { name: 'InternalError' });
}

/** Runs one API call; whatever it throws crosses as toTransferable() makes it. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toTransferable(e);
  }
}

/** One running job per kind: starting a kind cancels its previous job, other kinds keep running. */
export class Jobs<K extends string> {
  private readonly running = new Map<K, AbortController>();

  start(kind: K): AbortSignal {
    this.running.get(kind)?.abort();
    const c = new AbortController();
    this.running.set(kind, c);
    return c.signal;
  }

  abort(...kinds: K[]): void {
    for (const k of kinds) this.running.get(k)?.abort();
  }
}

/**
 * The export target for `dest`; a picked file imposes its own name on `fileName`. OPFS output
 * goes to the `exports` folder, for the main thread to download.
 */
export async function exportTarget(
  dest: ExportDestination,
  fileName: string,
): Promise<{ target: ExportTarget; destination: 'file' | 'directory' | 'opfs'; fileName: string }> {
  if (dest === 'opfs') return { target: new DirectoryTarget(await opfsExportDir(true), true), destination: 'opfs', fileName };
  if (dest.kind === 'file') return { target: new FileHandleTarget(dest as FileSystemFileHandle), destination: 'file', fileName: dest.name };
  return { target: new DirectoryTarget(dest as FileSystemDirectoryHandle, false), destination: 'directory', fileName };
}

/** The scan's test hook (?scanRangeDelayMs=): holds a finished range `ms` (at most 60 s) unless cancelled. */
export function holdFor(ms: number, signal: AbortSignal): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, Math.min(ms, 60_000));
    signal.addEventListener('abort', () => (clearTimeout(t), reject(new CancelledError('cancelled'))), { once: true });
  });
}
