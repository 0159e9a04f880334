import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptError } from '../../src/core/errors.js';
import { exportDisk, type ExportFormat } from '../../src/core/export/export-disk.js';
import { DiskFingerprint, FINGERPRINT_BLOCK } from '../../src/core/export/fingerprint.js';
import type { ByteSink } from '../../src/core/io/byte-sink.js';
import { nodeExportTuning } from '../../src/platform/node/export-tuning.js';
import { nativeIsZero } from '../../src/platform/node/native-zero.js';
import { rng } from '../helpers/fuzz.js';
import { MemoryExportTarget, memChain, memLayer, pattern, type MemRun } from '../helpers/mem-layer.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const CAP = 6 * MiB + 7 * 512; // a short last block

/** A disk with data, zeros inside data, and holes, at unaligned places. */
function model(): Uint8Array {
  const d = new Uint8Array(CAP);
  d.set(pattern(100 * KiB, 1), 0);
  d.set(pattern(700, 2), MiB + 300);
  d.set(pattern(3 * 64 * KiB + 512, 3), 3 * MiB - 512);
  d.set(pattern(1000, 4), CAP - 1000);
  return d;
}

/**
 * The fingerprint's definition, written the obvious way over the whole bytes: CRC-32 over each
 * non-zero 64 KiB block prefixed with its number as a little-endian float64.
 */
function reference(d: Uint8Array): string {
  let crc = 0;
  let blocks = 0;
  const head = new DataView(new ArrayBuffer(8));
  for (let b = 0; b * FINGERPRINT_BLOCK < d.length; b++) {
    const s = d.subarray(b * FINGERPRINT_BLOCK, (b + 1) * FINGERPRINT_BLOCK);
    if (s.every((x) => x === 0)) continue;
    head.setFloat64(0, b, true);
    crc = zlibCrc32(s, zlibCrc32(new Uint8Array(head.buffer), crc));
    blocks++;
  }
  return `${crc.toString(16).padStart(8, '0')}-${blocks}-${d.length}`;
}

/** Feeds `d` in random cuts, zero cuts sometimes as zeros(n) (a hole), sometimes as bytes. */
function fingerprintCut(d: Uint8Array, seed: number, fp = new DiskFingerprint()): string {
  const r = rng(seed);
  for (let pos = 0; pos < d.length; ) {
    const n = Math.min(d.length - pos, 1 + Math.floor(r() * (r() < 0.5 ? 4096 : 300 * KiB)));
    const s = d.subarray(pos, pos + n);
    if (s.every((x) => x === 0) && r() < 0.7) fp.zeros(n);
    else fp.update(s);
    pos += n;
  }
  return fp.digestHex();
}

describe('DiskFingerprint (what the verify pass compares)', () => {
  it('depends only on the logical bytes, however they are cut, and matches its definition', () => {
    const d = model();
    const want = reference(d);
    for (let seed = 1; seed <= 12; seed++) expect(fingerprintCut(d, seed), `seed ${seed}`).toBe(want);
    // zlib's CRC and native zero test (the CLI's) agree with the core's table CRC and word scan
    expect(fingerprintCut(d, 5, new DiskFingerprint(nodeExportTuning.crc32, nativeIsZero))).toBe(want);
    const whole = new DiskFingerprint();
    whole.update(d);
    expect(whole.digestHex()).toBe(want);
  });

  it('changes with a flipped byte, a moved block, a stray byte in a hole, or another length', () => {
    const d = model();
    const want = fingerprintCut(d, 1);
    const flipped = d.slice();
    flipped[MiB + 400]! ^= 0x01;
    const moved = new Uint8Array(CAP);
    moved.set(d.subarray(0, 64 * KiB), 64 * KiB); // the first block lands one block later
    moved.set(d.subarray(64 * KiB, CAP - 64 * KiB), 128 * KiB);
    const stray = d.slice();
    stray[4 * MiB + 17] = 1;
    const longer = new Uint8Array(CAP + 512);
    longer.set(d);
    for (const [what, bad] of [['flipped', flipped], ['moved', moved], ['stray', stray], ['longer', longer]] as const) {
      expect(fingerprintCut(bad, 2), what).not.toBe(want);
    }
  });

  it('costs nothing per block for a huge hole', () => {
    const fp = new DiskFingerprint();
    fp.update(pattern(1000, 7));
    fp.zeros(64 * 2 ** 40); // 64 TiB: one step, not a billion
    fp.update(pattern(512, 8));
    expect(fp.digestHex()).toMatch(/^[0-9a-f]{8}-2-/);
  });
});

const base: MemRun[] = [
  { offset: 0, bytes: pattern(300 * KiB, 11) },
  { offset: 2 * MiB + 700, bytes: pattern(900 * KiB, 12) },
];
const top: MemRun[] = [
  { offset: 4 * MiB, bytes: pattern(200 * KiB + 512, 13) },
  { offset: 100 * KiB, zero: 64 * KiB },
];
const chain = () => memChain([memLayer(CAP, top, 'top.vmdk'), memLayer(CAP, base, 'base.vmdk')]);
const nameOf = (f: ExportFormat) => (f === 'raw' ? 'disk.img' : 'disk.vmdk');

/** A target whose sinks pass writes through `change` (which may move or alter them) and may add a stray write before closing. */
class DamagingTarget extends MemoryExportTarget {
  constructor(
    private readonly change: (name: string, offset: number, data: Uint8Array, nth: number) => { offset: number; data: Uint8Array },
    private readonly beforeClose?: (name: string, sink: ByteSink) => Promise<void>,
  ) {
    super();
  }
  override async create(fileName: string): Promise<ByteSink> {
    const s = await super.create(fileName);
    const write = s.write.bind(s);
    const close = s.close.bind(s);
    let nth = 0;
    s.write = (o, d) => {
      const c = this.change(fileName, o, d, nth++);
      return write(c.offset, c.data);
    };
    s.close = async () => {
      await this.beforeClose?.(fileName, { ...s, write, close });
      return close();
    };
    return s;
  }
}

describe('export verification detects a damaged output', () => {
  const formats: ExportFormat[] = ['raw', 'flat', 'sparse', 'stream'];

  it('a flipped bit in the largest write (disk data in every format)', async () => {
    for (const f of formats) {
      // Find the largest write of a clean export, then damage exactly that one.
      const clean = new MemoryExportTarget();
      await exportDisk(chain(), clean, { format: f, fileName: nameOf(f) });
      let biggest = { name: '', offset: -1, length: 0 };
      for (const [name, s] of clean.sinks) for (const w of s.writes) if (w.length > biggest.length) biggest = { name, ...w };
      const target = new DamagingTarget((name, offset, data) => {
        if (name !== biggest.name || offset !== biggest.offset || data.length !== biggest.length) return { offset, data };
        const c = data.slice();
        c[c.length >> 1]! ^= 0x10; // mid-write: the tail of a sparse batch may be the padding past the disk
        return { offset, data: c };
      });
      await expect(exportDisk(chain(), target, { format: f, fileName: nameOf(f), ...nodeExportTuning }), f).rejects.toBeInstanceOf(CorruptError);
      expect([...target.removed].sort(), f).toEqual([...target.sinks.keys()].sort());
    }
  });

  it('raw and flat: data written 64 KiB off its place, or a stray byte in a hole', async () => {
    for (const f of ['raw', 'flat'] as const) {
      const dataFile = f === 'raw' ? 'disk.img' : 'disk-flat.vmdk';
      const moved = new DamagingTarget((name, offset, data, nth) => ({ offset: name === dataFile && nth === 1 ? offset + 64 * KiB : offset, data }));
      await expect(exportDisk(chain(), moved, { format: f, fileName: nameOf(f) }), `${f} moved`).rejects.toBeInstanceOf(CorruptError);
      const stray = new DamagingTarget(
        (_n, offset, data) => ({ offset, data }),
        async (name, sink) => {
          if (name === dataFile) await sink.write(5 * MiB + 3, new Uint8Array([0x80]));
        },
      );
      await expect(exportDisk(chain(), stray, { format: f, fileName: nameOf(f), ...nodeExportTuning }), `${f} stray`).rejects.toBeInstanceOf(CorruptError);
      expect(stray.removed.length, f).toBeGreaterThan(0);
    }
  });

  it('an undamaged export verifies, with the core and with the Node helpers', async () => {
    for (const f of formats) {
      for (const tuning of [{}, { crc32: nodeExportTuning.crc32, zeroTest: nativeIsZero }]) {
        const r = await exportDisk(chain(), new MemoryExportTarget(), { format: f, fileName: nameOf(f), walk: { chunkBytes: 64 * KiB + 512 }, ...tuning });
        expect(r.verified, f).toBe(true);
      }
    }
  });
});
