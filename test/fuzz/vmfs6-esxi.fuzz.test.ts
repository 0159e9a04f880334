import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsOf, openDatastore } from '../../src/core/vmfs/index.js';
import { blockUseOf } from '../../src/core/recovery/free-ranges.js';
import { scanFreedFds, scanFreedPbs } from '../../src/core/recovery/evidence.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildVmfs, MiB, type Manifest } from '../builders/vmfs/index.js';
import { FUZZ_CASES, fuzzCase, mutate, rng } from '../helpers/fuzz.js';
import { makeTempDir } from '../helpers/tools.js';
import { esxiMetadataRegions } from '../helpers/esxi-layout.js';
import { PatchedSource } from '../helpers/patched-source.js';

/**
 * ESXi's VMFS6 layout ('rcmd' cluster metadata, two-level .fbb.sf) with its resource headers and
 * cluster headers mutated: opening, usage, the allocation map (the live walk checked against the
 * 'rcmd' counts) and the freed-FD / freed-PB passes must each end within 1 s in a result or a
 * RescueError.
 */
describe("VMFS6 ESXi-layout metadata fuzz ('rcmd', two-level .fbb.sf)", () => {
  const tmp = makeTempDir('fuzz-esxi-');
  let m: Manifest;
  let base: NodeFileSource;
  let seeds: { at: number; bytes: Uint8Array; hot: [number, number][] }[];
  beforeAll(async () => {
    m = await buildVmfs({
      version: 6, dir: tmp.dir, name: 'esxi', label: 'fuzz-esxi', seed: 3, layout: 'esxi', luns: [{ scheme: 'gpt', segments: 4 }],
      files: [
        { path: '/a/a.vmdk', kind: 'resident', size: 400 },
        { path: '/a/a.vmx', kind: 'subblock', size: 3000 },
        { path: '/a/big.bin', kind: 'blocks', size: 400 * MiB, blocks: [{ index: 0, content: 'data' }, { index: 350, content: 'data' }] },
      ],
    });
    base = await NodeFileSource.open(m.luns[0]!.path);
    seeds = [];
    // Mutations go to the resource headers (0x00, child at 0x1000) and each cluster header's 'rcmd' fields.
    const H = 8192;
    for (const [name, at, len] of esxiMetadataRegions(m)) {
      const first = name.includes('SFB') ? 0 : 0x10000;
      const hot: [number, number][] = first ? [[0, 0x60], [0x1000, 0x1060]] : [];
      for (let c = 0; first + c * H + H <= len; c++) hot.push([first + c * H + H / 2, first + c * H + H / 2 + 0x28]);
      seeds.push({ at, bytes: (await base.read(at, len)).slice(), hot });
    }
  });
  afterAll(async () => {
    await base?.close();
    tmp.cleanup();
  });

  it(`${FUZZ_CASES} mutated volumes end in a result or a RescueError`, async () => {
    let ok = 0;
    for (let seed = 1; seed <= FUZZ_CASES; seed++) {
      const r = rng(seed);
      const s = seeds[Math.floor(r() * seeds.length)]!;
      // Mutations aimed at the metadata halves of cluster headers and the resource headers.
      const patches = [{ at: s.at, bytes: mutate(s.bytes, r, s.hot) }];
      const res = await fuzzCase('esxi metadata', seed, async () => {
        const ds = await openDatastore([new PatchedSource(base, patches)]);
        await ds.usage();
        await ds.allocationMap();
        const use = await blockUseOf(ds);
        await scanFreedFds(fsOf(ds), use);
        await scanFreedPbs(fsOf(ds), use);
      });
      if (res === 'ok') ok++;
    }
    console.log(`esxi fuzz: ${ok} of ${FUZZ_CASES} opened and scanned`);
    expect(ok).toBeGreaterThan(0);
  });
});
