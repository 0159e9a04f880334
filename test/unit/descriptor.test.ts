import { describe, expect, it } from 'vitest';
import { CorruptError } from '../../src/core/errors.js';
import {
  ddbGet,
  decodeDescriptorBytes,
  descriptorSectors,
  looksLikeDescriptor,
  MAX_EXTENTS,
  parseDescriptor,
  serializeDescriptor,
} from '../../src/core/vmdk/descriptor.js';

const esxiDelta = `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fb183c20
parentCID=6A8B2C1D
isNativeSnapshot="no"
createType="vmfsSparse"
parentFileNameHint="/vmfs/volumes/5f3c1a2b-11111111-2222-001122334455/my vm/my vm.vmdk"
# Extent description
RW 16777216 VMFSSPARSE "my vm-000001-delta.vmdk"

# The Disk Data Base
#DDB

ddb.longContentID = "0123456789abcdef0123456789abcdef"
ddb.deletable = "true"
`;

describe('parseDescriptor', () => {
  it('parses an ESXi delta descriptor (CIDs normalised to lower-case hex, ddb without prefix)', () => {
    const d = parseDescriptor(esxiDelta, 'x.vmdk');
    expect(d.version).toBe(1);
    expect(d.encoding).toBe('UTF-8');
    expect(d.cid).toBe('fb183c20');
    expect(d.parentCid).toBe('6a8b2c1d');
    expect(d.createType).toBe('vmfsSparse');
    expect(d.parentFileNameHint).toBe('/vmfs/volumes/5f3c1a2b-11111111-2222-001122334455/my vm/my vm.vmdk');
    expect(d.extents).toEqual([{ access: 'RW', sectors: 16777216, type: 'VMFSSPARSE', fileName: 'my vm-000001-delta.vmdk', offset: 0 }]);
    expect(d.ddb).toEqual({ longContentID: '0123456789abcdef0123456789abcdef', deletable: 'true' });
    expect(ddbGet(d, 'LONGCONTENTID')).toBe('0123456789abcdef0123456789abcdef');
    expect(d.header['isnativesnapshot']).toBe('no');
  });

  it('pads qemu CIDs written without leading zeros, accepts CRLF, NUL padding, spaces and any key case', () => {
    const text = '# Disk DescriptorFile\r\nVersion = 1\r\ncid=59c6c95\r\nParentCID = ffffffff\r\ncreatetype = "twoGbMaxExtentSparse"\r\n\r\nrw 4194304 sparse "a-s001.vmdk"\r\nRW 106496 SPARSE "a-s002.vmdk"\r\n\0\0\0';
    const d = parseDescriptor(decodeDescriptorBytes(new TextEncoder().encode(text)));
    expect(d.cid).toBe('059c6c95');
    expect(d.parentCid).toBe('ffffffff');
    expect(d.createType).toBe('twoGbMaxExtentSparse');
    expect(d.extents.map((e) => [e.access, e.type, e.fileName])).toEqual([
      ['RW', 'SPARSE', 'a-s001.vmdk'],
      ['RW', 'SPARSE', 'a-s002.vmdk'],
    ]);
    expect(descriptorSectors(d)).toBe(4194304 + 106496);
  });

  it('reads FLAT offsets, ZERO extents and file names with spaces and quotes', () => {
    const d = parseDescriptor('CID=1\nparentCID=ffffffff\ncreateType="custom"\nRW 100 FLAT "my "odd" disk-flat.vmdk" 2048\nRDONLY 50 ZERO\nNOACCESS 8 VMFS "v.vmdk"\n');
    expect(d.extents).toEqual([
      { access: 'RW', sectors: 100, type: 'FLAT', fileName: 'my "odd" disk-flat.vmdk', offset: 2048 },
      { access: 'RDONLY', sectors: 50, type: 'ZERO', fileName: null, offset: 0 },
      { access: 'NOACCESS', sectors: 8, type: 'VMFS', fileName: 'v.vmdk', offset: 0 },
    ]);
    expect(d.parentFileNameHint).toBeNull();
  });

  it('treats a missing CID as unknown (fffffffe) and a hint without parentCID as an unknown parent', () => {
    const d = parseDescriptor('createType="vmfsSparse"\nparentFileNameHint="p.vmdk"\nRW 8 VMFSSPARSE "d.vmdk"\n');
    expect(d.cid).toBe('fffffffe');
    expect(d.parentCid).toBe('fffffffe');
  });

  it('rejects garbage with one-line CorruptErrors naming the file', () => {
    expect(() => parseDescriptor('hello world\n', 'g.vmdk')).toThrow(/g\.vmdk: not a VMDK descriptor/);
    expect(() => parseDescriptor('RW abc FLAT "x" 0\n', 'g.vmdk')).toThrow(CorruptError);
    expect(() => parseDescriptor('RW 8 BOGUS "x"\n', 'g.vmdk')).toThrow(/unknown extent type "BOGUS"/);
    expect(() => parseDescriptor('RW 8 FLAT x 0\n', 'g.vmdk')).toThrow(/must be quoted/);
    expect(() => parseDescriptor('RW 8 FLAT\n', 'g.vmdk')).toThrow(/without a file name/);
    expect(() => parseDescriptor('CID=xyz\nRW 8 ZERO\n', 'g.vmdk')).toThrow(/CID "xyz"/);
    expect(() => parseDescriptor('RW 99999999999999999 ZERO\n', 'g.vmdk')).toThrow(/bad extent size/);
    expect(() => parseDescriptor('RW 8 ZERO\n'.repeat(MAX_EXTENTS + 1), 'g.vmdk')).toThrow(/more than/);
    expect(() => decodeDescriptorBytes(new Uint8Array(2 * 1024 * 1024), 'big')).toThrow(/big: descriptor is/);
  });

  it('sniffs descriptor text but not binary headers', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(looksLikeDescriptor(enc(esxiDelta))).toBe(true);
    expect(looksLikeDescriptor(enc('RW 8 ZERO\n'))).toBe(true);
    expect(looksLikeDescriptor(enc('KDMV\x01\x00\x00\x00'))).toBe(false);
    expect(looksLikeDescriptor(enc('just some text file\n'))).toBe(false);
  });
});

describe('serializeDescriptor', () => {
  it('writes VMware spelling (no spaces in header, FLAT offset, VMFS without, DDB present) and parses back', () => {
    const d = parseDescriptor(esxiDelta);
    d.createType = 'vmfs';
    d.parentCid = 'ffffffff';
    d.parentFileNameHint = null;
    d.extents = [
      { access: 'RW', sectors: 2048, type: 'VMFS', fileName: 'out-flat.vmdk', offset: 0 },
      { access: 'RW', sectors: 8, type: 'FLAT', fileName: 'b.vmdk', offset: 0 },
      { access: 'RW', sectors: 8, type: 'ZERO', fileName: null, offset: 0 },
    ];
    const text = serializeDescriptor(d);
    expect(text).toContain('\ncreateType="vmfs"\n');
    expect(text).toContain('\nCID=fb183c20\nparentCID=ffffffff\n');
    expect(text).toContain('\nRW 2048 VMFS "out-flat.vmdk"\n');
    expect(text).toContain('\nRW 8 FLAT "b.vmdk" 0\n');
    expect(text).toContain('\nRW 8 ZERO\n');
    expect(text).toContain('\n# The Disk Data Base\n#DDB\n');
    expect(text).toContain('\nddb.deletable = "true"\n');
    expect(text).not.toContain('parentFileNameHint');
    const back = parseDescriptor(text);
    expect(back.extents).toEqual(d.extents);
    expect(back.ddb).toEqual(d.ddb);
    expect(back.cid).toBe(d.cid);
  });

  it('refuses values that would break the line structure', () => {
    const d = parseDescriptor(esxiDelta);
    d.parentFileNameHint = 'a\nRW 1 ZERO';
    expect(() => serializeDescriptor(d)).toThrow(CorruptError);
  });
});
