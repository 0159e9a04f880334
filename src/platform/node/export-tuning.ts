import { crc32 } from 'node:zlib';
import type { ExportOptions } from '../../core/export/export-disk.js';
import { nativeSha256 } from './native-hash.js';
import { nativeIsZero } from './native-zero.js';
import { threadSha256 } from './thread-hasher.js';

/**
 * How the CLI exports on Node: SHA-256 on a worker thread (native, overlapped with the reads and
 * writes of this thread), zlib's CRC-32 for the verify fingerprint, memcmp for zero detection, and
 * 4 MiB reads into recycled buffers, a few in flight (libuv runs them on its thread pool while
 * this thread scans and writes).
 */
export const nodeExportTuning = {
  hasher: nativeSha256,
  streamHasher: threadSha256,
  crc32: (data: Uint8Array, previous: number) => crc32(data, previous),
  zeroTest: nativeIsZero,
  walk: { chunkBytes: 4 * 1024 * 1024, readAheadBytes: 16 * 1024 * 1024 },
} satisfies Partial<ExportOptions>;
