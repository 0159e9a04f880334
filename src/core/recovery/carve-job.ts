import { UserError } from '../errors.js';
import { SliceSource, type ByteSource } from '../io/byte-source.js';
import type { JobOptions } from '../progress.js';
import { VolumeSource } from '../vmfs/lvm.js';
import { fsOf, type Datastore } from '../vmfs/index.js';
import { HEADER_PROBE_BYTES } from './delta-header.js';
import { blockUseOf, probeHeads, readHead, type FreeRange, type RangeEvidence } from './free-ranges.js';

/**
 * A range of the free-space pass as plain reads in the dump files, so a worker can carve it without
 * opening the datastore (no metadata reads, no allocation map): its free blocks in runs, each run
 * mapped straight to one dump file. Same evidence as carveFreeRange on the opened datastore.
 */
export interface CarveJob {
  range: FreeRange;
  blockSize: number;
  volumeSize: number;
  /** Free blocks [block, block + count) whose heads sit at fileOffset + i × blockSize of dump file `file` (-1: not in the dump). */
  runs: { block: number; count: number; file: number; fileOffset: number }[];
}

/** Runs a job may hold: past this the range is carved on the opened datastore instead. */
export const MAX_JOB_RUNS = 65536;

/** Where volume offset `at` sits in the dump files `roots` (through partitions and LVM runs), or null. */
function fileOffsetOf(vol: ByteSource, at: number, roots: readonly ByteSource[]): { file: number; offset: number } | null {
  let src = vol;
  let off = at;
  for (let depth = 0; depth < 8; depth++) {
    const file = roots.indexOf(src);
    if (file >= 0) return { file, offset: off };
    if (src instanceof SliceSource) {
      off += src.start;
      src = src.inner;
    } else if (src instanceof VolumeSource) {
      const r = src.runs.find((x) => off >= x.offset && off < x.offset + x.length);
      if (!r?.device) return null;
      off = r.deviceOffset + (off - r.offset);
      src = r.device.source;
    } else return null;
  }
  return null;
}

/**
 * The jobs of `ranges` on the datastore opened over `roots` (in the order the files were picked),
 * or null when the volume's layering is not mapped here or a range would need over MAX_JOB_RUNS
 * runs: carve on the opened datastore then.
 */
export async function carveJobs(ds: Datastore, ranges: readonly FreeRange[], roots: readonly ByteSource[]): Promise<CarveJob[] | null> {
  const use = await blockUseOf(ds);
  const vol = fsOf(ds).vol;
  const bs = use.blockSize;
  const jobs: CarveJob[] = [];
  for (const range of ranges) {
    const runs: CarveJob['runs'] = [];
    for (let b = Math.max(0, range.startBlock); b < Math.min(range.endBlock, use.totalBlocks); b++) {
      if (use.isUsed(b)) continue;
      const m = b * bs + HEADER_PROBE_BYTES > vol.size ? null : fileOffsetOf(vol, b * bs, roots);
      const last = runs[runs.length - 1];
      const file = m?.file ?? -1;
      if (last && last.block + last.count === b && last.file === file && (file < 0 || last.fileOffset + last.count * bs === m!.offset)) last.count++;
      else {
        if (runs.length >= MAX_JOB_RUNS) return null;
        runs.push({ block: b, count: 1, file, fileOffset: m?.offset ?? 0 });
      }
    }
    jobs.push({ range: { startBlock: range.startBlock, endBlock: range.endBlock }, blockSize: bs, volumeSize: vol.size, runs });
  }
  return jobs;
}

/** Carves one job over the dump files (same order as when the job was made); `window`: reads per batch (see probeHeads). */
export async function carveJob(files: readonly ByteSource[], job: CarveJob, opts: JobOptions = {}, window?: () => number): Promise<RangeEvidence> {
  const bs = job.blockSize;
  if (!Number.isSafeInteger(bs) || bs <= 0 || !Array.isArray(job.runs)) throw new UserError('invalid carve job');
  const count = job.runs.reduce((n, r) => n + r.count, 0);
  // probeHeads asks for each block's head right after the generator yields it.
  let at: { file: number; offset: number } | null = null;
  function* blocks() {
    for (const r of job.runs) {
      for (let i = 0; i < r.count; i++) {
        at = r.file >= 0 ? { file: r.file, offset: r.fileOffset + i * bs } : null;
        yield r.block + i;
      }
    }
  }
  const head = () => {
    const src = at ? files[at.file] : undefined;
    return src ? readHead(src, at!.offset) : null;
  };
  return probeHeads(job.range, bs, job.volumeSize, count, blocks(), head, opts, window);
}
