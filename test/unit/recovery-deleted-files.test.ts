import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { makeTempDir, runCli } from '../helpers/tools.js';

/**
 * `ls --deleted`: on a VMFS5 dump where a delta and its descriptor were deleted (FDs freed but
 * intact), a folder was deleted (its freed FD still lists the two files by name) and one FD is
 * allocated but in no folder, exactly those four are listed, with the names the remnant gives.
 * Expected values are what the builder wrote.
 */
describe('ls --deleted', () => {
  const tmp = makeTempDir('recovery-deleted-');
  afterAll(() => tmp.cleanup());

  it('lists freed and orphan FDs, names from a directory remnant, folders from FD metadata', async () => {
    const d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'fd-intact', seed: 33, reuse: false, noise: false, extras: true, oracle: false });
    const r = runCli(['ls', '--image', d.dump, '--deleted', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const got = (JSON.parse(r.stdout) as { name: string | null; dir: string | null; type: string; size: number; fdAddress: number; fdAddressText: string; state: string }[])
      .map(({ name, dir, type, size, fdAddress, state }) => ({ name, dir, type, size, fdAddress, state }))
      .sort((a, b) => a.fdAddress - b.fdAddress);
    expect(got).toEqual([...d.expectedDeleted].sort((a, b) => a.fdAddress - b.fdAddress));

    const text = runCli(['ls', '--image', d.dump, '--deleted']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('/vm1/vm1-000001-delta.vmdk');
    expect(text.stdout).toMatch(/^orphan /m);
  }, 60_000);

  it('a dump with nothing deleted lists nothing', async () => {
    const d = await buildDeletedDeltaDump({ dir: path.join(tmp.dir, 'clean'), case: 'contiguous', seed: 34, reuse: false, noise: false, oracle: false });
    const r = runCli(['ls', '--image', d.dump, '--deleted', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  }, 60_000);
});
