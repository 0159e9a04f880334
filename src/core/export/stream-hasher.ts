import { createSha256, type Hasher, type HasherFactory } from '../hash/sha256.js';

/**
 * The hash of a logical disk as the export streams it: data pieces and zero runs, in order. It may
 * run elsewhere (Node hashes on a worker thread, overlapped with reads and writes): update() takes
 * its own copy or consumes the bytes before it resolves, so the caller may reuse `data` at once;
 * the awaits are the back-pressure.
 */
export interface StreamHasher {
  update(data: Uint8Array): void | Promise<void>;
  /** Hashes `n` zero bytes (a hole or zero run) without the caller materialising them. */
  zeros(n: number): void | Promise<void>;
  digestHex(): string | Promise<string>;
  /** Frees what the hasher holds when the hash is abandoned (after digestHex it is already free). */
  dispose?(): void;
}
export type StreamHasherFactory = () => StreamHasher;

/** Shared zero block for hashing zero and hole ranges without allocating. */
const ZEROS = new Uint8Array(1024 * 1024);

/** Feeds `n` zero bytes to a synchronous hasher from one shared block. */
export function hashZeros(h: Hasher, n: number): void {
  while (n > 0) {
    const k = Math.min(n, ZEROS.length);
    h.update(ZEROS.subarray(0, k));
    n -= k;
  }
}

/** A synchronous hasher (the core's SHA-256, or Node's native one on this thread) as a StreamHasher. */
export function streamHasherOf(factory: HasherFactory = createSha256): StreamHasherFactory {
  return () => {
    const h = factory();
    return {
      update: (data) => h.update(data),
      zeros: (n) => hashZeros(h, n),
      digestHex: () => h.digestHex(),
    };
  };
}
