import { RescueError } from '../../errors.js';
import { SliceSource, type ByteSource } from '../../io/byte-source.js';
import { assembleVolumes, readLvmDevice, type LvmDevice } from '../lvm.js';
import type { LvmLandmark } from './landmarks.js';

/**
 * A previous volume spanned over several LUNs: the head extent (volume address 0, where all of
 * VMFS's metadata lies) is found by its landmarks, but its LVM header is gone (wiped, or a new
 * datastore took its place). The other extents' LVM headers may survive on the other dumps: their
 * PE tables say which volume ranges they hold, so the head holds what lies before the first of
 * them. A tail extent is one whose LVM volume descriptor does not start at PE 0.
 */

export interface SpannedExtent {
  source: number;
  sourceName: string;
  /** Dump offset of the LVM device (partition) holding the extent. */
  partition: number;
}

export interface SpannedVolume {
  source: ByteSource;
  sizeBytes: number;
  extents: SpannedExtent[];
  warnings: string[];
}

/**
 * Joins the head extent at `origin` of dump `head` with the tail extents whose LVM headers name
 * `lvUuid` (or, when the head's LV UUID did not survive, the headless LVM volumes no one else
 * claims: `unclaimed`). Null when no tail extent is found or readable.
 */
export async function joinTailExtents(
  sources: readonly ByteSource[],
  head: number,
  origin: number,
  lvUuid: string | undefined,
  lvm: readonly (LvmLandmark & { source: number })[],
  unclaimed: (l: LvmLandmark & { source: number }) => boolean,
): Promise<SpannedVolume | null> {
  const tails: { dev: LvmDevice; lm: LvmLandmark & { source: number } }[] = [];
  for (const l of lvm) {
    if (l.source === head) continue;
    if (lvUuid ? l.lvUuid.toLowerCase() !== lvUuid.toLowerCase() : !unclaimed(l)) continue;
    const dump = sources[l.source]!;
    try {
      const dev = await readLvmDevice(new SliceSource(dump, l.partition, dump.size - l.partition, `${dump.name}@0x${l.partition.toString(16)}`));
      dev.dump = { name: dump.name, offset: l.partition };
      const desc = dev.volumes.find((v) => v.lvUuid === l.lvUuid);
      if (!desc || desc.firstPE === 0) continue; // a head of its own: not a tail of this volume
      tails.push({ dev, lm: l });
    } catch (e) {
      if (!(e instanceof RescueError)) throw e;
    }
  }
  if (tails.length === 0) return null;
  // One LV: the one the first tail names (an unclaimed search may see tails of several).
  const lv = tails[0]!.lm.lvUuid;
  const mine = tails.filter((t) => t.lm.lvUuid === lv);
  const desc = mine[0]!.dev.volumes.find((v) => v.lvUuid === lv)!;
  const tailStart = Math.min(...mine.flatMap((t) => t.dev.pes.filter((p) => p.volumeId === t.dev.volumes.find((v) => v.lvUuid === lv)!.volumeId).map((p) => p.lOffset)));
  if (!Number.isFinite(tailStart) || tailStart <= 0) return null;
  const dump = sources[head]!;
  const headLen = Math.min(tailStart, dump.size - origin);
  // The head as an LVM device of its own: one run from volume address 0, as long as the tails leave.
  const headDev: LvmDevice = {
    source: new SliceSource(dump, origin, dump.size - origin, `${dump.name}@0x${origin.toString(16)}`),
    dump: { name: dump.name, offset: origin },
    major: mine[0]!.dev.major, minor: mine[0]!.dev.minor, deviceUuid: 'deep-search head extent', totalBytes: dump.size - origin, dataOffset: 0, numPEs: 1,
    volumes: [{ ...desc, firstPE: 0, lastPE: 0 }],
    pes: [{ lOffset: 0, pOffset: 0, length: headLen, volumeId: desc.volumeId }],
    warnings: [],
  };
  const vol = assembleVolumes([headDev, ...mine.map((t) => t.dev)]).find((v) => v.lvUuid === lv);
  if (!vol) return null;
  return {
    source: vol.source,
    sizeBytes: vol.size,
    extents: [{ source: head, sourceName: dump.name, partition: origin }, ...mine.map((t) => ({ source: t.lm.source, sourceName: sources[t.lm.source]!.name, partition: t.lm.partition }))],
    warnings: [`volume joined from ${mine.length + 1} extents: the head at 0x${origin.toString(16)} of ${dump.name} (its LVM header is gone) and ${mine.map((t) => `${sources[t.lm.source]!.name} (LVM header at 0x${(t.lm.partition + 0x100000).toString(16)})`).join(', ')}`, ...vol.warnings],
  };
}
