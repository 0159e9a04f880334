import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fsOf, openDatastore } from '../../src/core/vmfs/index.js';
import { readLvmDevice } from '../../src/core/vmfs/lvm.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildVmfs, MiB, SEGMENT } from '../builders/vmfs/index.js';
import { oracleAvailable, run } from '../helpers/tools.js';

/**
 * A device of more than 8 PE maps (> 2 TiB of 256 MiB PEs) chains extended LVM headers. The
 * builder's (extendedLvm) is read by debugvmfs (which ignores PE tables) and by our reader, whose
 * PE walk must cover the whole device in one run. Sparse in /dev/shm: ext4 /tmp stops at 16 TiB.
 */
const shm = existsSync('/dev/shm');
const oracles = oracleAvailable('debugvmfs');
const dir = shm ? mkdtempSync('/dev/shm/vmfs-extlvm-') : '';
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!oracles || !shm)('extended LVM headers', () => {
  it('map every PE of a 9-map device (one extended header) as one run; debugvmfs df agrees on the volume', async () => {
    const segments = 8 * 8192 + 10;
    const m = await buildVmfs({
      version: 5, dir, name: 'ext', label: 'extlvm', seed: 3, hashLimit: 0, fbbPerCluster: 3968, extendedLvm: true,
      luns: [{ scheme: 'bare', segments }], files: [{ path: '/vm/far.log', kind: 'resident', size: 300 }],
    });
    const src = await NodeFileSource.open(m.luns[0]!.path);
    try {
      const dev = await readLvmDevice(src);
      expect(dev.numPEs).toBe(segments);
      expect(dev.pes).toEqual([{ lOffset: 0, pOffset: 0x1100000, length: segments * SEGMENT, volumeId: 0 }]);
      expect(dev.warnings).toEqual([]);
      const ds = await openDatastore([src]);
      const out = run('debugvmfs', [m.luns[0]!.path, 'df']);
      const n = (label: string) => Number(new RegExp(`^${label}\\s*:\\s*(\\d+)`, 'm').exec(out)![1]);
      expect(ds.info.totalBlocks).toBe(n('Total blocks'));
      expect((await ds.usage()).freeBlocks).toBe(n('Free blocks'));
      expect(ds.info.totalBlocks).toBe((segments * SEGMENT) / MiB);
      expect(fsOf(ds).fbb).not.toBeNull();
    } finally {
      await src.close();
    }
  });
});
