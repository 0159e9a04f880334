import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ByteSource } from '../core/io/byte-source.js';
import { parseDeepScanState } from '../core/vmfs/deep/resume.js';
import type { DeepScanOptions, DeepScanState } from '../core/vmfs/deep/scan.js';
import { UserError } from '../core/errors.js';
import { deepLanesFor } from '../platform/node/deep-lanes.js';
import { refuseOutputsOnInputs } from '../platform/node/output-guard.js';
import { option, type Args, type CliIO } from './args.js';
import { inputFiles } from './open-datastore.js';

/** The --resume FILE of a command, checked: only with the deep search, and never one of the dumps. */
export async function resumeOption(a: Args, deep: boolean): Promise<string | undefined> {
  const file = option(a, 'resume');
  if (file === undefined) return undefined;
  if (!deep) throw new UserError('--resume FILE keeps the deep search\'s state: it goes with info --deep or --volume UUID');
  await refuseOutputsOnInputs([{ path: file, role: '--resume' }], inputFiles(a));
  return file;
}

/**
 * The deep search's options from the command line: worker-thread lanes (platform/node/deep-lanes.ts)
 * and `--resume FILE`: when FILE holds a saved state for these dumps the search
 * goes on from it (a finished one is not searched again at all); while it runs, and when it stops
 * (SIGINT, an error) or ends, its state is written to FILE, through a temporary name beside it so
 * FILE is never half-written.
 */
export function deepStateOptions(file: string | undefined, sources: readonly ByteSource[], io: CliIO): Pick<DeepScanOptions, 'resume' | 'onCheckpoint' | 'lanes'> {
  // Worker threads beside this one (idle, they keep no process alive; the process ends them),
  // unless a finished search is reused and nothing is left to scan.
  const lanesFor = (s?: DeepScanState) => (s?.next.pass === 2 ? [] : deepLanesFor(sources).lanes);
  if (file === undefined) return { lanes: lanesFor() };
  const resume = existsSync(file) ? parseDeepScanState(readFileSync(file, 'utf8'), sources, file) : undefined;
  const lanes = lanesFor(resume);
  if (resume) {
    const total = sources.reduce((s, x) => s + x.size, 0);
    io.err(resume.next.pass === 2 ? `deep search: using the finished search saved in ${file}` : `deep search: resuming from ${file} (${resume.bytesScanned} of ${total} bytes done)`);
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  return {
    lanes,
    ...(resume ? { resume } : {}),
    onCheckpoint: (s) => {
      try {
        writeFileSync(tmp, JSON.stringify(s));
        renameSync(tmp, file);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
    },
  };
}
