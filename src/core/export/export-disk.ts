import { CancelledError, CorruptError, throwIfAborted, UserError } from '../errors.js';
import { breather } from '../util/breather.js';
import type { HasherFactory } from '../hash/sha256.js';
import type { ByteSink } from '../io/byte-sink.js';
import type { ByteSource } from '../io/byte-source.js';
import { throttle, type JobOptions, type ProgressFn } from '../progress.js';
import { openChain } from '../vmdk/chain.js';
import { DiskChain } from '../vmdk/disk-chain.js';
import type { DiskLayer, FileResolver } from '../vmdk/types.js';
import { splitZeroRuns, walkDisk, type Piece, type WalkOptions } from './disk-walk.js';
import type { DiskWriter, WriterContext } from './disk-writer.js';
import { createFlatWriter } from './flat-writer.js';
import { createRawWriter } from './raw-writer.js';
import { createSparseWriter } from './sparse-writer.js';
import { createStreamWriter } from './stream-writer.js';
import { DiskFingerprint, teeHasher, type Crc32Fn, type ZeroTestFn } from './fingerprint.js';
import { streamHasherOf, type StreamHasherFactory } from './stream-hasher.js';

export type ExportFormat = 'raw' | 'flat' | 'sparse' | 'stream';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['raw', 'flat', 'sparse', 'stream'];

/** Where an export goes: a folder-like place that can create files and read them back for verification. */
export interface ExportTarget {
  /** Creates (or replaces, atomically on close) a file named `fileName` in the target. */
  create(fileName: string): Promise<ByteSink>;
  /** Reads the committed outputs back (for the verify pass); paths are the file names given to create(). */
  resolver(): FileResolver & { closeAll?(): Promise<void> };
  /** Deletes a committed output (used when verification fails, so no bad file is left under the final name). */
  remove?(fileName: string): Promise<void>;
}

export interface ExportOptions extends JobOptions {
  format: ExportFormat;
  /** Main output name: `disk.img` (raw), `disk.vmdk` (flat: plus `disk-flat.vmdk`), sparse, stream. */
  fileName: string;
  /** Re-read the written output through our own readers and compare its DiskFingerprint with the source's (default true). */
  verify?: boolean;
  hasher?: HasherFactory;
  /** Hashes elsewhere (e.g. a worker thread), overlapped with reads and writes; wins over `hasher`. */
  streamHasher?: StreamHasherFactory;
  /** Extra `ddb.*` entries for the written descriptor (keys without the prefix), e.g. copied from the base. */
  ddb?: Record<string, string>;
  /** Tuning of the read pipeline (chunk size, read-ahead); defaults keep a few MiB in flight. */
  walk?: Omit<WalkOptions, 'signal'>;
  /** When given, filled with where the time went (see ExportTimings); costs a few clock reads per piece. */
  timings?: ExportTimings;
  /** CRC-32 for the verify fingerprint (default: the core's table one; Node passes zlib's). */
  crc32?: Crc32Fn;
  /** All-zero test for zero detection (default: the core's word scan; Node passes a native compare). */
  zeroTest?: ZeroTestFn;
}

/**
 * Milliseconds of the export's thread, by `<phase>:<step>`, phase `export` or `verify`: `wall`
 * (whole phase), `read-wait` (awaiting the next piece: source reads and mapping not yet done),
 * `zero-scan` (finding all-zero blocks in data), `hash-data` / `hash-zeros` (handing data pieces /
 * zero and hole ranges to the hasher), `digest` (waiting for the hasher to finish), `put` (the
 * writer: zero detection plus waiting for the write queue), `finish` (last writes, truncate,
 * close), `open` (verify: opening the output). Also `<phase>:bytes-data` / `bytes-zeros`.
 */
export type ExportTimings = Record<string, number>;

function add(t: ExportTimings | undefined, key: string, v: number): void {
  if (t) t[key] = (t[key] ?? 0) + v;
}

export interface ExportResult {
  sha256: string;
  files: string[];
  bytesWritten: number;
  logicalBytes: number;
  verified: boolean;
}

const WRITERS: Record<ExportFormat, (ctx: WriterContext) => Promise<DiskWriter>> = {
  raw: createRawWriter,
  flat: createFlatWriter,
  sparse: createSparseWriter,
  stream: (ctx) => createStreamWriter(ctx),
};

/**
 * Pieces that need no I/O (holes, zero runs, GiBs of them) chain only microtasks: the hash loop
 * takes a macrotask turn every BREATHE_MS, so a SIGINT is seen at once (and a launcher that relays
 * it, like tsx, kills a child that does not answer within ~30 ms).
 */
const BREATHE_MS = 10;

/** Zero runs go to the hasher in pieces this big, with a breath between them (a hole may be TiBs). */
const ZERO_STEP = 64 * 1024 * 1024;

/** Options of hashDisk: the hasher (a StreamHasher wins over a synchronous one), progress, tuning. */
export interface HashDiskOptions {
  hasher?: HasherFactory;
  streamHasher?: StreamHasherFactory;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  phase?: string;
  walk?: Omit<WalkOptions, 'signal'>;
  timings?: ExportTimings;
  zeroTest?: ZeroTestFn;
}

/**
 * Hashes the logical disk of `disk` (holes as zeros), visiting only data extents, and passes each
 * piece to `each` (awaited in order, so writes keep their bounded queue). All-zero 64 KiB blocks
 * inside data are handed on as zero pieces (data null): writers leave them as holes and the
 * hasher hashes them without a copy. `eachReleases`: `each` is done with a piece's bytes when it
 * resolves (so read buffers can be reused; DiskWriter.releasesData).
 */
export async function hashDisk(disk: DiskChain, opts: HashDiskOptions, each?: (p: Piece) => Promise<void>, eachReleases = !each): Promise<string> {
  const h = (opts.streamHasher ?? streamHasherOf(opts.hasher))();
  const progress = throttle(opts.onProgress);
  const phase = opts.phase ?? 'hash';
  progress({ phase, done: 0, total: disk.size });
  // Optional split of the time by step (ExportTimings): each lap() adds the time since the last one.
  const t = opts.timings;
  let mark = t ? performance.now() : 0;
  const lap = (step: string) => {
    if (!t) return;
    const now = performance.now();
    add(t, `${phase}:${step}`, now - mark);
    mark = now;
  };
  const breathe = breather(BREATHE_MS);
  try {
    // Read buffers are recycled when nothing keeps a piece's bytes past its turn: the hasher copies
    // (or consumes) them before update() resolves, and `each` says whether it does too.
    const walk = { ...opts.walk, reuseBuffers: eachReleases, ...(opts.signal ? { signal: opts.signal } : {}) };
    for await (const whole of walkDisk(disk, walk)) {
      lap('read-wait');
      const parts = splitZeroRuns(whole, undefined, opts.zeroTest);
      lap('zero-scan');
      for (const p of parts) {
        if (p.data) await h.update(p.data);
        else {
          for (let n = p.length; n > 0; n -= ZERO_STEP) {
            await h.zeros(Math.min(n, ZERO_STEP));
            await breathe();
            throwIfAborted(opts.signal);
          }
        }
        lap(p.data ? 'hash-data' : 'hash-zeros');
        add(t, `${phase}:${p.data ? 'bytes-data' : 'bytes-zeros'}`, p.length);
        if (each) {
          await each(p);
          lap('put');
        }
      }
      progress({ phase, done: whole.offset + whole.length, total: disk.size });
      await breathe();
      throwIfAborted(opts.signal);
    }
    // A cancel that came with the last piece still cancels: the pass is not complete until digested.
    throwIfAborted(opts.signal);
    lap('read-wait');
    const hex = await h.digestHex();
    lap('digest');
    return hex;
  } catch (e) {
    h.dispose?.();
    throw e;
  }
}

/** A raw image read back as a one-layer chain (a raw file has no header to open it by). */
function rawLayer(src: ByteSource, path: string): DiskLayer {
  return {
    path,
    format: 'flat',
    capacity: src.size,
    grainSize: 512,
    async mapRange(offset, length) {
      return [{ kind: 'data', offset, length, source: src, sourceOffset: offset }];
    },
    async allocatedBytes() {
      return src.size;
    },
  };
}

async function openOutput(resolver: FileResolver, format: ExportFormat, fileName: string): Promise<DiskChain> {
  if (format === 'raw') {
    const src = await resolver.open(fileName);
    if (!src) throw new CorruptError(`verification failed: ${fileName} cannot be read back`);
    return new DiskChain([rawLayer(src, fileName)], []);
  }
  return openChain(resolver, fileName);
}

/**
 * Merges `disk` into one output file set of the chosen format, streaming in bounded memory, hashing
 * the logical disk on the way; then (unless verify is false) re-opens the output through our own
 * readers and compares its DiskFingerprint with the one taken of the written pieces. On failure
 * or cancel every sink is aborted and the outputs already committed are removed (when the target can); a failed or cancelled verification removes the
 * committed outputs too (a failure throws CorruptError). A target that stages its files (the CLI's)
 * keeps them under temporary names until its owner commits them after this returns.
 */
export async function exportDisk(disk: DiskChain, target: ExportTarget, opts: ExportOptions): Promise<ExportResult> {
  const makeWriter = WRITERS[opts.format];
  if (!makeWriter) throw new UserError(`unknown export format '${String(opts.format)}' (raw, flat, sparse or stream)`);
  if (!opts.fileName || /[\\/]/.test(opts.fileName)) throw new UserError(`bad output file name '${opts.fileName}'`);
  throwIfAborted(opts.signal);
  const sinks: ByteSink[] = [];
  // Files already closed (committed) when a later step fails: flat commits its data file before its descriptor.
  const committed: string[] = [];
  let writer: DiskWriter | null = null;
  let sha256: string;
  // What the verify pass must read back: computed from the same pieces the writer gets.
  const fingerprint = opts.verify === false ? null : new DiskFingerprint(opts.crc32, opts.zeroTest);
  const sha = opts.streamHasher ?? streamHasherOf(opts.hasher);
  try {
    writer = await makeWriter({
      create: async (name) => {
        const s = await target.create(name);
        sinks.push(s);
        return {
          name: s.name,
          write: (offset, data) => s.write(offset, data),
          truncate: (size) => s.truncate(size),
          close: async () => {
            await s.close();
            committed.push(name);
          },
          abort: () => s.abort(),
        };
      },
      fileName: opts.fileName,
      capacity: disk.size,
      ...(opts.ddb ? { ddb: opts.ddb } : {}),
    });
    const w = writer;
    const t0 = performance.now();
    sha256 = await hashDisk(
      disk,
      {
        streamHasher: fingerprint ? () => teeHasher(sha(), fingerprint) : sha,
        ...(opts.zeroTest ? { zeroTest: opts.zeroTest } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(opts.walk ? { walk: opts.walk } : {}),
        ...(opts.timings ? { timings: opts.timings } : {}),
        phase: 'export',
      },
      (p) => w.put(p),
      w.releasesData === true,
    );
    throwIfAborted(opts.signal);
    const t1 = performance.now();
    await w.finish();
    add(opts.timings, 'export:finish', performance.now() - t1);
    add(opts.timings, 'export:wall', performance.now() - t0);
  } catch (e) {
    await Promise.all(sinks.map((s) => s.abort().catch(() => {})));
    await removeAll(target, committed);
    if (opts.signal?.aborted && !(e instanceof CancelledError)) throw new CancelledError();
    throw e;
  }
  const files = writer.files;
  const bytesWritten = writer.bytesWritten();
  if (!fingerprint) return { sha256, files, bytesWritten, logicalBytes: disk.size, verified: false };

  const resolver = target.resolver();
  let check: string;
  const v0 = performance.now();
  try {
    const out = await openOutput(resolver, opts.format, opts.fileName);
    add(opts.timings, 'verify:open', performance.now() - v0);
    if (out.size !== disk.size) {
      throw new CorruptError(`verification failed: ${opts.fileName} reads back as ${out.size} bytes, expected ${disk.size}`);
    }
    // The read-back is checked against the export's fingerprint (a CRC-32 of the non-zero blocks),
    // not hashed again: a second SHA-256 of the disk would double the export's floor.
    check = await hashDisk(out, {
      streamHasher: () => new DiskFingerprint(opts.crc32, opts.zeroTest),
      ...(opts.zeroTest ? { zeroTest: opts.zeroTest } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.walk ? { walk: opts.walk } : {}),
      ...(opts.timings ? { timings: opts.timings } : {}),
      phase: 'verify',
    }, undefined, true);
    add(opts.timings, 'verify:wall', performance.now() - v0);
  } catch (e) {
    await resolver.closeAll?.().catch(() => {});
    // Cancelled or unreadable: no unverified output is left behind either way.
    await removeAll(target, files);
    if (e instanceof CancelledError || e instanceof CorruptError) throw e;
    throw new CorruptError(`verification failed: ${opts.fileName} cannot be read back (${e instanceof Error ? e.message : String(e)})`);
  }
  await resolver.closeAll?.().catch(() => {});
  const expected = fingerprint.digestHex();
  if (check !== expected) {
    await removeAll(target, files);
    throw new CorruptError(`verification failed: ${opts.fileName} reads back with fingerprint ${check}, expected ${expected} (CRC-32 of the non-zero 64 KiB blocks, their count, the length)`);
  }
  return { sha256, files, bytesWritten, logicalBytes: disk.size, verified: true };
}

async function removeAll(target: ExportTarget, files: string[]): Promise<void> {
  if (!target.remove) return;
  await Promise.all(files.map((f) => target.remove!(f).catch(() => {})));
}
