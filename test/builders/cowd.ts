import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeCowdTo, type CowdBuildOptions as CoreOptions, type CowdBuildResult as CoreResult } from '../../src/core/synth/cowd.js';
import { deltaDescriptor, PositionalFile, randomCid, SECTOR, writesToRuns, type ByteRange, type DeltaWrite, type GrainRun } from './delta-common.js';

/**
 * Node wrapper of the environment-neutral COWD writer (src/core/synth/cowd.ts, which also makes the
 * in-browser demo): the delta goes to a host file.
 */
export type CowdBuildOptions = Omit<CoreOptions, 'out'> & { dataPath: string };
export type CowdBuildResult = CoreResult & { dataPath: string };

export function writeCowd(o: CowdBuildOptions): CowdBuildResult {
  const { dataPath, ...rest } = o;
  return { ...writeCowdTo({ ...rest, out: new PositionalFile(dataPath) }), dataPath };
}

export interface CowdDeltaOptions {
  dir: string;
  /** Files are `<name>.vmdk` (descriptor) and `<name>-delta.vmdk`. */
  name: string;
  capacity: number;
  grainSectors?: number;
  writes?: readonly DeltaWrite[];
  zeroed?: readonly ByteRange[];
  /** Streaming alternative to writes/zeroed (e.g. randomRuns). */
  runs?: Iterable<GrainRun>;
  /** Parent descriptor, relative to `dir` or absolute. */
  parentFileNameHint: string;
  parentCid: string;
  cid?: string;
}

/** A COWD delta plus its `vmfsSparse` descriptor. */
export function buildCowdDelta(o: CowdDeltaOptions): CowdBuildResult & { descriptorPath: string; cid: string } {
  const grainBytes = (o.grainSectors ?? 1) * SECTOR;
  const dataName = `${o.name}-delta.vmdk`;
  const res = writeCowd({
    dataPath: path.join(o.dir, dataName),
    capacity: o.capacity,
    grainSectors: o.grainSectors,
    runs: o.runs ?? writesToRuns(o.capacity, grainBytes, o.writes, o.zeroed),
  });
  const cid = o.cid ?? randomCid(o.capacity ^ o.name.length ^ res.dataGrains);
  const descriptorPath = path.join(o.dir, `${o.name}.vmdk`);
  writeFileSync(
    descriptorPath,
    deltaDescriptor({ createType: 'vmfsSparse', extentType: 'VMFSSPARSE', capacity: o.capacity, dataFileName: dataName, cid, parentCid: o.parentCid, parentFileNameHint: o.parentFileNameHint }),
  );
  return { ...res, descriptorPath, cid };
}
