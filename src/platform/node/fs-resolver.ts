import { access } from 'node:fs/promises';
import path from 'node:path';
import type { ByteSource } from '../../core/io/byte-source.js';
import type { FileResolver } from '../../core/vmdk/types.js';
import { NodeFileSource } from './file-source.js';

/** Resolves chain files on the local file system. Opened files are kept open for the process. */
export class NodeFsResolver implements FileResolver {
  private readonly opened = new Map<string, NodeFileSource>();

  async open(p: string): Promise<ByteSource | null> {
    const abs = path.resolve(p);
    const hit = this.opened.get(abs);
    if (hit) return hit;
    try {
      await access(abs);
    } catch {
      return null;
    }
    const src = await NodeFileSource.open(abs, p);
    this.opened.set(abs, src);
    return src;
  }

  resolve(from: string, relative: string): string {
    return path.isAbsolute(relative) ? relative : path.join(path.dirname(from), relative);
  }

  candidates(from: string, hint: string): string[] {
    const base = path.basename(hint);
    const dir = path.basename(path.dirname(hint));
    return [path.join(path.dirname(from), base), path.join(path.dirname(from), '..', dir, base)];
  }

  /** Absolute paths of every file opened so far (a chain's inputs, whatever candidate path found them). */
  openedPaths(): string[] {
    return [...this.opened.keys()];
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.opened.values()].map((s) => s.close()));
    this.opened.clear();
  }
}
