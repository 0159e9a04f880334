import { UserError } from '../core/errors.js';
import { openDatastore, type Datastore } from '../core/vmfs/index.js';
import { NodeFileSource } from '../platform/node/file-source.js';
import type { CliIO } from './args.js';
import { FS_ERRORS } from './fs-errors.js';

/**
 * Opens the `--image` dumps (one per LUN of a spanned volume) as one datastore, prints its
 * warnings, runs `fn` and closes every source whatever happens.
 */
export async function withDatastore<T>(images: string[], cmd: string, io: CliIO, fn: (ds: Datastore) => Promise<T>): Promise<T> {
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
    const ds = await openDatastore(sources);
    for (const w of ds.info.warnings) io.err(`warning: ${w}`);
    return await fn(ds);
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => {})));
  }
}
