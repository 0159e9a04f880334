import { createHash } from 'node:crypto';
import path from 'node:path';
import { openChain } from '../../src/core/vmdk/chain.js';
import { NodeFsResolver } from '../../src/platform/node/fs-resolver.js';
import { run, sha256File } from '../helpers/tools.js';

/**
 * The oracle check shared by the COWD and seSparse chain tests: qemu-img converts the chain's top
 * descriptor to raw; its sha256 must equal the sha256 of the logical disk we read through
 * openChain. Returns both hashes and our chain for further checks.
 */
export async function compareWithQemu(top: string, workDir: string): Promise<{ ours: string; qemu: string; layers: number; formats: string[] }> {
  const out = path.join(workDir, `${path.basename(top, '.vmdk')}-qemu.raw`);
  run('qemu-img', ['convert', '-O', 'raw', top, out]);
  const qemu = sha256File(out);
  run('rm', ['-f', out]);
  const resolver = new NodeFsResolver();
  try {
    const chain = await openChain(resolver, top);
    const h = createHash('sha256');
    const step = 4 * 1024 * 1024;
    for (let pos = 0; pos < chain.size; pos += step) h.update(await chain.read(pos, Math.min(step, chain.size - pos)));
    return { ours: h.digest('hex'), qemu, layers: chain.layers.length, formats: chain.layers.map((l) => l.format) };
  } finally {
    await resolver.closeAll();
  }
}
