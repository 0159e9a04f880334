import { RescueError, UserError } from '../../core/errors.js';
import type { ExportTarget } from '../../core/export/export-disk.js';
import type { ByteSink } from '../../core/io/byte-sink.js';
import type { FileResolver } from '../../core/vmdk/types.js';
import { FileSetResolver, resolvePath, type PickedInput } from './file-set-resolver.js';

/** Subset of FileSystemSyncAccessHandle (worker-only, so absent from the project's DOM lib). */
interface SyncAccessHandle {
  write(data: Uint8Array, opts: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}
type SyncCapableHandle = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandle> };
type MovableHandle = FileSystemFileHandle & { move?: (newName: string) => Promise<void> };

function ioError(what: string, e: unknown): RescueError {
  if (e instanceof RescueError) return e;
  const err = e as { name?: string; message?: string };
  if (err?.name === 'QuotaExceededError') return new RescueError('io', `${what}: not enough free space in browser storage (QuotaExceededError)`);
  if (err?.name === 'NotAllowedError') return new RescueError('io', `${what}: the browser denied write access (NotAllowedError)`);
  return new RescueError('io', `${what}: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`);
}

/**
 * A sink over FileSystemWritableFileStream (a file from showSaveFilePicker or a picked folder). The
 * browser writes to a swap file and swaps it in on close(); abort() leaves the target untouched.
 */
export class WritableStreamSink implements ByteSink {
  private constructor(
    private readonly w: FileSystemWritableFileStream,
    readonly name: string,
    private readonly onAbort?: () => Promise<void>,
  ) {}

  /** `onAbort` runs after the writable is discarded (removes the entry the export created). */
  static async create(handle: FileSystemFileHandle, name = handle.name, onAbort?: () => Promise<void>): Promise<WritableStreamSink> {
    try {
      return new WritableStreamSink(await handle.createWritable({ keepExistingData: false }), name, onAbort);
    } catch (e) {
      await onAbort?.().catch(() => {});
      throw ioError(`cannot write ${name}`, e);
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    try {
      await this.w.write({ type: 'write', position: offset, data: data as Uint8Array<ArrayBuffer> });
    } catch (e) {
      throw ioError(`writing ${this.name} at 0x${offset.toString(16)}`, e);
    }
  }
  async truncate(size: number): Promise<void> {
    try {
      await this.w.truncate(size);
    } catch (e) {
      throw ioError(`resizing ${this.name} to ${size} bytes`, e);
    }
  }
  async close(): Promise<void> {
    try {
      await this.w.close();
    } catch (e) {
      throw ioError(`saving ${this.name}`, e);
    }
  }
  async abort(): Promise<void> {
    await this.w.abort().catch(() => {});
    await this.onAbort?.().catch(() => {});
  }
}

/**
 * A sink over an OPFS file through a synchronous access handle (dedicated workers only; much faster
 * than a writable stream). Writes go to `<name>.partial`, moved onto `name` on close().
 */
export class OpfsSyncSink implements ByteSink {
  private constructor(
    private readonly dir: FileSystemDirectoryHandle,
    private readonly tmp: FileSystemFileHandle,
    private readonly h: SyncAccessHandle,
    readonly name: string,
  ) {}

  static supported(): boolean {
    return typeof FileSystemFileHandle !== 'undefined' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
  }

  static async create(dir: FileSystemDirectoryHandle, name: string): Promise<OpfsSyncSink> {
    try {
      const tmp = (await dir.getFileHandle(`${name}.partial`, { create: true })) as SyncCapableHandle;
      if (!tmp.createSyncAccessHandle) throw new RescueError('io', 'synchronous OPFS access is not available here');
      const h = await tmp.createSyncAccessHandle();
      h.truncate(0);
      return new OpfsSyncSink(dir, tmp, h, name);
    } catch (e) {
      throw ioError(`cannot create ${name} in browser storage`, e);
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const n = this.h.write(data.subarray(done), { at: offset + done });
        if (n <= 0) throw new RescueError('io', `wrote 0 bytes`);
        done += n;
      }
    } catch (e) {
      throw ioError(`writing ${this.name} at 0x${offset.toString(16)}`, e);
    }
  }
  async truncate(size: number): Promise<void> {
    try {
      this.h.truncate(size);
    } catch (e) {
      throw ioError(`resizing ${this.name} to ${size} bytes`, e);
    }
  }
  async close(): Promise<void> {
    try {
      this.h.flush();
      this.h.close();
      await this.dir.removeEntry(this.name).catch(() => {});
      await moveOrCopy(this.dir, this.tmp, this.name);
    } catch (e) {
      throw ioError(`saving ${this.name}`, e);
    }
  }
  async abort(): Promise<void> {
    try {
      this.h.close();
    } catch {
      /* already closed */
    }
    await this.dir.removeEntry(`${this.name}.partial`).catch(() => {});
  }
}

/** Renames an OPFS file (Chromium has move()); elsewhere copies it through a writable stream. */
async function moveOrCopy(dir: FileSystemDirectoryHandle, from: FileSystemFileHandle, to: string): Promise<void> {
  const m = from as MovableHandle;
  if (typeof m.move === 'function') return m.move(to);
  const dst = await dir.getFileHandle(to, { create: true });
  const w = await dst.createWritable({ keepExistingData: false });
  await (await from.getFile()).stream().pipeTo(w);
  await dir.removeEntry(from.name);
}

/**
 * Creates a sink for `name` in a folder: sync access in an OPFS folder inside a worker, else a
 * writable stream. getFileHandle({create}) makes an empty entry at once, so when `name` was not
 * there before, abort() removes it: a cancelled or failed export leaves no empty file behind.
 */
export async function createFileSink(dir: FileSystemDirectoryHandle, name: string, preferSync: boolean): Promise<ByteSink> {
  if (preferSync && OpfsSyncSink.supported()) return OpfsSyncSink.create(dir, name);
  let handle: FileSystemFileHandle;
  let existed: boolean;
  try {
    existed = await dir.getFileHandle(name).then(
      () => true,
      () => false,
    );
    handle = await dir.getFileHandle(name, { create: true });
  } catch (e) {
    throw ioError(`cannot create ${name}`, e);
  }
  return WritableStreamSink.create(handle, name, existed ? undefined : () => dir.removeEntry(name));
}

/** Export into one file the user chose with showSaveFilePicker. Only single-file formats fit. */
export class FileHandleTarget implements ExportTarget {
  constructor(private readonly handle: FileSystemFileHandle) {}
  get fileName(): string {
    return this.handle.name;
  }
  async create(fileName: string): Promise<ByteSink> {
    if (fileName !== this.handle.name) {
      throw new UserError(`this export needs a second file (${fileName}); choose a folder as the destination instead of a single file`);
    }
    return WritableStreamSink.create(this.handle);
  }
  resolver(): FileResolver {
    return lazyResolver({ kind: 'handles', handles: [this.handle] });
  }
  /** After a failed verification: the user's file cannot be deleted everywhere, so at least empty it. */
  async remove(fileName: string): Promise<void> {
    if (fileName !== this.handle.name) return;
    const h = this.handle as FileSystemFileHandle & { remove?: () => Promise<void> };
    if (typeof h.remove === 'function') return h.remove();
    const w = await this.handle.createWritable({ keepExistingData: false });
    await w.close();
  }
}

/** Export into a folder: one the user picked (showDirectoryPicker) or an OPFS folder. */
export class DirectoryTarget implements ExportTarget {
  /** Names created so far (the download fallback hands these to the main thread). */
  readonly created: string[] = [];
  constructor(
    readonly dir: FileSystemDirectoryHandle,
    private readonly preferSync = false,
  ) {}
  async create(fileName: string): Promise<ByteSink> {
    if (fileName.includes('/') || fileName.includes('\\') || fileName === '' || fileName === '.' || fileName === '..') {
      throw new UserError(`invalid output file name: ${fileName}`);
    }
    const sink = await createFileSink(this.dir, fileName, this.preferSync);
    this.created.push(fileName);
    return sink;
  }
  resolver(): FileResolver {
    return lazyResolver({ kind: 'directory', handle: this.dir });
  }
  async remove(fileName: string): Promise<void> {
    await this.dir.removeEntry(fileName);
  }
}

/** The OPFS folder that holds exports on their way to a download. Emptied before each new export. */
export async function opfsExportDir(clear: boolean): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  if (clear) await root.removeEntry('exports', { recursive: true }).catch(() => {});
  return root.getDirectoryHandle('exports', { create: true });
}

/**
 * FileSetResolver.from is async but ExportTarget.resolver() is not: build it on first use. Each
 * call gives a fresh resolver, so the verify pass never sees a File snapshot taken before close().
 */
function lazyResolver(input: PickedInput): FileResolver {
  const r = FileSetResolver.from(input);
  return {
    open: async (p) => (await r).open(p),
    resolve: resolvePath,
    candidates: () => [],
  };
}
