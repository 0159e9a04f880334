import { open, type FileHandle } from 'node:fs/promises';
import { checkRange, type ByteSource } from '../../core/io/byte-source.js';

/** A ByteSource over a local file, read with positional reads (never the whole file). */
export class NodeFileSource implements ByteSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string, name = path): Promise<NodeFileSource> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new NodeFileSource(fh, st.size, name);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.name}: unexpected end of file at 0x${(offset + done).toString(16)}`);
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
