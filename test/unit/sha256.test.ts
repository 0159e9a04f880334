import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMPRESS_PATH, renderCompress } from '../../scripts/gen-sha256.js';
import { Sha256 } from '../../src/core/hash/sha256.js';
import { rng } from '../helpers/fuzz.js';

/** The pure-TypeScript SHA-256 against OpenSSL's (node:crypto), the independent oracle. */
describe('SHA-256', () => {
  const openssl = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

  it('the committed compression function is the generator\'s output', () => {
    expect(readFileSync(COMPRESS_PATH, 'utf8')).toBe(renderCompress());
  });

  it('FIPS 180-4 examples: "abc" and the 448-bit message', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const h = (s: string) => {
      const x = new Sha256();
      x.update(enc(s));
      return x.digestHex();
    };
    expect(h('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(h('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(h('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('every length around the block and padding edges, fed in random pieces at odd offsets, equals OpenSSL', () => {
    const r = rng(0x5a256);
    const big = new Uint8Array(300_000);
    for (let i = 0; i < big.length; i++) big[i] = Math.floor(r() * 256);
    const lengths = [...Array.from({ length: 200 }, (_, i) => i), 447, 448, 511, 512, 513, 4095, 4096, 65_537, 299_993];
    for (const len of lengths) {
      const at = Math.floor(r() * 7); // views that do not start at offset 0 of their buffer
      const msg = big.subarray(at, at + len);
      const h = new Sha256();
      for (let pos = 0; pos < len; ) {
        const n = Math.min(len - pos, r() < 0.3 ? Math.floor(r() * 70) : Math.floor(r() * 20_000));
        h.update(msg.subarray(pos, pos + n));
        pos += n;
      }
      expect(h.digestHex(), `length ${len}`).toBe(openssl(msg));
    }
  });

  it('refuses to be used after its digest', () => {
    const h = new Sha256();
    h.digestHex();
    expect(() => h.update(new Uint8Array(1))).toThrow(/after digest/);
  });
});
