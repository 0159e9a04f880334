import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDeepVolumes, openDeepVolume } from '../../src/core/vmfs/deep/open.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { fixtureImage } from '../helpers/vmfs3-fixture.js';
import { PatchedSource } from '../helpers/patched-source.js';
import { oracleAvailable, run } from '../helpers/tools.js';

/**
 * The real ESX VMFS3 image with its MBR, LVM header and FS descriptor zeroed (through an overlay):
 * the deep search must rebuild the volume from its FDs and cluster headers alone, and list the
 * root as debugvmfs lists it on the intact image.
 */
const ok = oracleAvailable('debugvmfs');
const VOL = 0x1100000;

describe.skipIf(!ok)('deep search on the real VMFS3 image, tables and descriptor zeroed', () => {
  let base: NodeFileSource;
  let img: string;
  beforeAll(async () => {
    img = await fixtureImage();
    base = await NodeFileSource.open(img);
  });
  afterAll(async () => base?.close());

  it('finds a previous VMFS3 volume at the right origin and lists its root like debugvmfs', async () => {
    const src = new PatchedSource(base, [
      { at: 0, bytes: new Uint8Array(512) },
      { at: 0x100000, bytes: new Uint8Array(0x1000) },
      { at: VOL + 0x200000, bytes: new Uint8Array(512) },
    ]);
    const r = await findDeepVolumes([src]);
    expect(r.current).toBeNull();
    expect(r.volumes).toHaveLength(1);
    const v = r.volumes[0]!;
    expect(v).toMatchObject({ state: 'previous', originBytes: VOL, version: 3, blockSize: 1 << 20, uuidFromMetadata: false });
    const ds = await openDeepVolume([src], v.uuid, { found: r });
    const ours = (await ds.readdir('/')).map((e) => `${e.name} ${e.size}`).filter((s) => !s.startsWith('. ') && !s.startsWith('.. '));
    const listed = run('debugvmfs', [img, 'ls', '-l', '/']).split('\n');
    const theirs: string[] = [];
    for (const line of listed) {
      const m = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (.+)$/.exec(line);
      if (m && m[2] !== '.' && m[2] !== '..') theirs.push(`${m[2]} ${m[1]}`);
    }
    expect(theirs.length).toBeGreaterThan(5);
    expect(ours.sort()).toEqual(theirs.sort());
  }, 120_000);
});
