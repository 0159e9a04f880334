import { describe, expect, it } from 'vitest';
import { guessParent, resolveNamed, type LiveDisk } from '../../src/core/recovery/parent-guess.js';
import { MAX_TEXT_BYTES, parseDescriptorRemnant, parseTextRemnant, parseVmsdRemnant, textKindOf, type VmsdRemnant } from '../../src/core/recovery/text-carving.js';
import { deltaDescriptorText, flatDescriptor } from '../builders/recovery/deleted-delta.js';
import { vmsdText } from '../builders/recovery/text-remnants.js';

/** Text carving on crafted buffers, and the parent guess from .vmsd and descriptor hints. */
const enc = (t: string) => new TextEncoder().encode(t);
const at = { volOffset: 0x1000, location: 'free-sub-block' as const };

function padded(t: string, n = 8192, fill = 0): Uint8Array {
  const b = new Uint8Array(n).fill(fill);
  b.set(enc(t));
  return b;
}

describe('textKindOf', () => {
  it('recognises descriptors and .vmsd text, rejects the rest', () => {
    expect(textKindOf(padded(deltaDescriptorText('0000abcd', '12345678', 'x-delta.vmdk')))).toBe('descriptor');
    expect(textKindOf(padded(flatDescriptor('12345678', 'x-flat.vmdk')))).toBe('descriptor');
    expect(textKindOf(padded(vmsdText()))).toBe('vmsd');
    expect(textKindOf(new Uint8Array(2048))).toBeNull();
    expect(textKindOf(padded('COWD\x01\x00\x00\x00'))).toBeNull();
    // A .vmx has key = value lines but no snapshot database keys.
    expect(textKindOf(padded('.encoding = "UTF-8"\nconfig.version = "8"\nvirtualHW.version = "8"\nscsi0:0.fileName = "vm1.vmdk"\n'))).toBeNull();
    // Text that turns binary early is not text.
    expect(textKindOf(padded('# Disk Desc\x01\x02riptorFile\ncreateType="vmfsSparse"\n'))).toBeNull();
    expect(textKindOf(new Uint8Array(0))).toBeNull();
  });
});

describe('descriptor remnants', () => {
  it('parses CID, parentCID, hint, type, capacity and extent; stops at the NUL', () => {
    const t = deltaDescriptorText('0000abcd', '12345678', 'vm1-000001-delta.vmdk');
    const b = padded(t, 4096, 0);
    b.fill(0x41, t.length + 1); // bytes after the NUL are another file's
    const d = parseDescriptorRemnant(b, at)!;
    expect(d).toMatchObject({ cid: '0000abcd', parentCid: '12345678', parentFileNameHint: 'vm1.vmdk', createType: 'vmfsSparse', extentFile: 'vm1-000001-delta.vmdk', capacityBytes: 64 << 20, location: 'free-sub-block', volOffset: 0x1000, fd: '', parentDir: 0, textBytes: t.length });
  });

  it('text cut by the read (no NUL) keeps only its complete lines', () => {
    const t = deltaDescriptorText('0000abcd', '12345678', 'vm1-000001-delta.vmdk');
    const cut = t.indexOf('#DDB') + 2; // inside the DDB marker line
    const d = parseDescriptorRemnant(enc(t.slice(0, cut)), at)!;
    expect(d.textBytes).toBe(t.indexOf('#DDB'));
    expect(d).toMatchObject({ cid: '0000abcd', extentFile: 'x-delta.vmdk'.replace('x', 'vm1-000001'), capacityBytes: 64 << 20 });
    // Cut inside the extent line: no extent, no capacity, not evidence.
    expect(parseDescriptorRemnant(enc(t.slice(0, t.indexOf('VMFSSPARSE') + 4)), at)).toBeNull();
  });

  it('never reads past MAX_TEXT_BYTES', () => {
    const t = deltaDescriptorText('0000abcd', '12345678', 'x-delta.vmdk') + '# pad\n'.repeat(3000);
    const d = parseDescriptorRemnant(enc(t), at)!;
    expect(d.textBytes).toBeLessThanOrEqual(MAX_TEXT_BYTES);
  });
});

describe('.vmsd remnants', () => {
  it('names the disks of the current snapshot', () => {
    const two = [
      '.encoding = "UTF-8"', 'snapshot.lastUID = "2"', 'snapshot.current = "2"',
      'snapshot0.uid = "1"', 'snapshot0.displayName = "one"', 'snapshot0.numDisks = "1"', 'snapshot0.disk0.fileName = "vm1.vmdk"',
      'snapshot1.uid = "2"', 'snapshot1.parent = "1"', 'snapshot1.displayName = "two"', 'snapshot1.numDisks = "2"',
      'snapshot1.disk0.fileName = "vm1-000001.vmdk"', 'snapshot1.disk1.fileName = "vm1_1.vmdk"', 'snapshot.numSnapshots = "2"', '',
    ].join('\n');
    const v = parseVmsdRemnant(padded(two), { volOffset: 5, location: 'free-block' })!;
    expect(v).toMatchObject({ currentUid: 2, currentName: 'two', currentDisks: ['vm1-000001.vmdk', 'vm1_1.vmdk'], snapshots: 2, path: null, dir: null });
    const t = parseTextRemnant(padded(two), { volOffset: 5, location: 'free-block' });
    expect(t && 'vmsd' in t).toBe(true);
  });

  it('a .vmsd with no current snapshot names no disk', () => {
    const v = parseVmsdRemnant(enc('.encoding = "UTF-8"\nsnapshot.lastUID = "3"\nsnapshot.numSnapshots = "0"\n'), at)!;
    expect(v.currentDisks).toEqual([]);
  });
});

describe('parent guess from text evidence', () => {
  const disk = (p: string, cid: string, dirFd: number): LiveDisk => ({ path: p, dir: p.slice(0, p.lastIndexOf('/')) || '/', dirFd, capacityBytes: 1 << 26, cid, createType: 'vmfs', parentPath: null });
  const disks = [disk('/vm2/vm2.vmdk', 'aaaaaaaa', 2), disk('/vm1/vm1.vmdk', 'bbbbbbbb', 1)];
  const vmsd = (dir: string | null, files: string[]): VmsdRemnant => ({ volOffset: -1, location: dir ? 'live-file' : 'free-block', path: dir ? `${dir}/vm1.vmsd` : null, dir, parentDir: 0, currentUid: 1, currentName: 's', currentDisks: files, snapshots: 1, textBytes: 100 });

  it('without evidence no same-capacity disk is picked: ambiguous, with every disk as an alternative', () => {
    const g = guessParent(disks, 1 << 26);
    expect(g.path).toBeNull();
    expect(g.ambiguous).toBe(true);
    expect(g.alternatives.map((a) => a.path).sort()).toEqual(['/vm1/vm1.vmdk', '/vm2/vm2.vmdk']);
    expect(g.alternatives[0]!.score).toBe(g.alternatives[1]!.score);
    // One disk of that capacity is no choice: it is the parent, not ambiguous.
    expect(guessParent(disks.slice(0, 1), 1 << 26)).toMatchObject({ path: '/vm2/vm2.vmdk', ambiguous: false });
  });

  it('the freed FD\'s folder decides between same-capacity disks', () => {
    expect(guessParent(disks, 1 << 26, { dirFd: 1 })).toMatchObject({ path: '/vm1/vm1.vmdk', ambiguous: false });
  });

  it('a live .vmsd names the parent relative to its folder', () => {
    const g = guessParent(disks, 1 << 26, { vmsds: [vmsd('/vm1', ['vm1.vmdk'])] });
    expect(g.path).toBe('/vm1/vm1.vmdk');
    expect(g.reasons.join('\n')).toContain('.vmsd names /vm1/vm1.vmdk');
    // Relative to another folder it names nothing there.
    expect(guessParent(disks, 1 << 26, { vmsds: [vmsd('/vm3', ['vm1.vmdk'])] })).toMatchObject({ path: null, ambiguous: true });
  });

  it('carved .vmsd text (folder unknown) names by base name; absolute paths keep two parts', () => {
    expect(guessParent(disks, 1 << 26, { vmsds: [vmsd(null, ['vm1.vmdk'])] }).path).toBe('/vm1/vm1.vmdk');
    expect(guessParent(disks, 1 << 26, { vmsds: [vmsd(null, ['/vmfs/volumes/ds1/vm1/vm1.vmdk'])] }).path).toBe('/vm1/vm1.vmdk');
  });

  it('parentCID beats a .vmsd; the parentFileNameHint counts', () => {
    const g = guessParent(disks, 1 << 26, { parentCid: 'aaaaaaaa', vmsds: [vmsd('/vm1', ['vm1.vmdk'])] });
    expect(g.path).toBe('/vm2/vm2.vmdk');
    const h = guessParent(disks, 1 << 26, { parentHint: { name: 'vm1.vmdk', dir: null, where: 'x' } });
    expect(h.path).toBe('/vm1/vm1.vmdk');
    expect(h.reasons.join('\n')).toContain('parentFileNameHint "vm1.vmdk"');
  });

  it('resolveNamed', () => {
    expect(resolveNamed('a.vmdk', '/vm1')).toEqual({ path: '/vm1/a.vmdk', base: 'a.vmdk' });
    expect(resolveNamed('a.vmdk', '/')).toEqual({ path: '/a.vmdk', base: 'a.vmdk' });
    expect(resolveNamed('a.vmdk', null)).toEqual({ path: null, base: 'a.vmdk' });
    expect(resolveNamed('/vmfs/volumes/x/vm/a.vmdk', null)).toEqual({ path: '/vm/a.vmdk', base: 'a.vmdk' });
  });
});
