import { stat } from 'node:fs/promises';
import { throwIfAborted, UserError } from '../../core/errors.js';
import { bulkBuffer, readInto } from '../../core/io/read-into.js';
import type { RaidDetection } from '../../core/raid/detect.js';
import { refuseOutputsOnInputs } from '../../platform/node/output-guard.js';
import { parseArgs, requireOption, type CliIO } from '../args.js';
import { withSigint } from '../interrupt.js';
import { progressLines } from '../progress-lines.js';
import { inputFiles, MEMBER_FLAGS } from '../open-datastore.js';
import { detectionText, openMembers, RaidUndecidedError, resolveRaid, withRaidLun } from '../raid-members.js';

/**
 * `raid detect | assemble` over member dumps of a RAID (--member, repeated). The JSON keys are a
 * public contract (see src/cli/main.ts): extend, never rename.
 */
export async function runRaid(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  const a = parseArgs(rest, [...MEMBER_FLAGS, 'out'], ['json']);
  if (a.positional.length) throw new UserError(`unexpected argument ${a.positional[0]} (usage: raid detect|assemble --member FILE ...)`);
  switch (sub) {
    case 'detect':
      return detect(a, io);
    case 'assemble':
      return assemble(a, io);
    default:
      throw new UserError('usage: raid detect --member FILE [--member ...] [--json] | raid assemble --member FILE [...] --out LUN.img');
  }
}

function detectionJson(d: RaidDetection) {
  return {
    level: d.level,
    stripeBytes: d.stripeBytes,
    layout: d.layout,
    parityDelay: d.parityDelay,
    members: d.members.map((m) => ({ file: m.name, role: m.role, offsetBytes: m.offsetBytes })),
    missing: d.missing,
    sizeBytes: d.sizeBytes,
    confidence: d.confidence,
    evidence: d.evidence,
  };
}

async function detect(a: ReturnType<typeof parseArgs>, io: CliIO): Promise<number> {
  const paths = a.options.get('member') ?? [];
  if (paths.length === 0) throw new UserError('raid detect needs --member FILE (once per member)');
  const json = a.switches.has('json');
  const sources = await openMembers(paths);
  try {
    const d = await withSigint((signal) => resolveRaid(sources, paths, a, io, signal));
    if (json) io.out(JSON.stringify(detectionJson(d), null, 2));
    else {
      io.out(detectionText(d));
      io.out(`size: ${d.sizeBytes}`);
      for (const m of d.members) io.out(`member ${m.name}: role ${m.role}, data from offset ${m.offsetBytes}`);
      for (const e of d.evidence) io.out(`  ${e}`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof RaidUndecidedError)) throw e;
    // Undecided: say what was found (stdout, JSON with --json) and exit 2.
    if (json) io.out(JSON.stringify({ decided: false, reason: e.message, ...e.found }, null, 2));
    else for (const l of [...e.found.evidence, ...e.found.candidates.map((c) => `candidate: ${c}`)]) io.out(l);
    io.err(`vmfs-rescue: ${e.message}`);
    return 2;
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => {})));
  }
}

const CHUNK = 8 * 1024 * 1024;

/** Writes the LUN to --out (all-zero chunks left as holes), then its sha256 as the last stdout line. */
async function assemble(a: ReturnType<typeof parseArgs>, io: CliIO): Promise<number> {
  const out = requireOption(a, 'out');
  if ((await stat(out).catch(() => null))?.isDirectory()) throw new UserError(`--out names a folder, not a file: ${out}`);
  await refuseOutputsOnInputs([{ path: out, role: '--out' }], inputFiles(a));
  return withSigint((signal) =>
    withRaidLun(
      a,
      io,
      async (lun) => {
        const [{ NodeFileSink }, { nativeSha256 }, { nativeIsZero }] = await Promise.all([
          import('../../platform/node/file-sink.js'),
          import('../../platform/node/native-hash.js'),
          import('../../platform/node/native-zero.js'),
        ]);
        const progress = progressLines(io);
        const sink = await NodeFileSink.create(out);
        const h = nativeSha256();
        const buf = bulkBuffer(Math.min(CHUNK, Math.max(lun.size, 1)));
        try {
          for (let off = 0; off < lun.size; off += CHUNK) {
            throwIfAborted(signal);
            const b = buf.subarray(0, Math.min(CHUNK, lun.size - off));
            await readInto(lun, off, b);
            h.update(b);
            if (!nativeIsZero(b)) await sink.write(off, b);
            progress({ phase: 'assemble', done: off + b.length, total: lun.size });
          }
          await sink.truncate(lun.size);
          await sink.close();
        } catch (e) {
          await sink.abort();
          throw e;
        }
        io.err(`wrote ${lun.size} bytes to ${out}`);
        io.out(h.digestHex());
        return 0;
      },
      signal,
    ),
  );
}
