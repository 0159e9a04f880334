import { sha256 } from '@noble/hashes/sha2.js';

/** A streaming hash. The core uses pure-TypeScript SHA-256; Node may inject its native one for speed. */
export interface Hasher {
  update(data: Uint8Array): void;
  digestHex(): string;
}
export type HasherFactory = () => Hasher;

export const createSha256: HasherFactory = () => {
  const h = sha256.create();
  return {
    update(data) {
      h.update(data);
    },
    digestHex() {
      const d = h.digest();
      let s = '';
      for (const b of d) s += b.toString(16).padStart(2, '0');
      return s;
    },
  };
};
