import { describe, expect, it } from 'vitest';
import { parseTextRemnant, textKindOf } from '../../src/core/recovery/text-carving.js';
import { deltaDescriptorText } from '../builders/recovery/deleted-delta.js';
import { paddedDeltaDescriptor, vmsdText } from '../builders/recovery/text-remnants.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';

/**
 * Text carving on mutated descriptor and .vmsd text (as free space leaves it: partly overwritten,
 * cut, followed by garbage): detection and parsing end within 1 s in a remnant or null, or a
 * RescueError, never another exception.
 */
const enc = (t: string) => new TextEncoder().encode(t);

describe('recovery text carving fuzz', () => {
  const bases = [
    enc(deltaDescriptorText('0000abcd', '12345678', 'vm1-000001-delta.vmdk')),
    enc(paddedDeltaDescriptor('0000abcd', '12345678')),
    enc(vmsdText()),
  ];

  it(`${FUZZ_CASES} mutated texts per kind end in a remnant, null or a RescueError`, async () => {
    const r = rng(0x7e47);
    let found = 0;
    for (const [k, base] of bases.entries()) {
      for (let i = 0; i < FUZZ_CASES; i++) {
        const buf = new Uint8Array(8192);
        // Garbage after the text half the time (no NUL: the text runs into the next bytes).
        if (r() < 0.5) for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(r() * 256);
        buf.set(mutate(base, r).subarray(0, buf.length));
        await fuzzCase(`text ${k}`, i, async () => {
          textKindOf(buf);
          const t = parseTextRemnant(buf, { volOffset: 0, location: 'free-block' });
          if (t) found++;
        });
      }
    }
    expect(found).toBeGreaterThan(0);
  }, 120_000);
});
