import type { ByteSource } from '../../core/io/byte-source.js';
import type { FileResolver } from '../../core/vmdk/types.js';
import { BlobSource } from './blob-source.js';

/**
 * What the user handed the app: loose files (file input, drag and drop, showOpenFilePicker) or a
 * folder (showDirectoryPicker). All are structured-cloneable, so the main thread passes them to the
 * worker as is and no file content crosses threads.
 */
export type PickedInput =
  | { kind: 'files'; files: File[] }
  | { kind: 'handles'; handles: FileSystemFileHandle[] }
  | { kind: 'directory'; handle: FileSystemDirectoryHandle };

/** Folder walks stop here: a datastore folder holds a few hundred files, a wrong pick (a home folder) millions. */
export const MAX_LISTED_FILES = 20_000;
export const MAX_WALK_DEPTH = 8;

/** Async iteration over a folder (typed locally: the project's lib set has no DOM.AsyncIterable). */
interface IterableDirectory {
  values(): AsyncIterable<FileSystemHandle>;
}

/** Posix-style normalisation of a path inside the picked set: `\` to `/`, no `.`, `..` folded. */
export function normalizePath(p: string): string {
  const abs = p.startsWith('/') || p.startsWith('\\');
  const out: string[] = [];
  for (const seg of p.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(seg);
  }
  return (abs ? '/' : '') + out.join('/');
}

export function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

export function basename(p: string): string {
  const q = p.replace(/\\/g, '/');
  return q.slice(q.lastIndexOf('/') + 1);
}

function join(dir: string, rel: string): string {
  return normalizePath(dir ? `${dir}/${rel}` : rel);
}

/** `relative` seen from the file `from`. Absolute hints (/vmfs/volumes/..., C:\\...) are kept: candidates() maps them. */
export function resolvePath(from: string, relative: string): string {
  const rel = relative.replace(/\\/g, '/');
  if (rel.startsWith('/') || /^[A-Za-z]:\//.test(rel)) return rel;
  return join(dirname(normalizePath(from)), rel);
}

type Entry = { file: File } | { handle: FileSystemFileHandle };

/**
 * A FileResolver over the files the user picked. Paths are relative to the picked folder (or bare
 * names for loose files). Descriptors often name their parent by an absolute datastore path
 * (`/vmfs/volumes/<uuid>/vm/base.vmdk`); candidates() then finds it by basename.
 */
export class FileSetResolver implements FileResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly opened = new Map<string, Promise<ByteSource | null>>();
  private readonly dirCache = new Map<string, Promise<FileSystemDirectoryHandle | null>>();
  private listed = false;
  /** Set when a folder listing stopped at MAX_LISTED_FILES or MAX_WALK_DEPTH. */
  truncatedListing = false;

  private constructor(private readonly root: FileSystemDirectoryHandle | null) {
    if (!root) this.listed = true;
  }

  static async from(input: PickedInput): Promise<FileSetResolver> {
    if (input.kind === 'directory') return new FileSetResolver(input.handle);
    const r = new FileSetResolver(null);
    if (input.kind === 'files') {
      for (const f of input.files) r.add(relativePathOf(f), { file: f });
    } else {
      for (const h of input.handles) r.add(h.name, { handle: h });
    }
    return r;
  }

  private add(path: string, e: Entry): void {
    const p = normalizePath(path);
    // Two picked files with one name: keep the first; the second cannot be addressed anyway.
    if (!this.entries.has(p)) this.entries.set(p, e);
  }

  /** Every file path in the set (walks a picked folder once, bounded; contents are not read). */
  async list(): Promise<string[]> {
    if (!this.listed && this.root) {
      await this.walk(this.root, '', 0);
      this.listed = true;
    }
    return [...this.entries.keys()].sort();
  }

  private async walk(dir: FileSystemDirectoryHandle, prefix: string, depth: number): Promise<void> {
    if (depth > MAX_WALK_DEPTH) {
      this.truncatedListing = true;
      return;
    }
    for await (const h of (dir as unknown as IterableDirectory).values()) {
      if (this.entries.size >= MAX_LISTED_FILES) {
        this.truncatedListing = true;
        return;
      }
      const p = prefix ? `${prefix}/${h.name}` : h.name;
      if (h.kind === 'file') this.entries.set(p, { handle: h as FileSystemFileHandle });
      else await this.walk(h as FileSystemDirectoryHandle, p, depth + 1);
    }
  }

  async open(path: string): Promise<ByteSource | null> {
    const p = normalizePath(path);
    let hit = this.opened.get(p);
    if (!hit) {
      hit = this.openUncached(p);
      this.opened.set(p, hit);
    }
    return hit;
  }

  /** The File behind `path` (a snapshot: reads fail if the file changes later), or null. */
  async file(path: string): Promise<File | null> {
    const p = normalizePath(path);
    if (p.startsWith('/') || p.startsWith('..') || p === '') return null;
    const e = this.entries.get(p);
    if (e) return 'file' in e ? e.file : e.handle.getFile();
    if (!this.root) return null;
    const dir = await this.dirHandle(dirname(p));
    if (!dir) return null;
    try {
      const h = await dir.getFileHandle(basename(p));
      this.entries.set(p, { handle: h });
      return await h.getFile();
    } catch {
      return null; // NotFoundError, TypeMismatchError (a folder of that name)
    }
  }

  private async openUncached(p: string): Promise<ByteSource | null> {
    const f = await this.file(p);
    return f ? new BlobSource(f, p) : null;
  }

  /** Walks a folder path one segment at a time, caching each level (the lazy part of a folder pick). */
  private dirHandle(p: string): Promise<FileSystemDirectoryHandle | null> {
    if (!this.root) return Promise.resolve(null);
    if (p === '') return Promise.resolve(this.root);
    let hit = this.dirCache.get(p);
    if (!hit) {
      hit = (async () => {
        const parent = await this.dirHandle(dirname(p));
        if (!parent) return null;
        try {
          return await parent.getDirectoryHandle(basename(p));
        } catch {
          return null;
        }
      })();
      this.dirCache.set(p, hit);
    }
    return hit;
  }

  resolve(from: string, relative: string): string {
    return resolvePath(from, relative);
  }

  candidates(from: string, hint: string): string[] {
    const base = basename(hint);
    const hintDir = basename(dirname(hint.replace(/\\/g, '/')));
    const here = dirname(normalizePath(from));
    const out = [join(here, base)];
    if (hintDir) out.push(join(here, `../${hintDir}/${base}`));
    // Anywhere in the set: exact basename first, then a case-insensitive match (copies made on
    // Windows or macOS may have changed the case).
    const all = [...this.entries.keys()];
    for (const p of all) if (basename(p) === base) out.push(p);
    const lower = base.toLowerCase();
    for (const p of all) if (basename(p).toLowerCase() === lower) out.push(p);
    return [...new Set(out)];
  }
}

/** Path of a picked File relative to the picked folder: drop the folder's own name from webkitRelativePath. */
function relativePathOf(f: File): string {
  const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
  if (!rel) return f.name;
  const i = rel.indexOf('/');
  return i < 0 ? rel : rel.slice(i + 1);
}
