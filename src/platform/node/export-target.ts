import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ExportTarget } from '../../core/export/export-disk.js';
import type { ByteSink } from '../../core/io/byte-sink.js';
import type { ByteSource } from '../../core/io/byte-source.js';
import type { FileResolver } from '../../core/vmdk/types.js';
import { NodeFileSink } from './file-sink.js';
import { NodeFsResolver } from './fs-resolver.js';

/** Exports into a local folder: atomic files via NodeFileSink, read back relative to the folder. */
export class NodeExportTarget implements ExportTarget {
  constructor(readonly dir: string) {}

  create(fileName: string): Promise<ByteSink> {
    return NodeFileSink.create(path.join(this.dir, fileName));
  }

  resolver(): FileResolver & { closeAll(): Promise<void> } {
    const fs = new NodeFsResolver();
    const dir = this.dir;
    // Names handed out by exportDisk are relative to the folder; resolve them there.
    const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(dir, p));
    return {
      open: (p: string): Promise<ByteSource | null> => fs.open(abs(p)),
      resolve: (from: string, rel: string) => (path.isAbsolute(rel) ? rel : path.join(path.dirname(from), rel)),
      closeAll: () => fs.closeAll(),
    };
  }

  async remove(fileName: string): Promise<void> {
    await unlink(path.join(this.dir, fileName));
  }
}
