import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkRoles, probePickedFile, rankTops, vmdkRole, type PickedFile, type VmdkRole } from '../../src/core/vmdk/roles.js';
import { NodeFileSource } from '../../src/platform/node/file-source.js';
import { buildCowdDelta } from '../builders/cowd.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * What a .vmdk is in a chain (the datastore listing's marks, the picked-files suggestion of a top),
 * on files qemu-img makes: a monolithicFlat base, a monolithicSparse snapshot (descriptor embedded)
 * and a twoGbMaxExtentSparse snapshot (text descriptor + KDMV piece) over it, plus a COWD delta
 * from the builder. Expected roles follow from what was asked of qemu-img, and its own `info`
 * (create type, backing file) is the oracle for each descriptor's fields.
 */
const ok = oracleAvailable('qemu-img');

interface QemuInfo {
  'backing-filename'?: string;
  'format-specific'?: { data?: { 'create-type'?: string } };
}

describe.skipIf(!ok)('VMDK roles and chain tops', () => {
  const tmp = makeTempDir('vmdk-roles-');
  const dir = tmp.dir;
  const info = (f: string) => JSON.parse(run('qemu-img', ['info', '--output=json', path.join(dir, f)])) as QemuInfo;
  const role = async (f: string): Promise<VmdkRole> => {
    const p = path.join(dir, f);
    const src = await NodeFileSource.open(p);
    try {
      return await vmdkRole(src, statSync(p).size, f);
    } finally {
      await src.close();
    }
  };
  const probe = async (f: string): Promise<PickedFile> => {
    const p = path.join(dir, f);
    const src = await NodeFileSource.open(p, f);
    const pf: PickedFile = { path: f, size: src.size, kind: 'other', createType: null, parentHint: null, extentFiles: [] };
    try {
      await probePickedFile(src, pf);
    } finally {
      await src.close();
    }
    return pf;
  };

  beforeAll(() => {
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', path.join(dir, 'base.vmdk'), '4M']);
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', path.join(dir, 'snap.vmdk')], { cwd: dir });
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', '-b', 'base.vmdk', '-F', 'vmdk', path.join(dir, 'split.vmdk')], { cwd: dir });
  });
  afterAll(() => tmp.cleanup());

  it('qemu-img made the files the test expects', () => {
    expect(readdirSync(dir).sort()).toEqual(['base-flat.vmdk', 'base.vmdk', 'snap.vmdk', 'split-s001.vmdk', 'split.vmdk']);
    expect(info('base.vmdk')['format-specific']?.data?.['create-type']).toBe('monolithicFlat');
    expect(info('snap.vmdk')['backing-filename']).toBe('base.vmdk');
    expect(info('split.vmdk')['format-specific']?.data?.['create-type']).toBe('twoGbMaxExtentSparse');
  });

  it('vmdkRole: descriptors with their type, extents and parent as qemu-img reads them; KDMV files sparse; extents data', async () => {
    expect(await role('base.vmdk')).toEqual({ kind: 'descriptor', createType: info('base.vmdk')['format-specific']!.data!['create-type'], extents: ['base-flat.vmdk'], parent: null });
    expect(await role('split.vmdk')).toEqual({ kind: 'descriptor', createType: 'twoGbMaxExtentSparse', extents: ['split-s001.vmdk'], parent: info('split.vmdk')['backing-filename'] });
    expect(await role('base-flat.vmdk')).toEqual({ kind: 'data' });
    expect(await role('snap.vmdk')).toEqual({ kind: 'sparse' });
    expect(await role('split-s001.vmdk')).toEqual({ kind: 'sparse' });
  });

  it('linkRoles: the flat extent belongs to its descriptor, the base is no top once a snapshot names it', async () => {
    const names = ['base.vmdk', 'base-flat.vmdk', 'split.vmdk', 'split-s001.vmdk', 'orphan-flat.vmdk'];
    const entries = await Promise.all(names.map(async (name) => ({ name, vmdk: name === 'orphan-flat.vmdk' ? ({ kind: 'data' } as VmdkRole) : await role(name) })));
    linkRoles(entries);
    const by = Object.fromEntries(entries.map((e) => [e.name, e.vmdk]));
    expect(by['base-flat.vmdk']!.owner).toBe('base.vmdk');
    expect(by['orphan-flat.vmdk']!.owner).toBeNull();
    expect(by['base.vmdk']!.top).toBe(false);
    expect(by['split.vmdk']!.top).toBe(true);
  });

  it('probePickedFile reads each kind, embedded descriptors included; rankTops suggests the snapshot, never a split piece', async () => {
    const base = await probe('base.vmdk');
    const snap = await probe('snap.vmdk');
    const split = await probe('split.vmdk');
    const piece = await probe('split-s001.vmdk');
    const flat = await probe('base-flat.vmdk');
    expect([base.kind, snap.kind, split.kind, piece.kind, flat.kind]).toEqual(['descriptor', 'hostedSparse', 'descriptor', 'hostedSparse', 'data']);
    expect(snap.parentHint).toBe(info('snap.vmdk')['backing-filename']);
    expect(snap.createType).toBe('monolithicSparse');
    expect(split.extentFiles).toEqual(['split-s001.vmdk']);
    expect(piece.createType).toBeNull(); // a piece of a split disk has no descriptor of its own

    expect(rankTops([base, flat, split, piece])).toEqual({ tops: ['split.vmdk', 'base.vmdk'], suggestedTop: 'split.vmdk' });
    expect(rankTops([base, flat, snap])).toEqual({ tops: ['snap.vmdk', 'base.vmdk'], suggestedTop: 'snap.vmdk' });
    // Two snapshots of one base: both are tops, the deeper chain first, then by name.
    expect(rankTops([base, flat, snap, split, piece]).tops).toEqual(['snap.vmdk', 'split.vmdk', 'base.vmdk']);
  });

  it('a COWD delta is data to the listing and cowd to the picker; its descriptor names it and its parent', async () => {
    const cowd = buildCowdDelta({ dir, name: 'vm-000001', capacity: 4 * 1024 * 1024, parentFileNameHint: 'base.vmdk', parentCid: 'fffffffe', cid: '12345678' });
    const deltaName = path.basename(cowd.dataPath);
    expect(run('qemu-img', ['info', '--output=json', cowd.descriptorPath])).toMatch(/"backing-filename": "base.vmdk"/);
    expect(await role(deltaName)).toEqual({ kind: 'data' });
    expect((await probe(deltaName)).kind).toBe('cowd');
    const d = await role(path.basename(cowd.descriptorPath));
    expect(d).toMatchObject({ kind: 'descriptor', extents: [deltaName], parent: 'base.vmdk' });
  });
});
