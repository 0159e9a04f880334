import { createHash } from 'node:crypto';
import { createSha256 } from '../src/core/hash/sha256.js';
import type { Bench } from './types.js';

/**
 * The browser has no streaming SHA-256 (SubtleCrypto digests one whole buffer), so exports, their
 * verify pass and the demo hash with the core's TypeScript SHA-256. Measured in-process against
 * OpenSSL's (node:crypto, which uses the CPU's SHA instructions where present) over the same
 * 1 GiB fed in 4 MiB chunks, the size the exporters hand over. Best of 3.
 */
const MiB = 1024 * 1024;
const TOTAL = 1024 * MiB;

function best(f: () => string): { s: number; hex: string } {
  let s = Infinity;
  let hex = '';
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    hex = f();
    s = Math.min(s, (performance.now() - t) / 1000);
  }
  return { s, hex };
}

export const sha256Bench: Bench = {
  name: 'sha256',
  description: 'the core TypeScript SHA-256 vs OpenSSL (node:crypto) over 1 GiB in 4 MiB chunks',
  async run(log) {
    const chunk = new Uint8Array(4 * MiB);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
    const ours = best(() => {
      const h = createSha256();
      for (let n = 0; n < TOTAL; n += chunk.length) h.update(chunk);
      return h.digestHex();
    });
    const ref = best(() => {
      const h = createHash('sha256');
      for (let n = 0; n < TOTAL; n += chunk.length) h.update(chunk);
      return h.digest('hex');
    });
    if (ours.hex !== ref.hex) throw new Error(`sha256 differs from OpenSSL: ${ours.hex} vs ${ref.hex}`);
    log(`ours ${(TOTAL / MiB / ours.s).toFixed(0)} MiB/s, OpenSSL ${(TOTAL / MiB / ref.s).toFixed(0)} MiB/s`);
    return [
      {
        name: 'sha256-1g',
        seconds: ours.s,
        reference: 'node:crypto sha256 (OpenSSL)',
        referenceSeconds: ref.s,
        ratio: ours.s / ref.s,
        peakRssMiB: Math.round(process.memoryUsage().rss / MiB),
        notes: `best of 3; ${(TOTAL / MiB / ours.s).toFixed(0)} MiB/s vs ${(TOTAL / MiB / ref.s).toFixed(0)} MiB/s; digests equal`,
      },
    ];
  },
};
