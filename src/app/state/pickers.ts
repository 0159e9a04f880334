import type { ExportFormat } from '../../core/export/export-disk.js';
import type { PickedInput } from '../../platform/browser/file-set-resolver.js';
import type { ExportDestination } from '../../workers/common.js';

/**
 * The File System Access pickers (Chromium only, and absent from TypeScript's DOM lib). Every helper
 * returns null when the user dismisses the dialog, so callers can treat "cancelled" as "nothing".
 */
interface PickerWindow {
  showOpenFilePicker?: (o?: { multiple?: boolean; id?: string }) => Promise<FileSystemFileHandle[]>;
  showDirectoryPicker?: (o?: { mode?: 'read' | 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;
  showSaveFilePicker?: (o?: { suggestedName?: string; id?: string }) => Promise<FileSystemFileHandle>;
}
const w = (): PickerWindow => window as unknown as PickerWindow;

export const canPickFiles = (): boolean => typeof w().showOpenFilePicker === 'function';
export const canPickDirectory = (): boolean => typeof w().showDirectoryPicker === 'function';
export const canSaveFile = (): boolean => typeof w().showSaveFilePicker === 'function';

function dismissed(e: unknown): boolean {
  return (e as { name?: string })?.name === 'AbortError';
}

export async function pickFiles(): Promise<PickedInput | null> {
  try {
    const handles = await w().showOpenFilePicker!({ multiple: true, id: 'vmdk-open' });
    return handles.length ? { kind: 'handles', handles } : null;
  } catch (e) {
    if (dismissed(e)) return null;
    throw e;
  }
}

export async function pickDirectory(mode: 'read' | 'readwrite' = 'read'): Promise<FileSystemDirectoryHandle | null> {
  try {
    return await w().showDirectoryPicker!({ mode, id: mode === 'read' ? 'vmdk-open' : 'vmdk-save' });
  } catch (e) {
    if (dismissed(e)) return null;
    throw e;
  }
}

export async function pickSaveFile(suggestedName: string): Promise<FileSystemFileHandle | null> {
  try {
    return await w().showSaveFilePicker!({ suggestedName, id: 'vmdk-save' });
  } catch (e) {
    if (dismissed(e)) return null;
    throw e;
  }
}

/**
 * Turns a drop into picked input. Handles must be requested synchronously inside the drop event
 * (the DataTransfer is emptied afterwards), so this collects promises first and awaits later.
 */
export function droppedInput(dt: DataTransfer): Promise<PickedInput | null> {
  type HandleItem = DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileSystemHandle | null> };
  const items = [...dt.items].filter((i) => i.kind === 'file') as HandleItem[];
  const files = [...dt.files];
  const asFiles = (): PickedInput | null => (files.length ? { kind: 'files', files } : null);
  if (items.length === 0 || typeof items[0]!.getAsFileSystemHandle !== 'function') return Promise.resolve(asFiles());
  const pending = items.map((i) => i.getAsFileSystemHandle!().catch(() => null));
  return (async () => {
    const handles = (await Promise.all(pending)).filter((h): h is FileSystemHandle => h != null);
    const dirs = handles.filter((h) => h.kind === 'directory') as FileSystemDirectoryHandle[];
    const fileHandles = handles.filter((h) => h.kind === 'file') as FileSystemFileHandle[];
    if (dirs.length === 1 && fileHandles.length === 0) return { kind: 'directory', handle: dirs[0]! };
    if (fileHandles.length > 0) return { kind: 'handles', handles: fileHandles };
    // No handles (a drop from another app, or a scripted DataTransfer): the plain Files still work.
    return asFiles();
  })();
}

/**
 * Where a disk export goes: flat writes two files, so it asks for a folder; the others ask for a
 * file named `name`; without pickers, browser storage (OPFS, then offered as a download). Null:
 * the dialog was dismissed. Call straight from a click: the pickers need the user's gesture.
 */
export async function pickExportDestination(format: ExportFormat, name: string): Promise<ExportDestination | null> {
  if (format === 'flat' && canPickDirectory()) return pickDirectory('readwrite');
  if (format !== 'flat' && canSaveFile()) return pickSaveFile(name);
  return 'opfs';
}

/** Offers a blob as a file download. */
export function downloadBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // The download reads the blob asynchronously; revoke well after it has started.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Offers files from the OPFS `exports` folder as downloads (the fallback when no save picker exists). */
export async function downloadFromOpfs(names: string[]): Promise<void> {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('exports');
  for (const name of names) downloadBlob(name, await (await dir.getFileHandle(name)).getFile());
}

/** Default output names: next to the top disk's name, marked as merged. */
export function suggestedName(top: string | null, format: ExportFormat): string {
  const base = (top?.split('/').pop() ?? 'disk').replace(/\.vmdk$/i, '') + '-merged';
  return format === 'raw' ? `${base}.img` : `${base}.vmdk`;
}
