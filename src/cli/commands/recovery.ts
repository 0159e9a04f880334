import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { copySourceToSink } from '../../core/export/copy-source.js';
import { writeWhole } from '../../core/io/byte-sink.js';
import { EXPORT_FORMATS, exportDisk, hashDisk, type ExportFormat } from '../../core/export/export-disk.js';
import { throttle, type Progress } from '../../core/progress.js';
import { listTextRemnants } from '../../core/recovery/deleted-files.js';
import { CANDIDATE_PARENT, candidateTotals, descriptorInfo, listDeletedFiles, pickCandidate, rebuiltDelta, recoveredDisk, scanForDeltas, type Candidate, type ScanResult } from '../../core/recovery/index.js';
import { NodeFileSink } from '../../platform/node/file-sink.js';
import type { Datastore } from '../../core/vmfs/index.js';
import { NodeExportTarget } from '../../platform/node/export-target.js';
import { nativeSha256 } from '../../platform/node/native-hash.js';
import { nodeExportTuning } from '../../platform/node/export-tuning.js';
import { option, parseArgs, requireOption, type CliIO } from '../args.js';
import { withDatastore } from '../open-datastore.js';

/**
 * `scan` and `recover`: find deleted snapshot deltas in datastore dumps and rebuild them over
 * their parent. Flags, JSON keys and "sha256 on the last stdout line" are a public contract.
 */

function progressTo(io: CliIO) {
  return throttle((p: Progress) => {
    const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0;
    io.err(`${p.phase}: ${pct}%`);
  }, 1000);
}

function withSigint<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  return fn(ac.signal).finally(() => process.off('SIGINT', onSigint));
}

/** The JSON shape of one candidate (public contract: extend, never rename). */
function candidateJson(c: Candidate) {
  return {
    id: c.id,
    format: c.format,
    capacityBytes: c.capacityBytes,
    sizeBytes: c.sizeBytes,
    confidence: c.confidence,
    parent: c.parent,
    evidence: c.evidence,
    recoverableGrains: c.recoverableGrains,
    lostGrains: c.lostGrains,
    grainBytes: c.grainBytes,
    method: c.method,
    reasons: c.reasons,
    parentReasons: c.parentReasons,
    lostRuns: c.lostRuns,
    ...(c.descriptor
      ? { descriptor: descriptorInfo(c.descriptor) }
      : {}),
  };
}

function scanJson(r: ScanResult) {
  return { volume: r.volume, candidates: r.candidates.map(candidateJson), unassembled: r.unassembled, warnings: r.warnings };
}

export async function runScan(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, ['image'], ['json']);
  if (a.positional.length) throw new UserError('usage: scan --image DUMP [--image ...] [--json]');
  return withDatastore(a.options.get('image') ?? [], 'scan', io, (ds) =>
    withSigint(async (signal) => {
      const r = await scanForDeltas(ds, { signal, onProgress: progressTo(io) });
      for (const w of r.warnings) io.err(`warning: ${w}`);
      if (a.switches.has('json')) {
        io.out(JSON.stringify(scanJson(r), null, 2));
        return 0;
      }
      io.out(`${r.candidates.length} candidate(s) on ${r.volume.label} (${r.volume.freeBlocks} free of ${r.volume.totalBlocks} blocks)`);
      for (const c of r.candidates) {
        io.out(`${c.id}  ${c.format}  capacity ${c.capacityBytes}  confidence ${c.confidence}  grains ${c.recoverableGrains} recoverable, ${c.lostGrains} lost  parent ${c.parent ?? '-'}`);
        for (const e of c.evidence) io.out(`    ${e.kind}: ${e.detail}`);
        for (const why of c.reasons) io.out(`    ${why}`);
      }
      for (const e of r.unassembled) io.out(`unassembled: ${e.detail}`);
      return 0;
    }),
  );
}

export async function runRecover(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, ['image', 'candidate', 'out', 'format', 'parent', 'report'], ['no-verify']);
  if (a.positional.length) throw new UserError('usage: recover --image DUMP [...] --candidate ID --out FILE --format raw|flat|sparse|stream|delta [--parent PATH] [--report FILE.json]');
  const id = requireOption(a, 'candidate');
  const out = path.resolve(requireOption(a, 'out'));
  const format = requireOption(a, 'format') as ExportFormat | 'delta';
  if (format !== 'delta' && !EXPORT_FORMATS.includes(format)) throw new UserError(`unknown --format '${format}' (raw, flat, sparse, stream or delta)`);
  const dir = path.dirname(out);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new UserError(`output folder does not exist: ${dir}`);
  if ((await stat(out).catch(() => null))?.isDirectory()) throw new UserError(`--out names a folder, not a file: ${out}`);
  const reportPath = option(a, 'report');
  return withDatastore(a.options.get('image') ?? [], 'recover', io, (ds) =>
    withSigint(async (signal) => {
      const progress = progressTo(io);
      const r = await scanForDeltas(ds, { signal, onProgress: progress });
      const c = pickCandidate(r, id);
      const parentPath = option(a, 'parent') ?? c.parent;
      if (format === 'delta') return writeDelta(ds, r, c, parentPath, out, reportPath, io, signal);
      const { disk, parent, warnings } = await recoveredDisk(ds, c, parentPath, r.candidates);
      for (const w of warnings) io.err(`warning: ${w}`);
      for (const l of disk.links) for (const w of l.warnings) io.err(`warning: ${w}`);
      const res = await exportDisk(disk, new NodeExportTarget(dir), {
        format,
        fileName: path.basename(out),
        verify: !a.switches.has('no-verify'),
        ...nodeExportTuning,
        signal,
        onProgress: progress,
      });
      if (reportPath) {
        const report = {
          volume: r.volume,
          candidate: candidateJson(c),
          parent,
          parentChain: disk.links.slice(1).map((l) => l.path),
          lostRuns: c.lostRuns,
          totals: candidateTotals(c),
          output: { format, files: res.files.map((f) => path.join(dir, f)), bytesWritten: res.bytesWritten, verified: res.verified },
          hashes: { logicalSha256: res.sha256 },
          warnings: [...r.warnings, ...warnings],
        };
        await writeFile(path.resolve(reportPath), JSON.stringify(report, null, 2) + '\n');
      }
      io.err(`recovered ${c.id}: ${c.recoverableGrains} grains from the delta, ${c.lostGrains} lost grains read from ${parent ?? 'zeros'}${res.verified ? ', output verified' : ''}`);
      for (const f of res.files) io.out(path.join(dir, f));
      io.out(res.sha256);
      return 0;
    }),
  );
}

/**
 * `recover --format delta`: the rebuilt delta file as found (lost blocks NOT filled: zeros) and a
 * descriptor beside it (`--out` names it) with parentCID = the parent's CID and
 * parentFileNameHint = the parent descriptor's name, for use in place next to the parent's files.
 * The last stdout line is the sha256 of the disk that pair gives over the parent (lost data grains
 * read as zeros there; `recover --format raw` reads the parent for them).
 */
async function writeDelta(ds: Datastore, r: ScanResult, c: Candidate, parentPath: string | null, out: string, reportPath: string | undefined, io: CliIO, signal: AbortSignal): Promise<number> {
  if (!parentPath) throw new UserError(`${c.id}: no parent guessed; --format delta needs --parent PATH (the parent descriptor on the volume)`);
  if (parentPath.startsWith(CANDIDATE_PARENT)) throw new UserError(`${c.id}: its parent is another recovered delta (${parentPath}); --format delta needs a live parent (--parent PATH), or export the whole chain as raw|flat|sparse|stream`);
  const dir = path.dirname(out);
  const d = await rebuiltDelta(ds, c, parentPath, path.basename(out));
  const dataPath = path.join(dir, d.dataName);
  const copy = await copySourceToSink(d.data, await NodeFileSink.create(dataPath), { hasher: nativeSha256, signal, onProgress: progressTo(io) });
  await writeWhole(await NodeFileSink.create(out), new TextEncoder().encode(d.descriptor));
  for (const n of d.notes) io.err(`note: ${n}`);
  const sha = await hashDisk(d.asWritten, { ...nodeExportTuning, signal, onProgress: progressTo(io), phase: 'hash' });
  if (reportPath) {
    const report = {
      volume: r.volume,
      candidate: candidateJson(c),
      parent: parentPath,
      lostRuns: c.lostRuns,
      delta: {
        descriptor: out,
        dataFile: dataPath,
        dataSha256: copy.sha256,
        dataBytes: copy.bytes,
        cid: d.cid,
        parentCid: d.parentCid,
        parentFileNameHint: d.parentFileNameHint,
        lostGrainsFilled: false,
        notes: d.notes,
      },
      hashes: { logicalSha256: sha },
      warnings: r.warnings,
    };
    await writeFile(path.resolve(reportPath), JSON.stringify(report, null, 2) + '\n');
  }
  io.err(`wrote ${c.id} as a ${c.format} delta over ${d.parentFileNameHint} (parentCID ${d.parentCid}); copy the parent's files beside it`);
  io.out(out);
  io.out(dataPath);
  io.out(sha);
  return 0;
}

/**
 * `ls --deleted`: freed and orphan FDs (JSON: array of {name, dir, type, size, fdAddress,
 * fdAddressText, generation, mtime, state}; name is null when no directory remnant gives it),
 * then descriptor / .vmsd text left in free sub-blocks (type 'descriptor-text' | 'vmsd-text',
 * fdAddress 0, plus volOffset and detail).
 */
export async function lsDeleted(ds: Datastore, json: boolean, io: CliIO): Promise<number> {
  const { files, warnings } = await listDeletedFiles(ds);
  const text = await listTextRemnants(ds);
  for (const w of [...warnings, ...text.warnings]) io.err(`warning: ${w}`);
  const remnants = text.remnants.map((t) => ({ name: null, dir: null, type: t.kind, size: t.size, fdAddress: 0, fdAddressText: '', generation: 0, mtime: 0, state: 'deleted' as const, volOffset: t.volOffset, detail: t.detail }));
  if (json) {
    io.out(JSON.stringify([...files, ...remnants], null, 2));
    return 0;
  }
  for (const f of files) {
    const where = f.dir ? `${f.dir === '/' ? '' : f.dir}/` : '';
    io.out(`${f.state.padEnd(7)} ${f.type.padEnd(9)} ${String(f.size).padStart(14)} ${f.fdAddressText} ${where}${f.name ?? '?'}`);
  }
  for (const t of remnants) io.out(`deleted ${t.type} ${String(t.size).padStart(8)} at volume 0x${t.volOffset.toString(16)}: ${t.detail}`);
  return 0;
}
