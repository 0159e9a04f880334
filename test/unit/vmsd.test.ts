import { describe, expect, it } from 'vitest';
import { CorruptError } from '../../src/core/errors.js';
import { MemorySource } from '../../src/core/io/byte-source.js';
import { parseVmsd, parseVmxText } from '../../src/core/vmdk/vmsd.js';
import { isVmsnHeader, parseVmsn } from '../../src/core/vmdk/vmsn.js';

// Shape of an ESXi .vmsd after two snapshots and a revert to the first (vmdk-format.md §8.2).
const VMSD = `.encoding = "UTF-8"
snapshot.lastUID = "3"
snapshot.current = "1"
snapshot0.uid = "1"
snapshot0.filename = "web-Snapshot1.vmsn"
snapshot0.displayName = "before update"
snapshot0.description = "says |22hi|22"
snapshot0.createTimeHigh = "378893"
snapshot0.createTimeLow = "-1218453601"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "web.vmdk"
snapshot0.disk0.node = "scsi0:0"
snapshot0.type = "1"
snapshot2.uid = "3"
snapshot2.parent = "1"
snapshot2.filename = "web-Snapshot3.vmsn"
snapshot2.displayName = "after update"
snapshot2.numDisks = "2"
snapshot2.disk0.fileName = "web-000001.vmdk"
snapshot2.disk0.node = "scsi0:0"
snapshot2.disk1.fileName = "data.vmdk"
snapshot2.disk1.node = "scsi0:1"
snapshot.numSnapshots = "2"
`;

describe('parseVmsd', () => {
  it('builds the snapshot tree by uid, with disks, current snapshot and times', () => {
    const v = parseVmsd(VMSD, 'web.vmsd');
    expect(v.encoding).toBe('UTF-8');
    expect(v.lastUid).toBe(3);
    expect(v.currentUid).toBe(1);
    expect(v.numSnapshots).toBe(2);
    expect(v.snapshots.map((s) => [s.slot, s.uid, s.parentUid])).toEqual([
      [0, 1, null],
      [2, 3, 1],
    ]);
    expect(v.roots).toHaveLength(1);
    const root = v.roots[0]!;
    expect(root.displayName).toBe('before update');
    expect(root.description).toBe('says "hi"');
    expect(root.filename).toBe('web-Snapshot1.vmsn');
    expect(root.disks).toEqual([{ index: 0, fileName: 'web.vmdk', node: 'scsi0:0' }]);
    expect(root.children.map((c) => c.uid)).toEqual([3]);
    expect(root.children[0]!.disks.map((d) => d.fileName)).toEqual(['web-000001.vmdk', 'data.vmdk']);
    // 378893 * 2^32 + (-1218453601 as u32) µs, computed with Python: 2021-07-26T21:48:40.197023Z.
    expect(root.createTime!.toISOString()).toBe('2021-07-26T21:48:40.197Z');
    expect(v.warnings).toEqual([]);
  });

  it('an empty .vmsd is valid; binary garbage is a CorruptError; inconsistencies become warnings', () => {
    expect(parseVmsd('', 'e.vmsd').snapshots).toEqual([]);
    expect(() => parseVmsd('\x01\x02 garbage without keys', 'g.vmsd')).toThrow(CorruptError);
    const v = parseVmsd('snapshot0.uid = "5"\nsnapshot0.parent = "6"\nsnapshot1.uid = "6"\nsnapshot1.parent = "5"\nsnapshot2.parent = "5"\nsnapshot.numSnapshots = "9"\nsnapshot.current = "77"\n', 'l.vmsd');
    expect(v.snapshots.map((s) => s.uid)).toEqual([5, 6]);
    expect(v.roots.length).toBeGreaterThan(0);
    const w = v.warnings.join('\n');
    expect(w).toMatch(/snapshot2 has no valid uid/);
    expect(w).toMatch(/numSnapshots = 9/);
    expect(w).toMatch(/snapshot.current = 77/);
    expect(w).toMatch(/loop/);
  });

  it('parseVmxText lower-cases keys and strips quotes', () => {
    const m = parseVmxText('scsi0:0.fileName = "a b.vmdk"\nDisplayName = "x"\n# comment\nbad line\n');
    expect(m.get('scsi0:0.filename')).toBe('a b.vmdk');
    expect(m.get('displayname')).toBe('x');
    expect(m.size).toBe(2);
  });
});

/** A checkpoint container built from the layout in crash-utility's vmware_vmss.h. */
function buildVmsn(config: string, magic = 0xbed2bed2): Uint8Array {
  const groups = ['Checkpoint', 'Snapshot', 'cpu'];
  const tableEnd = 12 + groups.length * 80;
  const cfg = new TextEncoder().encode(config);
  const out = new Uint8Array(tableEnd + 300 + cfg.length + 100);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, magic, true);
  dv.setUint32(4, 8, true);
  dv.setUint32(8, groups.length, true);
  groups.forEach((g, i) => {
    out.set(new TextEncoder().encode(g), 12 + i * 80);
    dv.setBigUint64(12 + i * 80 + 64, BigInt(tableEnd + i * 100), true);
    dv.setBigUint64(12 + i * 80 + 72, 100n, true);
  });
  out.set(cfg, tableEnd + 300);
  return out;
}

describe('parseVmsn', () => {
  it('reads the header, group table and the disk file names of the embedded config', async () => {
    const bytes = buildVmsn('.encoding = "UTF-8"\nscsi0:0.fileName = "web-000001.vmdk"\nscsi0:1.fileName = "data.vmdk"\nide1:0.fileName = "cd.iso"\n');
    expect(isVmsnHeader(bytes)).toBe(true);
    const info = await parseVmsn(new MemorySource(bytes, 'web-Snapshot3.vmsn'));
    expect(info.kind).toBe('checkpoint');
    expect(info.version).toBe(8);
    expect(info.groups.map((g) => g.name)).toEqual(['Checkpoint', 'Snapshot', 'cpu']);
    expect(info.groups[1]!.position).toBe(12 + 240 + 100);
    expect(info.disks).toEqual([
      { node: 'scsi0:0', fileName: 'web-000001.vmdk' },
      { node: 'scsi0:1', fileName: 'data.vmdk' },
      { node: 'ide1:0', fileName: 'cd.iso' },
    ]);
  });

  it('rejects a wrong magic and an absurd group count; a truncated table is a warning', async () => {
    const bad = buildVmsn('');
    bad[0] = 0;
    await expect(parseVmsn(new MemorySource(bad, 'b.vmsn'))).rejects.toThrow(/not a \.vmsn\/\.vmss file/);
    const many = buildVmsn('');
    new DataView(many.buffer).setUint32(8, 0xffffffff, true);
    await expect(parseVmsn(new MemorySource(many, 'm.vmsn'))).rejects.toThrow(CorruptError);
    const cut = buildVmsn('scsi0:0.fileName = "x.vmdk"').subarray(0, 100);
    const info = await parseVmsn(new MemorySource(cut, 'c.vmsn'));
    expect(info.groups).toHaveLength(1);
    expect(info.warnings.join('\n')).toMatch(/truncated/);
  });
});

describe('vmdk snapshots (CLI)', () => {
  it('prints the snapshot tree with the disks each snapshot froze, from the .vmsd and its .vmsn', async () => {
    const { makeTempDir, runCli } = await import('../helpers/tools.js');
    const { writeFileSync } = await import('node:fs');
    const path = await import('node:path');
    const t = makeTempDir();
    try {
      writeFileSync(path.join(t.dir, 'web.vmsd'), VMSD);
      writeFileSync(path.join(t.dir, 'web-Snapshot3.vmsn'), buildVmsn('scsi0:0.fileName = "web-000001.vmdk"\n'));
      const j = runCli(['vmdk', 'snapshots', path.join(t.dir, 'web.vmsd'), '--json']);
      expect(j.code).toBe(0);
      const out = JSON.parse(j.stdout) as { currentUid: number; snapshots: { uid: number; current: boolean; disks: { fileName: string }[]; vmsnDisks: { fileName: string }[] | null }[] };
      expect(out.currentUid).toBe(1);
      expect(out.snapshots.map((s) => [s.uid, s.current])).toEqual([[1, true], [3, false]]);
      expect(out.snapshots[0]!.vmsnDisks).toBeNull(); // web-Snapshot1.vmsn is absent
      expect(out.snapshots[1]!.vmsnDisks).toEqual([{ node: 'scsi0:0', fileName: 'web-000001.vmdk' }]);
      const human = runCli(['vmdk', 'snapshots', path.join(t.dir, 'web.vmsd')]);
      expect(human.stdout).toMatch(/\[1\] before update {2}<- current/);
      expect(human.stdout).toMatch(/ {2}\[3\] after update/);
      expect(runCli(['vmdk', 'snapshots', path.join(t.dir, 'nope.vmsd')]).code).toBe(1);
    } finally {
      t.cleanup();
    }
  });
});
