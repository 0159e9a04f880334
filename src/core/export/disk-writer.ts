import type { ByteSink } from '../io/byte-sink.js';
import type { Piece } from './disk-walk.js';

/** What every export format writer gets. */
export interface WriterContext {
  /** Creates a sink in the target; the export driver keeps track of it to abort on failure. */
  create(fileName: string): Promise<ByteSink>;
  fileName: string;
  capacity: number;
  /** Extra descriptor `ddb.*` entries (keys without the prefix). */
  ddb?: Record<string, string>;
}

/** Consumes the logical disk's pieces in order, then commits its files. */
export interface DiskWriter {
  /** Output file names, main one first. */
  readonly files: string[];
  put(p: Piece): Promise<void>;
  /**
   * True when put() is done with `p.data` once it resolves (nothing kept for later writes), so
   * the export may read the next pieces into the same buffers.
   */
  readonly releasesData?: boolean;
  /** Flushes and closes (commits) every sink. */
  finish(): Promise<void>;
  bytesWritten(): number;
}
