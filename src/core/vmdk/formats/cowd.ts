import { UnsupportedError } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import type { DiskLayer } from '../types.js';

// STUB (interface contract) — replaced by the COWD reader.
export function isCowdHeader(_head: Uint8Array): boolean {
  return false;
}
/** Opens one VMFSSPARSE (COWD) extent file as a layer whose capacity comes from its header. */
export async function openCowdExtent(_src: ByteSource, _name: string): Promise<DiskLayer> {
  throw new UnsupportedError('COWD reader not built yet');
}
