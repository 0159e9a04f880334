import type { ByteSource } from '../../io/byte-source.js';
import type { GuestFs } from '../types.js';
import { NtfsVolume } from './volume.js';

export { NtfsVolume } from './volume.js';

/** Opens a read-only NTFS volume (the partition's bytes, boot sector at offset 0). */
export function openNtfs(src: ByteSource): Promise<GuestFs> {
  return NtfsVolume.open(src);
}
