import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { findDeepVolumes, openDeepVolume } from '../../src/core/vmfs/deep/open.js';
import { buildDeepDumps, type DeepDumps } from '../helpers/deep-dumps.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * `--volume UUID` stops the deep search once the metadata zone holds the wanted volume (with at
 * least half a zone of it inside the zone): the same volume, the same files, fewer bytes read.
 */
describe('deep search for one wanted volume', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let d: DeepDumps;
  beforeAll(async () => {
    tmp = makeTempDir('deep-wanted-');
    d = await buildDeepDumps(tmp.dir, 5);
  }, 600_000);
  afterAll(() => tmp?.cleanup());

  it('stops after the zone when the wanted volume is in it, and lists what the whole search lists', async () => {
    const src = await NodeFileSource.open(d.a);
    try {
      const zone = 128 << 20;
      expect(src.size).toBeGreaterThan(zone);
      const whole = await findDeepVolumes([src], { metadataZone: zone });
      const id = whole.volumes.find((v) => v.state === 'previous')!.uuid;
      expect(whole.scan.bytesScanned).toBe(src.size - (src.size % 512));
      const early = await findDeepVolumes([src], { metadataZone: zone, wanted: id });
      expect(early.scan.bytesScanned).toBe(zone);
      // Wanted but not in the zone (an id no volume has): the whole dump is searched.
      const none = await findDeepVolumes([src], { metadataZone: zone, wanted: '00000000-00000005-0000-000000000001' });
      expect(none.scan.bytesScanned).toBe(whole.scan.bytesScanned);
      const list = async (found: typeof whole) => {
        const ds = await openDeepVolume([src], id, { found });
        const out: string[] = [];
        const walk = async (p: string) => {
          for (const e of await ds.readdir(p)) {
            if (e.name === '.' || e.name === '..') continue;
            const q = `${p === '/' ? '' : p}/${e.name}`;
            out.push(`${q} ${e.size}`);
            if (e.type === 'directory' && out.length < 1000) await walk(q);
          }
        };
        await walk('/');
        return out.sort();
      };
      const a = await list(whole);
      expect(a.length).toBeGreaterThan(5);
      expect(await list(early)).toEqual(a);
    } finally {
      await src.close();
    }
  }, 600_000);
});
