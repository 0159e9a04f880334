import path from 'node:path';
import { writeWhole } from '../../core/io/byte-sink.js';
import { NodeFileSink } from './file-sink.js';

/**
 * The outputs of one command, written under temporary names and published together by commit()
 * once everything (writing, verification, the report) succeeded. Until then the destinations keep
 * whatever they held (or stay absent), and abort() removes every temporary file: a SIGINT or an
 * error at any point before commit() leaves the folder exactly as it was.
 */
export class StagedOutputs {
  private readonly sinks = new Map<string, NodeFileSink>();

  /** A sink for `finalPath`; its close() keeps the file under its temporary name. */
  async create(finalPath: string): Promise<NodeFileSink> {
    const abs = path.resolve(finalPath);
    await this.discard(abs);
    const s = await NodeFileSink.create(abs, { publishOnClose: false });
    this.sinks.set(abs, s);
    return s;
  }

  /** Stages a small whole file (a descriptor, a JSON report). */
  async writeFile(finalPath: string, bytes: Uint8Array | string): Promise<void> {
    await writeWhole(await this.create(finalPath), typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  }

  /** Where the bytes of `finalPath` are until commit() (reads for verification go there). */
  pathOf(finalPath: string): string {
    return this.sinks.get(path.resolve(finalPath))?.tmp ?? finalPath;
  }

  async discard(finalPath: string): Promise<void> {
    const abs = path.resolve(finalPath);
    const s = this.sinks.get(abs);
    if (!s) return;
    this.sinks.delete(abs);
    await s.abort();
  }

  /** Renames every staged file onto its final name, in creation order (data files before the descriptors that name them). */
  async commit(): Promise<void> {
    for (const [abs, s] of this.sinks) {
      await s.publish();
      this.sinks.delete(abs);
    }
  }

  async abort(): Promise<void> {
    const all = [...this.sinks.values()];
    this.sinks.clear();
    await Promise.all(all.map((s) => s.abort()));
  }
}
