import { beforeAll, describe, expect, it } from 'vitest';
import { buildDemo, type Demo } from '../../src/core/synth/demo.js';
import { listFolder, openDatastore } from '../../src/core/vmfs/index.js';

/**
 * The file browser's folder listing (core/vmfs/folder-listing.ts) on the demo datastore, whose VM
 * folder holds a flat base with its descriptor and a live snapshot (descriptor + delta) over it:
 * the roles must link each extent to the descriptor that names it and mark only the snapshot as a
 * chain top. The demo's volume is checked by debugvmfs in demo.test.ts.
 */

let demo: Demo;
beforeAll(async () => {
  demo = await buildDemo();
});

describe('listFolder', () => {
  it('lists the VM folder with the chain roles its descriptors give', async () => {
    const ds = await openDatastore([demo.image]);
    const l = await listFolder(ds, demo.vmDir);
    const raw = (await ds.readdir(demo.vmDir)).filter((e) => e.name !== '.' && e.name !== '..');
    expect(l.entries.map((e) => e.name)).toEqual(raw.map((e) => e.name));
    expect(l.entries.map((e) => e.size)).toEqual(raw.map((e) => e.size));
    expect(l.vmFolder).toBe(true);
    const role = (n: string) => l.entries.find((e) => e.name === n)!.vmdk;
    expect(role('demo-vm.vmdk')).toMatchObject({ kind: 'descriptor', extents: ['demo-vm-flat.vmdk'], parent: null, top: false });
    expect(role('demo-vm-000002.vmdk')).toMatchObject({ kind: 'descriptor', extents: ['demo-vm-000002-delta.vmdk'], top: true });
    expect(role('demo-vm-000002.vmdk')!.parent).toMatch(/demo-vm\.vmdk$/);
    expect(role('demo-vm-flat.vmdk')).toMatchObject({ kind: 'data', owner: 'demo-vm.vmdk' });
    expect(role('demo-vm-000002-delta.vmdk')).toMatchObject({ kind: 'data', owner: 'demo-vm-000002.vmdk' });
    expect(role('demo-vm.vmx')).toBeUndefined();
    for (const e of l.entries) expect(e.path).toBe(`${demo.vmDir}/${e.name}`);
  });

  it('marks the root folder entry that holds a VM', async () => {
    const ds = await openDatastore([demo.image]);
    const root = await listFolder(ds, '/');
    const vmName = demo.vmDir.replace(/^\//, '');
    expect(root.entries.find((e) => e.name === vmName)).toMatchObject({ type: 'directory', vmFolder: true });
    expect(root.entries.some((e) => e.name === '.' || e.name === '..')).toBe(false);
  });
});
