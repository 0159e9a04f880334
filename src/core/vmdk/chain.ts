import { UnsupportedError } from '../errors.js';
import type { DiskChain } from './disk-chain.js';
import type { ChainOptions, FileResolver } from './types.js';

// STUB (interface contract) — replaced by the chain opener.
/** Opens `path` (a descriptor, a monolithic sparse file, a bare delta) and its parents, top first. */
export async function openChain(_resolver: FileResolver, _path: string, _opts: ChainOptions = {}): Promise<DiskChain> {
  throw new UnsupportedError('chain opener not built yet');
}
