import * as Comlink from 'comlink';
import { buildDemo } from '../core/synth/demo.js';
import type { DemoBuild } from './demo.api.js';
import type { ImagePart } from '../core/synth/paged-image.js';

/**
 * Builds the demo datastore off the main thread (about a second of builder work and hashing) and
 * hands it back as a File, which the datastore worker then opens like any picked dump.
 */

const ZERO_MIB = 1 << 20;

/** The image as a File: written pages as bytes, zero runs as repeated references to shared zero blobs. */
function toFile(parts: ImagePart[], name: string): File {
  const big = new Blob([new Uint8Array(ZERO_MIB)]);
  const page = new Blob([new Uint8Array(64 * 1024)]);
  const blobParts: BlobPart[] = [];
  for (const p of parts) {
    if ('bytes' in p) {
      blobParts.push(p.bytes.slice());
      continue;
    }
    let n = p.zeros;
    for (; n >= ZERO_MIB; n -= ZERO_MIB) blobParts.push(big);
    for (; n >= page.size; n -= page.size) blobParts.push(page);
    if (n > 0) blobParts.push(new Uint8Array(n));
  }
  return new File(blobParts, name, { type: 'application/octet-stream' });
}

const api = {
  async build(): Promise<DemoBuild> {
    const t0 = performance.now();
    const demo = await buildDemo();
    const file = toFile(demo.image.parts(), demo.fileName);
    return { file, expected: demo.expected, vmDir: demo.vmDir, buildMs: Math.round(performance.now() - t0) };
  },
};
export type DemoWorkerApi = typeof api;

Comlink.expose(api);
