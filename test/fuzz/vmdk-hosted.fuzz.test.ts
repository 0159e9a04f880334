import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import { openChain } from '../../src/core/vmdk/chain.js';
import type { FileResolver } from '../../src/core/vmdk/types.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { buildKdmv, buildStream, patternGrain } from '../helpers/kdmv-builder.js';

/**
 * Mutated descriptors, KDMV headers/GDs/GTs and stream markers/grain records: every case must end
 * within 1 s in a result or a RescueError, including reads of a few ranges of the opened disk,
 * and must leave the source bytes untouched.
 */
class MemResolver implements FileResolver {
  constructor(readonly files: Map<string, Uint8Array>) {}
  async open(p: string): Promise<ByteSource | null> {
    const b = this.files.get(p);
    return b ? new MemorySource(b, p) : null;
  }
  resolve(from: string, rel: string): string {
    return path.posix.isAbsolute(rel) ? rel : path.posix.join(path.posix.dirname(from), rel);
  }
  candidates(from: string, hint: string): string[] {
    return [path.posix.join(path.posix.dirname(from), path.posix.basename(hint))];
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

async function openAndRead(files: Map<string, Uint8Array>, top: string, r: () => number): Promise<void> {
  const chain = await openChain(new MemResolver(files), top, { ignoreCid: r() < 0.5 });
  const size = chain.size;
  if (size === 0) return;
  const reads: [number, number][] = [
    [0, Math.min(4096, size)],
    [Math.max(0, size - 512), Math.min(512, size)],
  ];
  for (let i = 0; i < 2; i++) {
    const len = Math.min(size, 1 + Math.floor(r() * 200_000));
    reads.push([Math.floor(r() * (size - len + 1)), len]);
  }
  for (const [o, l] of reads) {
    const b = await chain.read(o, l);
    expect(b.length).toBe(l);
  }
}

/** Runs `cases` mutated variants of `files[target]` (mutations focused on `regions`). */
async function fuzzTarget(label: string, files: Map<string, Uint8Array>, top: string, target: string, regions: [number, number][], seed0: number): Promise<void> {
  const base = files.get(target)!;
  const counts = { ok: 0, error: 0 };
  for (let c = 0; c < FUZZ_CASES; c++) {
    const seed = seed0 + c;
    const r = rng(seed);
    const mutated = mutate(base, r, regions);
    const before = sha(mutated);
    const others = new Map([...files].map(([k, v]) => [k, v] as [string, Uint8Array]));
    others.set(target, mutated);
    const otherHashes = new Map([...others].map(([k, v]) => [k, sha(v)]));
    counts[await fuzzCase(label, seed, () => openAndRead(others, top, r))]++;
    expect(sha(mutated), `${label} seed ${seed} modified its source`).toBe(before);
    for (const [k, v] of others) expect(sha(v)).toBe(otherHashes.get(k));
  }
  // The corpus must exercise both outcomes, or the mutations are not reaching the parser.
  if (FUZZ_CASES >= 50) {
    expect(counts.ok, `${label}: no case opened`).toBeGreaterThan(0);
    expect(counts.error, `${label}: no case failed`).toBeGreaterThan(0);
  }
}

describe('fuzz: hosted VMDK parsing and reading', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('mutated text descriptors (multi-extent, with a parent)', async () => {
    const files = new Map<string, Uint8Array>([
      ['/v/base.vmdk', enc('# Disk DescriptorFile\nversion=1\nCID=0000abcd\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "base-flat.vmdk" 0\n')],
      ['/v/base-flat.vmdk', new Uint8Array(MiB).fill(0x5a)],
      ['/v/s.vmdk', buildKdmv({ capacitySectors: 1024, grains: new Map([[1, patternGrain(1)]]) })],
      [
        '/v/top.vmdk',
        enc(
          '# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=12345678\nparentCID=0000abcd\ncreateType="custom"\nparentFileNameHint="base.vmdk"\n\n# Extent description\nRW 1024 SPARSE "s.vmdk"\nRW 512 ZERO\nRW 512 FLAT "base-flat.vmdk" 16\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = "lsilogic"\n',
        ),
      ],
    ]);
    await fuzzTarget('descriptor', files, '/v/top.vmdk', '/v/top.vmdk', [[0, 400]], 1000);
  });

  it('mutated monolithicSparse headers, embedded descriptors, GDs and GTs', async () => {
    const desc = '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicSparse"\n\nRW 81920 SPARSE "m.vmdk"\n';
    const grains = new Map<number, Uint8Array | 'zero'>([[0, patternGrain(2)], [3, 'zero'], [513, patternGrain(3)]]);
    const bytes = buildKdmv({ capacitySectors: 81920, grains, redundant: true, flags: 0x7, version: 2, descriptor: desc });
    const files = new Map([['/v/m.vmdk', bytes]]);
    // header, descriptor, RGD + RGTs + GD + GTs (sectors 21..~45)
    await fuzzTarget('kdmv', files, '/v/m.vmdk', '/v/m.vmdk', [[0, 96], [512, 700], [21 * 512, 46 * 512]], 2000);
  });

  it('mutated streamOptimized headers, markers, GD/GT and grain records', async () => {
    const { bytes, regions } = buildStream({
      capacitySectors: 81920,
      grains: new Map([[0, patternGrain(4)], [1, patternGrain(5)], [600, patternGrain(6)]]),
      descriptor: 'CID=2\nparentCID=ffffffff\ncreateType="streamOptimized"\nRW 81920 SPARSE "s.vmdk"\n',
    });
    const files = new Map([['/v/s.vmdk', bytes]]);
    const tail: [number, number] = [bytes.length - 1536, bytes.length];
    await fuzzTarget('stream', files, '/v/s.vmdk', '/v/s.vmdk', [regions.header, ...regions.markers, ...regions.grains.map(([a]) => [a, a + 40] as [number, number]), tail], 3000);
  });
});
