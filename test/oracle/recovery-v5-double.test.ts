import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { buildCandidates } from '../../src/core/recovery/scan.js';
import { recoveredDisk } from '../../src/core/recovery/recover.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildV5DoubleDump } from '../builders/recovery/v5-double.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * VMFS5: a deleted COWD delta of just over 256 GiB, whose freed FD addresses its blocks by double
 * indirection (ZLA 4304), is followed through its freed top and leaf pointer blocks. debugvmfs
 * lists the live delta with its size (its reader takes ZLA 4304 for single indirection on VMFS5,
 * so its `cat` is no oracle here; the layout follows dissect.vmfs, docs/format-notes.md). The
 * recovered disk is compared with qemu-img's reading of the pre-revert chain window by window
 * (every patterned grain, zeros around it, and the disk's end): the disk is 256 GiB.
 * The scan runs its metadata passes only (freed FDs and PBs): carving 260 GiB of free space
 * would prove nothing more here.
 */
const ok = oracleAvailable('qemu-img', 'debugvmfs');

describe.skipIf(!ok)('VMFS5 freed FD with double indirection (a delta over 256 GiB)', () => {
  const tmp = makeTempDir('recovery-v5-double-');
  afterAll(() => tmp.cleanup());

  it('follows the freed top and leaf pointer blocks, and the disk reads as qemu-img reads the pre-revert chain', async () => {
    const d = await buildV5DoubleDump({ dir: tmp.dir, seed: 81 });
    const ls = run('debugvmfs', [d.liveDump, 'ls', '-l', '/vm1']);
    expect(ls.split('\n').find((l) => l.endsWith(' vm1-000001-delta.vmdk')), ls).toMatch(new RegExp(`\\s${d.deltaSize}\\s`));
    expect(run('debugvmfs', [d.dump, 'ls', '/vm1'])).not.toMatch(/vm1-000001-delta\.vmdk/);

    const src = await NodeFileSource.open(d.dump, path.basename(d.dump));
    try {
      const ds = await openDatastore([src]);
      const r = await buildCandidates(ds, []);
      const top = r.candidates[0]!;
      expect({ id: top.id, method: top.method, format: top.format, capacity: top.capacityBytes, parent: top.parent }).toEqual({
        id: d.candidateId, method: 'fd', format: 'vmfsSparse', capacity: d.capacity, parent: d.parentPath,
      });
      const fd = top.evidence.find((e) => e.kind === 'freed-fd')!;
      expect(fd.detail).toMatch(/double indirection/);
      expect(top.lostGrains).toBe(0);
      expect(top.recoverableGrains).toBe(d.dataGrains);

      const { disk } = await recoveredDisk(ds, top, top.parent);
      const h = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
      for (const w of d.windows) {
        const out = path.join(tmp.dir, 'window.raw');
        // qemu's raw driver over the vmdk chain, cut to the window.
        const spec = { driver: 'raw', offset: w.offset, size: w.length, file: { driver: 'vmdk', file: { driver: 'file', filename: d.chainDescriptor } } };
        run('qemu-img', ['convert', '-O', 'raw', `json:${JSON.stringify(spec)}`, out]);
        const want = readFileSync(out);
        rmSync(out);
        expect(want.length).toBe(w.length);
        expect(h(await disk.read(w.offset, w.length)), `window at ${w.offset}`).toBe(h(want));
      }
    } finally {
      await src.close();
    }
  }, 1_500_000);
});
