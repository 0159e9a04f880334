import { stat } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted, UserError } from '../../core/errors.js';
import { EXPORT_FORMATS, exportDisk, type ExportFormat } from '../../core/export/export-disk.js';
import { flatDataName } from '../../core/export/flat-writer.js';
import { openChain } from '../../core/vmdk/chain.js';
import type { DiskChain } from '../../core/vmdk/disk-chain.js';
import type { ChainLinkInfo } from '../../core/vmdk/types.js';
import { NodeExportTarget } from '../../platform/node/export-target.js';
import { NodeFsResolver } from '../../platform/node/fs-resolver.js';
import { nodeExportTuning } from '../../platform/node/export-tuning.js';
import { refuseOutputsOnInputs, type RolePath } from '../../platform/node/output-guard.js';
import { StagedOutputs } from '../../platform/node/staged-outputs.js';
import { option, parseArgs, requireOption, type CliIO } from '../args.js';
import { withSigint } from '../interrupt.js';
import { progressLines } from '../progress-lines.js';
import { snapshots } from './snapshots.js';

/**
 * `vmdk info | map | export`. Command words, flags and JSON keys are a public contract
 * (see src/cli/main.ts): extend, never rename.
 */
export async function runVmdk(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'info':
      return info(rest, io);
    case 'map':
      return map(rest, io);
    case 'export':
      return exportCmd(rest, io);
    case 'snapshots':
      return snapshots(rest, io);
    default:
      throw new UserError(sub === undefined ? 'vmdk needs a subcommand: info, map, export or snapshots' : `unknown vmdk subcommand '${sub}' (info, map, export or snapshots)`);
  }
}

function oneFile(positional: string[], usage: string): string {
  if (positional.length !== 1) throw new UserError(`usage: ${usage}`);
  return positional[0]!;
}

/** Opens the chain with a Node resolver; the caller closes the files. */
async function open(file: string, ignoreCid: boolean): Promise<{ chain: DiskChain; resolver: NodeFsResolver }> {
  const resolver = new NodeFsResolver();
  try {
    const st = await stat(file).catch(() => null);
    if (!st) throw new UserError(`missing file: ${file}`);
    if (!st.isFile()) throw new UserError(`not a file: ${file}`);
    return { chain: await openChain(resolver, file, { ignoreCid }), resolver };
  } catch (e) {
    await resolver.closeAll();
    throw e;
  }
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

function describeLink(l: ChainLinkInfo): string[] {
  const out = [
    `${l.path}`,
    `  createType ${l.createType}, format ${l.format}`,
    `  capacity ${l.capacityBytes} bytes (${gib(l.capacityBytes)}), grain ${l.grainSizeBytes} bytes, allocated ${l.allocatedBytes} bytes`,
    `  CID ${l.cid ?? '-'}, parentCID ${l.parentCid ?? '-'}${l.parentHint ? `, parent "${l.parentHint}"` : ''}${l.cidOk === false ? ' (CID MISMATCH ignored)' : l.cidOk ? ' (CID ok)' : ''}`,
  ];
  for (const e of l.extents) out.push(`  extent ${e.type} ${e.sectors} sectors${e.fileName ? ` "${e.fileName}"` : ''}${e.offset ? ` at sector ${e.offset}` : ''} (${e.format})`);
  for (const w of l.warnings) out.push(`  warning: ${w}`);
  return out;
}

async function info(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, [], ['json', 'ignore-cid']);
  const file = oneFile(a.positional, 'vmdk info FILE [--json] [--ignore-cid]');
  const { chain, resolver } = await open(file, a.switches.has('ignore-cid'));
  try {
    const top = chain.links[0]!;
    if (a.switches.has('json')) {
      io.out(
        JSON.stringify({
          path: top.path,
          createType: top.createType,
          format: top.format,
          capacityBytes: top.capacityBytes,
          grainSizeBytes: top.grainSizeBytes,
          cid: top.cid,
          parentCid: top.parentCid,
          parentHint: top.parentHint,
          extents: top.extents,
          allocatedBytes: top.allocatedBytes,
          chain: chain.links,
        }),
      );
    } else {
      io.out(`chain of ${chain.links.length} disk(s), top first; logical size ${chain.size} bytes (${gib(chain.size)})`);
      for (const l of chain.links) for (const line of describeLink(l)) io.out(line);
    }
    return 0;
  } finally {
    await resolver.closeAll();
  }
}

type Run = { offset: number; length: number; kind: string; layer?: number; missing?: true; reason?: string };

function pushRun(runs: Run[], r: Run): void {
  const prev = runs[runs.length - 1];
  if (prev && prev.kind === r.kind && prev.layer === r.layer && !prev.missing && !r.missing && prev.offset + prev.length === r.offset) prev.length += r.length;
  else runs.push(r);
}

const MAP_WINDOW = 1024 * 1024 * 1024;

async function map(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, [], ['json', 'ignore-cid']);
  const file = oneFile(a.positional, 'vmdk map FILE --json [--ignore-cid]');
  const { chain, resolver } = await open(file, a.switches.has('ignore-cid'));
  try {
    const top = chain.layers[0]!;
    const runs: Run[] = [];
    const resolved: Run[] = [];
    for (let w = 0; w < chain.size; w += MAP_WINDOW) {
      const len = Math.min(MAP_WINDOW, chain.size - w);
      for (const e of await top.mapRange(w, len)) {
        if (e.kind === 'data') pushRun(runs, { offset: e.offset, length: e.length, kind: 'allocated' });
        else if (e.kind === 'zero') pushRun(runs, { offset: e.offset, length: e.length, kind: 'zero' });
        else if (e.kind === 'parent') pushRun(runs, { offset: e.offset, length: e.length, kind: 'parent' });
        // Metadata points outside the file: reads fall through to the parent; flagged for the damage map.
        else runs.push({ offset: e.offset, length: e.length, kind: 'parent', missing: true, reason: e.reason });
      }
      for (const e of await chain.mapRange(w, len)) {
        pushRun(resolved, e.kind === 'hole' ? { offset: e.offset, length: e.length, kind: 'hole' } : { offset: e.offset, length: e.length, kind: e.kind, layer: e.layer });
      }
    }
    if (a.switches.has('json')) {
      io.out(JSON.stringify({ path: top.path, capacityBytes: chain.size, layers: chain.links.map((l) => l.path), runs, resolved }));
    } else {
      io.out(`${top.path}: ${chain.size} bytes; top layer runs (offset length kind):`);
      for (const r of runs) io.out(`  0x${r.offset.toString(16)} ${r.length} ${r.kind}${r.missing ? ` (missing: ${r.reason})` : ''}`);
      io.out('resolved through the chain (offset length kind layer):');
      for (const r of resolved) io.out(`  0x${r.offset.toString(16)} ${r.length} ${r.kind}${r.layer !== undefined ? ` ${chain.links[r.layer]?.path}` : ''}`);
    }
    return 0;
  } finally {
    await resolver.closeAll();
  }
}

/** Input files of a chain: every descriptor and extent file named, and every file the resolver opened. */
function inputFiles(chain: DiskChain, resolver: NodeFsResolver): RolePath[] {
  const s: RolePath[] = [];
  for (const [k, l] of chain.links.entries()) {
    const role = k === 0 ? 'disk' : 'parent disk';
    s.push({ path: l.path, role });
    for (const e of l.extents) if (e.fileName) s.push({ path: path.resolve(path.dirname(l.path), e.fileName), role: `extent of ${l.path}` });
  }
  for (const p of resolver.openedPaths()) s.push({ path: p, role: 'input file' });
  return s;
}

async function exportCmd(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, ['out', 'format'], ['ignore-cid', 'no-verify']);
  const usage = 'vmdk export TOP.vmdk --out OUT --format raw|flat|sparse|stream [--ignore-cid] [--no-verify]';
  const file = oneFile(a.positional, usage);
  const out = path.resolve(requireOption(a, 'out'));
  const format = requireOption(a, 'format') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw new UserError(`unknown --format '${option(a, 'format')}' (raw, flat, sparse or stream)`);
  const dir = path.dirname(out);
  const dst = await stat(dir).catch(() => null);
  if (!dst?.isDirectory()) throw new UserError(`output folder does not exist: ${dir}`);
  const outSt = await stat(out).catch(() => null);
  if (outSt?.isDirectory()) throw new UserError(`--out names a folder, not a file: ${out}`);

  const { chain, resolver } = await open(file, a.switches.has('ignore-cid'));
  const staged = new StagedOutputs();
  try {
    const outputs = [{ path: out, role: '--out' }, ...(format === 'flat' ? [{ path: flatDataName(out), role: 'the flat data file of --out' }] : [])];
    await refuseOutputsOnInputs(outputs, inputFiles(chain, resolver));
    return await withSigint((signal) => exportStaged(chain, dir, out, format, a.switches.has('no-verify'), staged, signal, io));
  } finally {
    await staged.abort();
    await resolver.closeAll();
  }
}

/** The export into temporary files, verified there, then renamed into place (see StagedOutputs). */
async function exportStaged(chain: DiskChain, dir: string, out: string, format: ExportFormat, noVerify: boolean, staged: StagedOutputs, signal: AbortSignal, io: CliIO): Promise<number> {
  for (const l of chain.links) for (const w of l.warnings) io.err(`warning: ${w}`);

  const started = performance.now();
  const report = progressLines(io, (p) => `(${gib(p.done)} of ${gib(p.total)})`);
  const r = await exportDisk(chain, new NodeExportTarget(dir, staged), {
    format,
    fileName: path.basename(out),
    verify: !noVerify,
    ...nodeExportTuning,
    ddb: chain.descriptorDdb(),
    signal,
    onProgress: report,
  });
  throwIfAborted(signal);
  await staged.commit();
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  io.err(`${r.verified ? 'exported and verified' : 'exported (not verified)'} in ${secs} s: ${r.bytesWritten} bytes written`);
  for (const f of r.files) io.out(path.join(dir, f));
  io.out(r.sha256);
  return 0;
}
