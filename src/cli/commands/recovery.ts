import { stat } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted, UserError } from '../../core/errors.js';
import { copySourceToSink } from '../../core/export/copy-source.js';
import { EXPORT_FORMATS, exportDisk, hashDisk, type ExportFormat } from '../../core/export/export-disk.js';
import { flatDataName } from '../../core/export/flat-writer.js';
import { listTextRemnants } from '../../core/recovery/deleted-files.js';
import { ambiguousParentMessage, precheckCandidateId, CANDIDATE_PARENT, candidateInfo, listDeletedFiles, pickCandidate, rebuiltDelta, recoveredDisk, recoveryReport, scanForDeltas, scanJson, type Candidate, type ScanResult } from '../../core/recovery/index.js';
import type { Datastore } from '../../core/vmfs/index.js';
import { NodeExportTarget } from '../../platform/node/export-target.js';
import { nativeSha256 } from '../../platform/node/native-hash.js';
import { refuseOutputsOnInputs, type RolePath } from '../../platform/node/output-guard.js';
import { StagedOutputs } from '../../platform/node/staged-outputs.js';
import { nodeExportTuning } from '../../platform/node/export-tuning.js';
import { option, parseArgs, requireOption, type CliIO } from '../args.js';
import { withSigint } from '../interrupt.js';
import { progressLines } from '../progress-lines.js';
import { resumeOption } from '../deep-state.js';
import { inputFiles, MEMBER_FLAGS, withDatastore } from '../open-datastore.js';

/**
 * `scan` and `recover`: find deleted snapshot deltas in datastore dumps and rebuild them over
 * their parent. Flags, JSON keys and "sha256 on the last stdout line" are a public contract.
 */

const progressTo = (io: CliIO) => progressLines(io);

/** A 0..1 score as a whole percentage. */
const pct = (x: number) => `${Math.round(x * 100)}%`;

export async function runScan(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, ['image', 'volume', 'resume', ...MEMBER_FLAGS], ['json']);
  const resume = await resumeOption(a, a.options.has('volume'));
  if (a.positional.length) throw new UserError('usage: scan --image DUMP [--image ...] [--volume UUID] [--json]');
  return withSigint((signal) => withDatastore(a, 'scan', io, async (ds) => {
      const r = await scanForDeltas(ds, { signal, onProgress: progressTo(io) });
      for (const w of r.warnings) io.err(`warning: ${w}`);
      if (a.switches.has('json')) {
        io.out(JSON.stringify(scanJson(r), null, 2));
        return 0;
      }
      io.out(`${r.candidates.length} candidate(s) on ${r.volume.label} (${r.volume.freeBlocks} free of ${r.volume.totalBlocks} blocks)`);
      for (const c of r.candidates) {
        io.out(`${c.id}  ${c.format}  capacity ${c.capacityBytes}  confidence ${pct(c.confidence)} (identity ${pct(c.identity)}, completeness ${pct(c.completeness)})  grains ${c.recoverableGrains} recoverable, ${c.guessedGrains} guessed, ${c.lostGrains} lost  parent ${c.parent ?? (c.parentAmbiguous ? 'ambiguous' : '-')}`);
        if (c.parentAmbiguous) for (const alt of c.parentAlternatives) io.out(`    parent alternative ${alt.path} (score ${alt.score})`);
        for (const e of c.evidence) io.out(`    ${e.kind}: ${e.detail}`);
        for (const why of c.identityReasons) io.out(`    identity: ${why.text}${why.kind ? ` [${why.kind}]` : ''}`);
        for (const why of c.completenessReasons) io.out(`    completeness: ${why.text}`);
      }
      for (const e of r.unassembled) io.out(`unassembled: ${e.detail}`);
      if (r.rejectedCount > 0) io.out(`${r.rejectedCount} remnant(s) rejected${r.rejectedCount > r.rejected.length ? ` (first ${r.rejected.length} listed)` : ''}`);
      for (const x of r.rejected) io.out(`    rejected ${x.kind} at volume 0x${x.volOffset.toString(16)}: ${x.reason}`);
      return 0;
  }, { volume: option(a, 'volume'), signal, resume }));
}

export async function runRecover(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, ['image', 'candidate', 'out', 'format', 'parent', 'report', 'volume', 'resume', ...MEMBER_FLAGS], ['no-verify']);
  const resume = await resumeOption(a, a.options.has('volume'));
  if (a.positional.length) throw new UserError('usage: recover --image DUMP [...] [--volume UUID] --candidate ID --out FILE --format raw|flat|sparse|stream|delta [--parent PATH] [--report FILE.json]');
  const id = requireOption(a, 'candidate');
  const out = path.resolve(requireOption(a, 'out'));
  const format = requireOption(a, 'format') as ExportFormat | 'delta';
  if (format !== 'delta' && !EXPORT_FORMATS.includes(format)) throw new UserError(`unknown --format '${format}' (raw, flat, sparse, stream or delta)`);
  const dir = path.dirname(out);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new UserError(`output folder does not exist: ${dir}`);
  if ((await stat(out).catch(() => null))?.isDirectory()) throw new UserError(`--out names a folder, not a file: ${out}`);
  const reportArg = option(a, 'report');
  const reportPath = reportArg === undefined ? undefined : path.resolve(reportArg);
  if (reportPath && !(await stat(path.dirname(reportPath)).catch(() => null))?.isDirectory()) throw new UserError(`--report folder does not exist: ${path.dirname(reportPath)}`);
  // Refused before the scan, so a mistyped --out costs nothing (the delta's data file is checked once named).
  const inputs: RolePath[] = inputFiles(a);
  const outputs: RolePath[] = [{ path: out, role: '--out' }, ...(format === 'flat' ? [{ path: flatDataName(out), role: 'the flat data file of --out' }] : []), ...(reportPath ? [{ path: reportPath, role: '--report' }] : [])];
  await refuseOutputsOnInputs(outputs, inputs);
  // Every output is staged and published together at the end: a SIGINT or error leaves the folder as it was.
  const staged = new StagedOutputs();
  return withSigint((signal) =>
    withDatastore(a, 'recover', io, async (ds) => {
      const progress = progressTo(io);
      await precheckCandidateId(ds, id); // a mistyped id is said at once, not after the whole scan
      const r = await scanForDeltas(ds, { signal, onProgress: progress });
      const c = pickCandidate(r, id);
      const parentPath = option(a, 'parent') ?? c.parent;
      if (format === 'delta') return writeDelta(ds, r, c, parentPath, out, reportPath, { io, signal, staged, outputs, inputs });
      const { disk, parent, warnings } = await recoveredDisk(ds, c, parentPath, r.candidates);
      for (const w of warnings) io.err(`warning: ${w}`);
      for (const l of disk.links) for (const w of l.warnings) io.err(`warning: ${w}`);
      const res = await exportDisk(disk, new NodeExportTarget(dir, staged), {
        format,
        fileName: path.basename(out),
        verify: !a.switches.has('no-verify'),
        ...nodeExportTuning,
        signal,
        onProgress: progress,
      });
      if (reportPath) {
        const report = recoveryReport(r, c, parent, {
          parentChain: disk.links.slice(1).map((l) => l.path),
          output: { format, files: res.files.map((f) => path.join(dir, f)), bytesWritten: res.bytesWritten, verified: res.verified },
          sha256: res.sha256,
          warnings,
        });
        await staged.writeFile(reportPath, JSON.stringify(report, null, 2) + '\n');
      }
      throwIfAborted(signal);
      await staged.commit();
      io.err(`recovered ${c.id}: ${c.recoverableGrains} grains from the delta${c.guessedGrains ? ` and ${c.guessedGrains} from blocks placed by contiguity (guessed)` : ''}, ${c.lostGrains} lost grains read from ${parent ?? 'zeros'}${res.verified ? ', output verified' : ''}`);
      for (const f of res.files) io.out(path.join(dir, f));
      io.out(res.sha256);
      return 0;
    }, { volume: option(a, 'volume'), signal, resume }),
  ).finally(() => staged.abort());
}

/**
 * `recover --format delta`: the rebuilt delta file as found (lost blocks NOT filled: zeros) and a
 * descriptor beside it (`--out` names it) with parentCID = the parent's CID and
 * parentFileNameHint = the parent descriptor's name, for use in place next to the parent's files.
 * The last stdout line is the sha256 of the disk that pair gives over the parent (lost data grains
 * read as zeros there; `recover --format raw` reads the parent for them).
 */
async function writeDelta(
  ds: Datastore,
  r: ScanResult,
  c: Candidate,
  parentPath: string | null,
  out: string,
  reportPath: string | undefined,
  w: { io: CliIO; signal: AbortSignal; staged: StagedOutputs; outputs: RolePath[]; inputs: RolePath[] },
): Promise<number> {
  const { io, signal, staged } = w;
  if (!parentPath && c.parentAmbiguous) throw new UserError(ambiguousParentMessage(c));
  if (!parentPath) throw new UserError(`${c.id}: no parent guessed; --format delta needs --parent PATH (the parent descriptor on the volume)`);
  if (parentPath.startsWith(CANDIDATE_PARENT)) throw new UserError(`${c.id}: its parent is another recovered delta (${parentPath}); --format delta needs a live parent (--parent PATH), or export the whole chain as raw|flat|sparse|stream`);
  const dir = path.dirname(out);
  const d = await rebuiltDelta(ds, c, parentPath, path.basename(out));
  const dataPath = path.join(dir, d.dataName);
  await refuseOutputsOnInputs([...w.outputs, { path: dataPath, role: 'the delta data file of --out' }], w.inputs);
  const copy = await copySourceToSink(d.data, await staged.create(dataPath), { hasher: nativeSha256, signal, onProgress: progressTo(io) });
  await staged.writeFile(out, d.descriptor);
  for (const n of d.notes) io.err(`note: ${n}`);
  const sha = await hashDisk(d.asWritten, { ...nodeExportTuning, signal, onProgress: progressTo(io), phase: 'hash' });
  if (reportPath) {
    const report = {
      volume: r.volume,
      candidate: candidateInfo(c),
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
    await staged.writeFile(reportPath, JSON.stringify(report, null, 2) + '\n');
  }
  throwIfAborted(signal);
  await staged.commit();
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
  if (files.length === 0 && remnants.length === 0) io.out('no deleted file, orphan file descriptor or text remnant found');
  return 0;
}
