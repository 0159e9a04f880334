import { UnsupportedError } from '../../core/errors.js';
import type { CliIO } from '../args.js';

// Placeholder until the datastore commands land.
export async function runDatastore(_cmd: string, _argv: string[], _io: CliIO): Promise<number> {
  throw new UnsupportedError('datastore commands are not built yet');
}
