import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVmfs } from '../../src/core/synth/vmfs/vmfs-builder.js';
import { buildDeletedDeltaDump, type DeletedDeltaDump } from '../builders/recovery/deleted-delta.js';
import { nodeSha256 } from '../builders/vmfs/sparse-file.js';
import { OverwriteFile } from '../helpers/deep-dumps.js';
import { makeTempDir, oracleAvailable, run, runCli, sha256File } from '../helpers/tools.js';

/**
 * The old volume's deleted deltas are candidates too: a VMFS5 datastore whose snapshot delta was
 * deleted by a revert (the recovery builder's dump: the expected disk is qemu-img's convert of the
 * pre-deletion chain) is then re-created over (a new empty datastore formatted on the same
 * partition, which debugvmfs sees). `scan --volume` of the previous volume finds the delta, its
 * parent in /lost+found, and `recover --volume` writes the disk qemu-img gives.
 */
const ok = oracleAvailable('qemu-img', 'debugvmfs', 'dd');
const MiB = 1 << 20;

describe.skipIf(!ok)('deleted delta on a re-created datastore', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let d: DeletedDeltaDump;
  let dump: string;
  let newUuid: string;
  beforeAll(async () => {
    tmp = makeTempDir('deep-delta-');
    d = await buildDeletedDeltaDump({ dir: tmp.dir, case: 'fd-intact', seed: 41, reuse: false, noise: false });
    dump = path.join(tmp.dir, 'recreated.img');
    copyFileSync(d.dump, dump);
    const lun = d.manifest.luns[0]!;
    const m = await buildVmfs({
      version: 5, name: 'new', label: 'new-ds', seed: 95, files: [], luns: [{ scheme: 'gpt', segments: lun.numSegments }], hasher: nodeSha256,
      createLun: (_f, size) => new OverwriteFile(dump, size),
    });
    newUuid = m.fsUuid;
    // debugvmfs reads the partition and sees the new, empty volume.
    const part = path.join(tmp.dir, 'part.img');
    run('dd', [`if=${dump}`, `of=${part}`, 'bs=1M', `skip=${lun.partitionOffset / MiB}`, `count=${lun.partitionLength / MiB}`, 'conv=sparse', 'status=none']);
    const names = run('debugvmfs', [part, 'ls', '/']).split('\n').map((x) => x.trim()).filter((x) => x && x !== '.' && x !== '..');
    expect(names.sort()).toEqual(m.entries.filter((e) => e.type === 'system').map((e) => e.name).sort());
  }, 600_000);
  afterAll(() => tmp?.cleanup());

  it('scan --volume finds the deleted delta of the previous volume; recover --volume writes the pre-deletion disk', () => {
    const info = JSON.parse(runCli(['info', '--image', dump, '--deep', '--json']).stdout) as { volumes: { uuid: string; state: string }[] };
    expect(info.volumes.filter((v) => v.state === 'current').map((v) => v.uuid)).toEqual([newUuid]);
    const prev = info.volumes.filter((v) => v.state === 'previous');
    expect(prev).toHaveLength(1);
    const id = prev[0]!.uuid;

    const scan = runCli(['scan', '--image', dump, '--volume', id, '--json']);
    expect(scan.code, scan.stderr).toBe(0);
    const s = JSON.parse(scan.stdout) as { candidates: { id: string; parent: string | null }[] };
    const c = s.candidates.find((x) => x.id === d.candidateId);
    expect(c, `candidates: ${s.candidates.map((x) => x.id).join(', ')}`).toBeDefined();
    expect(s.candidates[0]!.id).toBe(d.candidateId);
    // The parent's folder was named only in the overwritten root: it is found under /lost+found.
    expect(c!.parent).toMatch(new RegExp(`^/lost\\+found/0x[0-9a-f]{8}/${path.basename(d.parentPath).replace('.', '\\.')}$`));

    const out = path.join(tmp.dir, 'recovered.img');
    const rec = runCli(['recover', '--image', dump, '--volume', id, '--candidate', d.candidateId, '--out', out, '--format', 'raw']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(d.expectedLost).toEqual([]);
    expect(rec.stdout.trim().split('\n').pop()).toBe(d.expectedSha256);
    expect(sha256File(out)).toBe(d.expectedSha256);
    // The current (new, empty) volume has no such candidate.
    const cur = JSON.parse(runCli(['scan', '--image', dump, '--json']).stdout) as { candidates: { id: string; parent: string | null }[] };
    expect(cur.candidates.filter((x) => x.id === d.candidateId && x.parent !== null)).toEqual([]);
  }, 600_000);
});
