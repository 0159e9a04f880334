/**
 * Synthetic VMFS5/VMFS6 datastore dumps for tests and benches (see vmfs-builder.ts). The manifest
 * lists every file with the content it must read as, computed from the build inputs only.
 */
export { buildVmfs, type BuildOptions, type BlockSpec, type FileSpec, type LunSpec, type Manifest, type ManifestEntry, type LunInfo } from './vmfs-builder.js';
export { expectedBytes, sha256Of, pattern, type DataPiece } from './content.js';
export { vmfs6NameHash } from '../../../src/core/synth/vmfs/dir-hash.js';
export { standardBuild, vmfs5Files, vmfs6Files, spannedFiles } from './samples.js';
export { MiB, SEGMENT, DATA_OFFSET } from '../../../src/core/synth/vmfs/geometry.js';
