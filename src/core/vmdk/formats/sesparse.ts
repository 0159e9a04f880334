import { UnsupportedError } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import type { DiskLayer } from '../types.js';

// STUB (interface contract) — replaced by the seSparse reader.
export function isSeSparseHeader(_head: Uint8Array): boolean {
  return false;
}
/** Opens one SESPARSE extent file as a layer whose capacity comes from its header. */
export async function openSeSparseExtent(_src: ByteSource, _name: string): Promise<DiskLayer> {
  throw new UnsupportedError('seSparse reader not built yet');
}
