import { UserError } from '../core/errors.js';
import { openDatastore, type Datastore } from '../core/vmfs/index.js';
import { NodeFileSource } from '../platform/node/file-source.js';
import type { CliIO } from './args.js';
import { FS_ERRORS } from './fs-errors.js';

/** `volume`: a UUID (or the deep search's own id) to open through the deep volume search. */
export interface OpenOptions {
  volume?: string;
  signal?: AbortSignal;
}

/**
 * Opens the `--image` dumps (one per LUN of a spanned volume) as one datastore, prints its
 * warnings, runs `fn` and closes every source whatever happens.
 */
export async function withDatastore<T>(images: string[], cmd: string, io: CliIO, fn: (ds: Datastore) => Promise<T>, opts: OpenOptions = {}): Promise<T> {
  return withImages(images, cmd, async (sources) => {
    const ds = opts.volume !== undefined ? await openByVolume(sources, opts.volume, io, opts.signal) : await openDatastore(sources);
    for (const w of ds.info.warnings) io.err(`warning: ${w}`);
    return await fn(ds);
  });
}

/** Opens the `--image` dumps as sources, runs `fn` and closes them whatever happens. */
export async function withImages<T>(images: string[], cmd: string, fn: (sources: NodeFileSource[]) => Promise<T>): Promise<T> {
  if (images.length === 0) throw new UserError(`${cmd} needs --image DUMP (repeat it for every LUN of a spanned volume)`);
  const sources: NodeFileSource[] = [];
  try {
    for (const img of images) {
      try {
        sources.push(await NodeFileSource.open(img));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const why = code ? FS_ERRORS[code] : undefined;
        if (why) throw new UserError(`cannot open --image ${img}: ${why}`);
        throw e;
      }
    }
    return await fn(sources);
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => {})));
  }
}

async function openByVolume(sources: NodeFileSource[], id: string, io: CliIO, signal?: AbortSignal): Promise<Datastore> {
  const [{ openDeepVolume }, { progressLines }] = await Promise.all([import('../core/vmfs/deep/open.js'), import('./progress-lines.js')]);
  return openDeepVolume(sources, id, { signal, onProgress: progressLines(io) });
}
