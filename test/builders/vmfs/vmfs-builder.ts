import path from 'node:path';
import { buildVmfs as buildVmfsCore, type BuildOptions as CoreBuildOptions, type Manifest } from '../../../src/core/synth/vmfs/vmfs-builder.js';
import { nodeSha256, SparseFile } from './sparse-file.js';

/**
 * Node wrapper of the environment-neutral builder (src/core/synth/vmfs): the same code makes the
 * in-browser demo; here the LUNs are sparse host files `${dir}/${name}.lun<i>.img`, hashed natively.
 */
export type {
  BlockSpec, FileSpec, LunSpec, Manifest, ManifestEntry, ManifestType, LunInfo,
} from '../../../src/core/synth/vmfs/vmfs-builder.js';

export type BuildOptions = Omit<CoreBuildOptions, 'createLun' | 'hasher'> & {
  /** Directory for the dump files. */
  dir: string;
};

export function buildVmfs(opts: BuildOptions): Promise<Manifest> {
  const { dir, ...rest } = opts;
  return buildVmfsCore({ ...rest, hasher: nodeSha256, createLun: (fileName, size) => new SparseFile(path.join(dir, fileName), size) });
}
