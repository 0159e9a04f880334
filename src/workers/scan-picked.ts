import { probePickedFile, rankTops, type PickedFile } from '../core/vmdk/roles.js';
import type { FileSetResolver } from '../platform/browser/file-set-resolver.js';
import type { PickedScan } from './vmdk.api.js';

/**
 * A quick look at the picked files to suggest the top of the chain, before the real chain opener
 * runs (core/vmdk/roles.ts reads each file's header and descriptor; a few KiB per file).
 */

/** Files beyond this many are listed but not probed (a wrongly picked huge folder stays fast). */
const MAX_PROBED = 2000;

export async function scanPicked(resolver: FileSetResolver): Promise<PickedScan> {
  const paths = await resolver.list();
  const files: PickedFile[] = [];
  for (const path of paths) {
    const info: PickedFile = { path, size: 0, kind: 'other', createType: null, parentHint: null, extentFiles: [] };
    files.push(info);
    if (!/\.vmdk$/i.test(path) || files.length > MAX_PROBED) continue;
    const src = await resolver.open(path).catch(() => null);
    if (!src) continue;
    info.size = src.size;
    await probePickedFile(src, info).catch(() => {
      info.kind = 'other'; // unreadable: the chain opener will say why if the user picks it
    });
  }
  return { files, ...rankTops(files), truncatedListing: resolver.truncatedListing };
}
