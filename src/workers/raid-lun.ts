import type { ByteSource } from '../core/io/byte-source.js';
import { toRaidConfig, type RaidDetection } from '../core/raid/detect.js';
import { openRaid } from '../core/raid/raid-source.js';
import { BlobSource } from '../platform/browser/blob-source.js';

/**
 * The dump sources a worker opens for the picked files: the files themselves (LUN dumps), or, when
 * they are the members of a RAID, the one LUN the array presents (the RAID parameters travel with
 * the files to every worker that reads the dump, so carve jobs address the LUN alike everywhere).
 */
export function dumpSources(files: readonly File[], raid: RaidDetection | null = null): ByteSource[] {
  const members = files.map((f) => new BlobSource(f, f.name));
  if (!raid) return members;
  return [openRaid(toRaidConfig(raid, members), `RAID LUN (${raid.level} of ${raid.disks})`)];
}
