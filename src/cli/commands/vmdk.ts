import { UnsupportedError } from '../../core/errors.js';
import type { CliIO } from '../args.js';

// Placeholder until the VMDK commands land.
export async function runVmdk(_argv: string[], _io: CliIO): Promise<number> {
  throw new UnsupportedError('vmdk commands are not built yet');
}
