import { describe, expect, it } from 'vitest';
import { RescueError } from '../../src/core/errors.js';
import { MemorySource, ZeroSource, type ByteSource } from '../../src/core/io/byte-source.js';
import { detectRaid, RaidUndecidedError } from '../../src/core/raid/detect.js';
import { FUZZ_CASES, rng } from '../helpers/fuzz.js';

/**
 * Detection on members that hold no array: random bytes, all zeros, zeros with scattered magics
 * (lock headers, GPT signatures, LVM and FS magics at random sectors), and directory FDs with
 * directory blocks that name them at random places (directory landmarks, zero-to-nonzero
 * transitions for the stripe statistics). It must refuse with a RescueError and what it found,
 * never crash, hang or name an array.
 */
const MAGICS = [0x10c00001, 0x10c00002, 0x10c00005, 0xabcdef01, 0xc001d00d, 0x2fabf15e, 0x20494645];

function member(kind: number, r: () => number, size: number): ByteSource {
  if (kind === 0) return new ZeroSource(size, 'zeros');
  const b = new Uint8Array(size);
  if (kind === 1) {
    const dv = new DataView(b.buffer);
    for (let i = 0; i + 4 <= size; i += 4) dv.setUint32(i, Math.floor(r() * 2 ** 32), true);
  } else if (kind === 3) {
    const dv = new DataView(b.buffer);
    for (let k = 0; k < 32; k++) {
      const addr = ((Math.floor(r() * 2 ** 20) << 6) | 4) >>> 0;
      // a directory FD: lock, own volume offset, metadata (type 2, ZLA 1, 1 MiB blocks), first slot an FB
      const fd = Math.floor((r() * (size - 2048)) / 512) * 512;
      dv.setUint32(fd, 0x10c00001, true);
      dv.setUint32(fd + 4, Math.floor(r() * 2 ** 20) * 2048, true);
      dv.setUint32(fd + 0x200, addr, true);
      dv.setUint32(fd + 0x20c, 2, true);
      dv.setUint32(fd + 0x21c, 1 << 20, true);
      dv.setUint32(fd + 0x244, 1, true);
      dv.setUint32(fd + 0x400, ((Math.floor(r() * 2 ** 16) << 6) | 1) >>> 0, true);
      // a directory block naming it: '.' and '..'
      const dir = Math.floor((r() * (size - 512)) / 512) * 512;
      dv.setUint32(dir, 2, true);
      dv.setUint32(dir + 4, addr, true);
      b[dir + 0x0c] = 0x2e;
      dv.setUint32(dir + 0x8c, 2, true);
      dv.setUint32(dir + 0x8c + 4, 4, true);
      b[dir + 0x8c + 0x0c] = 0x2e;
      b[dir + 0x8c + 0x0d] = 0x2e;
      // a data run starting on a random 64 KiB boundary
      const run = Math.floor((r() * size) / 65536) * 65536;
      b.fill(0x5a, run, Math.min(size, run + 4096));
    }
  } else {
    const dv = new DataView(b.buffer);
    for (let k = 0; k < 64; k++) {
      const at = Math.floor((r() * size) / 512) * 512;
      dv.setUint32(at, MAGICS[Math.floor(r() * MAGICS.length)]!, true);
      dv.setUint32(at + 4, Math.floor(r() * 2 ** 20) * 512, true);
    }
  }
  return new MemorySource(b, `m${kind}`);
}

describe('RAID detection refuses members that hold no array', () => {
  it(`${Math.max(6, Math.floor(FUZZ_CASES / 25))} random arrays of random, zero and magic-sprinkled members`, async () => {
    const cases = Math.max(6, Math.floor(FUZZ_CASES / 25));
    for (let c = 0; c < cases; c++) {
      const r = rng(4242 + c);
      const n = 1 + Math.floor(r() * 5);
      const size = (1 + Math.floor(r() * 8)) * 1024 * 1024 + Math.floor(r() * 4) * 512;
      const kind = c % 4;
      const members = Array.from({ length: n }, () => member(kind, r, size));
      const e = await detectRaid(members).then(
        (d) => new Error(`case ${c}: detected ${JSON.stringify(d)}`),
        (err: unknown) => err,
      );
      expect(e, `case ${c}`).toBeInstanceOf(RescueError);
      if (kind < 2) expect(e, `case ${c}`).toBeInstanceOf(RaidUndecidedError);
    }
  }, 600_000);
});
