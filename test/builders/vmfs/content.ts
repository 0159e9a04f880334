import { sha256Of as coreSha256Of, type DataPiece } from '../../../src/core/synth/vmfs/content.js';
import { nodeSha256 } from './sparse-file.js';

export { expectedBytes, pattern, type DataPiece } from '../../../src/core/synth/vmfs/content.js';

/** sha256 of a file made of pieces over zeros, with Node's native hash (GiBs of zeros in benches). */
export function sha256Of(pieces: DataPiece[], size: number): string {
  return coreSha256Of(pieces, size, nodeSha256);
}
