import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { HasherFactory } from '../../../src/core/hash/sha256.js';
import type { PositionalWriter } from '../../../src/core/synth/vmfs/writer.js';

export { Le } from '../../../src/core/synth/vmfs/writer.js';

/**
 * A host file written only with positional writes and sized with ftruncate, so everything never
 * written stays a hole (a 64 TiB dump costs a few MiB of real storage).
 */
export class SparseFile implements PositionalWriter {
  private fd: number;
  constructor(
    readonly path: string,
    readonly size: number,
  ) {
    this.fd = openSync(path, 'w');
    ftruncateSync(this.fd, size);
  }

  get name(): string {
    return this.path;
  }

  write(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > this.size) {
      throw new Error(`builder bug: write 0x${offset.toString(16)}+0x${bytes.length.toString(16)} outside ${this.path}`);
    }
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Node's native sha256 behind the core Hasher interface. */
export const nodeSha256: HasherFactory = () => {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digestHex: () => h.digest('hex') };
};
