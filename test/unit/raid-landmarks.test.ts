import { closeSync, openSync, readSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDirectories, scanLandmarks, VOLUME_IN_PARTITION, type DirClues, type Landmark, type LunFacts } from '../../src/core/raid/landmarks.js';
import { buildVmfs, MiB, type Manifest } from '../builders/vmfs/index.js';
import { makeTempDir } from '../helpers/tools.js';

/**
 * Directory blocks as RAID landmarks, on a whole VMFS5 LUN made by the builder: every directory
 * block found is placed at the volume offset its own FD's first file block names, and what it
 * holds there is that directory's entries as the builder's manifest lists them.
 */
const tmp = makeTempDir('raid-lm-');
afterAll(() => tmp.cleanup());
let manifest: Manifest;

beforeAll(async () => {
  manifest = await buildVmfs({
    version: 5, dir: tmp.dir, name: 'lm', label: 'lm', seed: 3, fdcGroups: 2,
    luns: [{ scheme: 'gpt', segments: 1 }],
    files: [
      { path: '/small/a.txt', kind: 'resident', size: 100 },
      // 70 entries of 140 bytes: more than a sub-block, so the folder is held in a file block
      ...Array.from({ length: 68 }, (_, i) => ({ path: `/big/f${i}.txt`, kind: 'resident' as const, size: 10 })),
    ],
  });
}, 120_000);

describe('RAID landmarks: directory blocks', () => {
  it('places each file-block directory of a VMFS5 LUN at its FD\'s first block, holding the entries the manifest lists', () => {
    const lun = manifest.luns[0]!;
    const fd = openSync(lun.path, 'r');
    const landmarks: Landmark[] = [];
    const facts: LunFacts = {};
    const dirs: DirClues = { blocks: [], homes: new Map() };
    const block = 4 * MiB;
    const buf = new Uint8Array(block);
    try {
      for (let at = 0; at < Math.min(lun.size, 256 * MiB); at += block) {
        const n = readSync(fd, buf, 0, block, at);
        scanLandmarks(buf.subarray(0, n), at, landmarks, facts, dirs);
      }
      const out = [landmarks];
      resolveDirectories([dirs], out);
      const found = landmarks.filter((l) => l.kind === 'directory');
      const volBase = lun.partitionOffset + VOLUME_IN_PARTITION;
      const dirEntries = manifest.entries.filter((e) => e.type === 'directory');
      const byFd = new Map(dirEntries.map((e) => [e.fdAddress, e]));
      // the root and /big do not fit a sub-block; /small does (it is not placed by this landmark)
      expect(found.length).toBe(2);
      const seen: string[] = [];
      for (const l of found) {
        expect(l.pos).toBe(volBase + l.vol!);
        const head = new Uint8Array(140 * 80);
        readSync(fd, head, 0, head.length, l.pos);
        const dv = new DataView(head.buffer);
        const self = byFd.get(dv.getUint32(4, true));
        expect(self, 'the "." entry names a directory of the manifest').toBeDefined();
        seen.push(self!.path);
        const names: string[] = [];
        for (let k = 2; k < 80; k++) {
          if (!dv.getUint32(k * 140 + 4, true)) continue;
          const raw = head.subarray(k * 140 + 12, k * 140 + 140);
          names.push(new TextDecoder().decode(raw.subarray(0, raw.indexOf(0))));
        }
        const prefix = self!.path === '/' ? '/' : `${self!.path}/`;
        const children = manifest.entries.filter((e) => e.path !== self!.path && e.path.startsWith(prefix) && !e.path.slice(prefix.length).includes('/')).map((e) => e.name);
        expect(names.sort()).toEqual(children.sort());
      }
      expect(seen.sort()).toEqual(['/', '/big']);
    } finally {
      closeSync(fd);
    }
  });
});
