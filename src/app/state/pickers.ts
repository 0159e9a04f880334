import type { PickedInput } from '../../platform/browser/file-set-resolver.js';

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

/** Offers files from the OPFS `exports` folder as downloads (the fallback when no save picker exists). */
export async function downloadFromOpfs(names: string[]): Promise<void> {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('exports');
  for (const name of names) {
    const file = await (await dir.getFileHandle(name)).getFile();
    const url = URL.createObjectURL(file);
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
}
