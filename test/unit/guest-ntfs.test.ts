import { describe, expect, it } from 'vitest';
import { CorruptError } from '../../src/core/errors.js';
import { parseBoot } from '../../src/core/guest/ntfs/boot.js';
import { applyFixup } from '../../src/core/guest/ntfs/fixup.js';
import { NS_DOS, NS_POSIX, NS_WIN32, NS_WIN32_AND_DOS, childNames, type IndexEntry } from '../../src/core/guest/ntfs/index-entries.js';
import { decodeRuns } from '../../src/core/guest/ntfs/runlist.js';

const e = (record: number, name: string, namespace: number): IndexEntry => ({ record, name, namespace, fileFlags: 0, dataSize: 0 });

describe('NTFS pieces built by hand', () => {
  it('decodes runs: signed relative LCNs, sparse runs, terminator', () => {
    // 0x21: 1-byte length 0x10, 2-byte LCN 0x0100; 0x11: length 8, delta -0x10 (0xF0);
    // 0x01: length 4, no LCN (sparse); 0x31: length 2, 3-byte delta +0x20.
    const b = Uint8Array.from([0x21, 0x10, 0x00, 0x01, 0x11, 0x08, 0xf0, 0x01, 0x04, 0x31, 0x02, 0x20, 0x00, 0x00, 0x00]);
    expect(decodeRuns(b, 0, 10_000, 't')).toEqual([
      { vcn: 0, length: 16, lcn: 0x100 },
      { vcn: 16, length: 8, lcn: 0xf0 },
      { vcn: 24, length: 4, lcn: null },
      { vcn: 28, length: 2, lcn: 0x110 },
    ]);
  });

  it('rejects runs outside the volume, a negative LCN and a missing terminator', () => {
    expect(() => decodeRuns(Uint8Array.from([0x21, 0x10, 0x00, 0x01, 0x00]), 0, 0x100, 't')).toThrow(CorruptError);
    expect(() => decodeRuns(Uint8Array.from([0x11, 0x01, 0xff, 0x00]), 0, 0x100, 't')).toThrow(CorruptError);
    expect(() => decodeRuns(Uint8Array.from([0x11, 0x01, 0x05]), 0, 0x100, 't')).toThrow(CorruptError);
  });

  it('applies fixups and detects a torn stride', () => {
    const r = new Uint8Array(1024);
    r.set([0x46, 0x49, 0x4c, 0x45]); // FILE
    r[4] = 0x30; // USA at 0x30, 3 entries (USN + 2 strides of 512)
    r[6] = 3;
    r.set([0x07, 0x00, 0xaa, 0xbb, 0xcc, 0xdd], 0x30);
    r.set([0x07, 0x00], 510);
    r.set([0x07, 0x00], 1022);
    const f = applyFixup(r, 'FILE', 't');
    expect([f[510], f[511], f[1022], f[1023]]).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
    expect(r[510]).toBe(0x07); // the source is not modified
    r[1022] = 0x08;
    expect(() => applyFixup(r, 'FILE', 't')).toThrow(/torn/);
  });

  it('decodes record sizes in clusters and as negative powers of two', () => {
    const b = new Uint8Array(512);
    b.set(new TextEncoder().encode('NTFS    '), 3);
    new DataView(b.buffer).setUint16(0x0b, 512, true);
    b[0x0d] = 8;
    new DataView(b.buffer).setUint32(0x28, 2048 * 8, true);
    b[0x30] = 4;
    b[0x40] = 0xf6; // -10: 1024 bytes
    b[0x44] = 1; // one 4 KiB cluster
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    expect(parseBoot(b, 't', 64 << 20)).toMatchObject({ clusterSize: 4096, mftRecordSize: 1024, indexRecordSize: 4096, totalClusters: 2048, mftLcn: 4 });
    b[0x40] = 0x80; // -128: absurd
    expect(() => parseBoot(b, 't', 64 << 20)).toThrow(CorruptError);
  });

  it('prefers long names over DOS 8.3 aliases and keeps hard links', () => {
    const raw = [e(5, '.', NS_WIN32_AND_DOS), e(70, 'LONGFI~1.TXT', NS_DOS), e(70, 'Long file name.txt', NS_WIN32), e(71, 'SHORT.TXT', NS_WIN32_AND_DOS), e(72, 'ONLY~1', NS_DOS), e(73, 'a', NS_POSIX), e(73, 'b', NS_POSIX)];
    expect(childNames(raw, 5).map((x) => x.name)).toEqual(['Long file name.txt', 'ONLY~1', 'SHORT.TXT', 'a', 'b']);
  });
});
