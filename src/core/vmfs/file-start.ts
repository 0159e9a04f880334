import { fsOf } from './datastore.js';
import type { Datastore } from './types.js';

/** Block-map windows searched for a file's first allocated block (a sparse file may start with holes). */
const MAX_START_WINDOWS = 256;

/** Where a file's bytes start on the volume: its first allocated block, or its FD for a resident file. */
export interface FileStart {
  path: string;
  /** Volume byte offset. */
  offset: number;
  what: 'block' | 'fd' | 'none';
}

/** Where file `path` starts on the volume (to-be-zeroed blocks count: they are allocated). */
export async function fileStart(ds: Datastore, path: string): Promise<FileStart> {
  const st = await ds.stat(path);
  if (st.addressing === 'resident') return { path, offset: st.fdVolOffset, what: 'fd' };
  const fs = fsOf(ds);
  const fd = await fs.fd(st.fdAddress);
  const window = 2 ** fd.shift * 4096;
  for (let k = 0, off = 0; k < MAX_START_WINDOWS && off < fd.length; k++, off += window) {
    for (const e of await fs.mapRange(fd, off, Math.min(window, fd.length - off), true)) {
      if (e.kind === 'vol') return { path, offset: e.volOffset, what: 'block' };
    }
  }
  return { path, offset: st.fdVolOffset, what: 'none' };
}
