import { UserError } from '../core/errors.js';
import { openDatastore, type Datastore } from '../core/vmfs/index.js';
import type { ByteSource } from '../core/io/byte-source.js';
import { NodeFileSource } from '../platform/node/file-source.js';
import type { Args, CliIO } from './args.js';
import { FS_ERRORS } from './fs-errors.js';

/** `volume`: a UUID (or the deep search's own id) to open through the deep volume search. */
export interface OpenOptions {
  volume?: string;
  signal?: AbortSignal;
  /** The deep search's state file (--resume). */
  resume?: string;
}

/** Valued flags of the RAID members, for a datastore command's parseArgs. */
export const MEMBER_FLAGS = ['member', 'level', 'stripe', 'layout', 'delay', 'order', 'offset'];

/** Every input file of a datastore command (for the output guard): the dumps and the RAID members. */
export function inputFiles(a: Args): { path: string; role: string }[] {
  return [...(a.options.get('image') ?? []).map((p) => ({ path: p, role: '--image' })), ...(a.options.get('member') ?? []).map((p) => ({ path: p, role: '--member' }))];
}

/**
 * Opens the `--image` dumps (one per LUN of a spanned volume) as one datastore, prints its
 * warnings, runs `fn` and closes every source whatever happens. Given the parsed arguments, a
 * RAID's `--member` dumps may stand in for the one LUN.
 */
export async function withDatastore<T>(input: string[] | Args, cmd: string, io: CliIO, fn: (ds: Datastore) => Promise<T>, opts: OpenOptions = {}): Promise<T> {
  const images = Array.isArray(input) ? input : (input.options.get('image') ?? []);
  const open = async (sources: ByteSource[]) => {
    const ds = opts.volume !== undefined ? await openByVolume(sources, opts.volume, io, opts.signal, opts.resume) : await openDatastore(sources);
    for (const w of ds.info.warnings) io.err(`warning: ${w}`);
    return fn(ds);
  };
  if (!Array.isArray(input) && input.options.has('member')) {
    if (images.length) throw new UserError(`${cmd}: give --image or --member, not both`);
    const { withRaidLun } = await import('./raid-members.js');
    return withRaidLun(input, io, (lun) => open([lun]));
  }
  return withImages(images, cmd, open);
}

/** Opens the `--image` dumps as sources, runs `fn` and closes them whatever happens. */
export async function withImages<T>(images: string[], cmd: string, fn: (sources: NodeFileSource[]) => Promise<T>): Promise<T> {
  if (images.length === 0) throw new UserError(`${cmd} needs --image DUMP (repeat it for every LUN of a spanned volume) or --member FILE for each member of a RAID`);
  const sources = await openInputs(images, '--image');
  try {
    return await fn(sources);
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => {})));
  }
}

/**
 * Opens input files read-only; a file that cannot be opened is a UserError naming its flag and
 * why, and the ones already opened are closed.
 */
export async function openInputs(paths: string[], flag: string): Promise<NodeFileSource[]> {
  const out: NodeFileSource[] = [];
  try {
    for (const p of paths) {
      try {
        out.push(await NodeFileSource.open(p));
      } catch (e) {
        const why = FS_ERRORS[(e as NodeJS.ErrnoException).code ?? ''];
        if (why) throw new UserError(`cannot open ${flag} ${p}: ${why}`);
        throw e;
      }
    }
  } catch (e) {
    await Promise.all(out.map((s) => s.close().catch(() => {})));
    throw e;
  }
  return out;
}

async function openByVolume(sources: ByteSource[], id: string, io: CliIO, signal?: AbortSignal, resume?: string): Promise<Datastore> {
  const [{ openDeepVolume }, { progressLines }, { deepStateOptions }] = await Promise.all([import('../core/vmfs/deep/open.js'), import('./progress-lines.js'), import('./deep-state.js')]);
  return openDeepVolume(sources, id, { signal, onProgress: progressLines(io), ...deepStateOptions(resume, sources, io) });
}
