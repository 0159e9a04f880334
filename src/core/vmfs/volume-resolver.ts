import { RescueError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import type { FileResolver } from '../vmdk/types.js';
import type { Datastore } from './types.js';

/**
 * Resolves VMDK chain files inside a datastore: '/vm/disk.vmdk' paths, '/'-separated, relative
 * names taken from the referring file's folder (VMFS paths of other volumes such as
 * '/vmfs/volumes/<label>/vm/x.vmdk' are tried by their last two components).
 */
export class VolumeResolver implements FileResolver {
  private readonly opened = new Map<string, ByteSource>();
  constructor(private readonly ds: Datastore) {}

  async open(path: string): Promise<ByteSource | null> {
    const norm = normalize(path);
    const hit = this.opened.get(norm);
    if (hit) return hit;
    try {
      const st = await this.ds.stat(norm);
      if (st.type === 'directory') return null;
      const src = await this.ds.openFile(norm);
      this.opened.set(norm, src);
      return src;
    } catch (e) {
      // Only "not found" style errors mean absent; corruption must surface.
      if (e instanceof RescueError && e.kind === 'user') return null;
      throw e;
    }
  }

  resolve(from: string, relative: string): string {
    if (relative.startsWith('/')) return normalize(relative);
    return normalize(dirname(from) + '/' + relative);
  }

  candidates(from: string, hint: string): string[] {
    const parts = hint.split('/').filter(Boolean);
    const base = parts[parts.length - 1] ?? hint;
    const out = [normalize(dirname(from) + '/' + base)];
    if (parts.length >= 2) out.push(normalize('/' + parts.slice(-2).join('/')));
    return out;
  }
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Collapses '.', '..' and repeated slashes; always absolute. */
export function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}
