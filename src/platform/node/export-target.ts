import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ExportTarget } from '../../core/export/export-disk.js';
import type { ByteSink } from '../../core/io/byte-sink.js';
import type { ByteSource } from '../../core/io/byte-source.js';
import type { FileResolver } from '../../core/vmdk/types.js';
import { NodeFileSink } from './file-sink.js';
import { NodeFsResolver } from './fs-resolver.js';
import type { StagedOutputs } from './staged-outputs.js';

/**
 * Exports into a local folder: atomic files via NodeFileSink, read back relative to the folder.
 * With `staged`, the files stay under temporary names (the verify pass reads them there) until
 * the caller commits them, so a cancel during verification leaves the destination untouched.
 */
export class NodeExportTarget implements ExportTarget {
  constructor(
    readonly dir: string,
    private readonly staged?: StagedOutputs,
  ) {}

  create(fileName: string): Promise<ByteSink> {
    const p = path.join(this.dir, fileName);
    return this.staged ? this.staged.create(p) : NodeFileSink.create(p);
  }

  resolver(): FileResolver & { closeAll(): Promise<void> } {
    const fs = new NodeFsResolver();
    const dir = this.dir;
    // Names handed out by exportDisk are relative to the folder; resolve them there.
    const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(dir, p));
    const at = (p: string) => (this.staged ? this.staged.pathOf(abs(p)) : abs(p));
    return {
      open: (p: string): Promise<ByteSource | null> => fs.open(at(p)),
      resolve: (from: string, rel: string) => (path.isAbsolute(rel) ? rel : path.join(path.dirname(from), rel)),
      closeAll: () => fs.closeAll(),
    };
  }

  async remove(fileName: string): Promise<void> {
    if (this.staged) return this.staged.discard(path.join(this.dir, fileName));
    await unlink(path.join(this.dir, fileName));
  }
}
