import { describe, expect, it } from 'vitest';
import { OutOfRangeError } from '../../src/core/errors.js';
import { BlobSource } from '../../src/platform/browser/blob-source.js';
import { FileSetResolver, normalizePath, resolvePath } from '../../src/platform/browser/file-set-resolver.js';
import { scanPicked } from '../../src/workers/scan-picked.js';

// Node 20 has Blob and File, so the browser platform's file-set logic runs here too.
const file = (name: string, body: string | Uint8Array<ArrayBuffer>, rel?: string): File => {
  const f = new File([body], name);
  if (rel) Object.defineProperty(f, 'webkitRelativePath', { value: rel });
  return f;
};

const descriptor = (o: { cid: string; parentCid: string; type: string; hint?: string; extent: string; extentType: string }) =>
  [
    '# Disk DescriptorFile',
    'version=1',
    `CID=${o.cid}`,
    `parentCID=${o.parentCid}`,
    `createType="${o.type}"`,
    ...(o.hint ? [`parentFileNameHint="${o.hint}"`] : []),
    '',
    `RW 16 ${o.extentType} "${o.extent}"`,
    '',
  ].join('\n');

describe('BlobSource', () => {
  it('reads exact ranges by slicing and rejects reads past the end', async () => {
    const bytes = new Uint8Array(1000).map((_, i) => i & 0xff);
    const src = new BlobSource(new Blob([bytes]), 'b');
    expect(src.size).toBe(1000);
    expect([...(await src.read(250, 4))]).toEqual([250, 251, 252, 253]);
    expect((await src.read(1000, 0)).length).toBe(0);
    await expect(src.read(998, 3)).rejects.toBeInstanceOf(OutOfRangeError);
  });
});

describe('paths in a picked set', () => {
  it('normalises and resolves relative to the referring file', () => {
    expect(normalizePath('./a//b/../c.vmdk')).toBe('a/c.vmdk');
    expect(normalizePath('a\\b.vmdk')).toBe('a/b.vmdk');
    expect(resolvePath('vm/top.vmdk', 'base.vmdk')).toBe('vm/base.vmdk');
    expect(resolvePath('vm/top.vmdk', '../other/base.vmdk')).toBe('other/base.vmdk');
    expect(resolvePath('vm/top.vmdk', '/vmfs/volumes/ds/vm/base.vmdk')).toBe('/vmfs/volumes/ds/vm/base.vmdk');
  });

  it('finds an absolutely named parent by basename, and opens files by their folder-relative path', async () => {
    const r = await FileSetResolver.from({
      kind: 'files',
      files: [file('top.vmdk', 'x', 'picked/vm/top.vmdk'), file('Base.vmdk', 'yy', 'picked/vm/Base.vmdk')],
    });
    expect(await r.list()).toEqual(['vm/Base.vmdk', 'vm/top.vmdk']);
    expect(r.candidates('vm/top.vmdk', '/vmfs/volumes/ds/vm/base.vmdk')).toContain('vm/Base.vmdk');
    expect((await r.open('vm/./Base.vmdk'))?.size).toBe(2);
    expect(await r.open('/vmfs/volumes/ds/vm/base.vmdk')).toBeNull();
    expect(await r.open('vm/missing.vmdk')).toBeNull();
  });
});

describe('scanPicked', () => {
  it('suggests the descriptor no other file names as its parent', async () => {
    const files = [
      file('base.vmdk', descriptor({ cid: '11111111', parentCid: 'ffffffff', type: 'vmfs', extent: 'base-flat.vmdk', extentType: 'VMFS' })),
      file('base-flat.vmdk', new Uint8Array(8192)),
      file('base-000001.vmdk', descriptor({ cid: '22222222', parentCid: '11111111', type: 'vmfsSparse', hint: 'base.vmdk', extent: 'base-000001-delta.vmdk', extentType: 'VMFSSPARSE' })),
      file('base-000001-delta.vmdk', new Uint8Array([0x43, 0x4f, 0x57, 0x44, 1, 0, 0, 0])),
      file('base-000002.vmdk', descriptor({ cid: '33333333', parentCid: '22222222', type: 'vmfsSparse', hint: '/vmfs/volumes/ds/vm/base-000001.vmdk', extent: 'base-000002-delta.vmdk', extentType: 'VMFSSPARSE' })),
      file('vm.vmx', 'displayName = "vm"'),
    ];
    const scan = await scanPicked(await FileSetResolver.from({ kind: 'files', files }));
    expect(scan.suggestedTop).toBe('base-000002.vmdk');
    // Referenced descriptors stay choosable (an older point of the chain), after the free top.
    expect(scan.tops).toEqual(['base-000002.vmdk', 'base-000001.vmdk', 'base.vmdk']);
    const kinds = Object.fromEntries(scan.files.map((f) => [f.path, f.kind]));
    expect(kinds).toMatchObject({ 'base-flat.vmdk': 'data', 'base-000001-delta.vmdk': 'cowd', 'vm.vmx': 'other', 'base.vmdk': 'descriptor' });
  });

  it('suggests nothing when only data files were picked', async () => {
    const scan = await scanPicked(await FileSetResolver.from({ kind: 'files', files: [file('x-flat.vmdk', new Uint8Array(4096))] }));
    expect(scan.suggestedTop).toBeNull();
  });
});
