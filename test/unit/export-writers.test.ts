import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { exportDisk, type ExportFormat } from '../../src/core/export/export-disk.js';
import { walkDisk } from '../../src/core/export/disk-walk.js';
import type { ByteSource } from '../../src/core/io/byte-source.js';
import { CancelledError, CorruptError } from '../../src/core/errors.js';
import { MemoryExportTarget, memChain, memLayer, modelBytes, pattern, type MemRun } from '../helpers/mem-layer.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const CAP = 40 * MiB + 3 * 512; // two GTs, partial last grain
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const base: MemRun[] = [
  { offset: 0, bytes: pattern(100 * KiB, 1) },
  { offset: 33 * MiB, bytes: pattern(200 * KiB, 2) },
  { offset: CAP - 2560, bytes: pattern(2560, 3) }, // the last sectors
];
const top: MemRun[] = [
  { offset: 50 * KiB, bytes: pattern(30 * KiB, 4) },
  { offset: 33 * MiB + 64 * KiB, zero: 64 * KiB }, // explicit zero grain over base data
  { offset: 10 * MiB + 700, bytes: pattern(700, 5) }, // unaligned, inside one grain
  { offset: 20 * MiB, bytes: new Uint8Array(128 * KiB) }, // data that happens to be zeros
  { offset: 2 * MiB + 512, bytes: pattern(3 * MiB + 100 * 512, 6) },
];
const chain = () => memChain([memLayer(CAP, top, 'top.vmdk'), memLayer(CAP, base, 'base.vmdk')]);
const expected = modelBytes(CAP, [top, base]);

/** Byte ranges that only explicit zeros or holes back (must never be written to a raw image). */
function dataMask(): Uint8Array {
  const m = new Uint8Array(CAP);
  for (const runs of [base, top]) for (const r of runs) 'bytes' in r ? m.fill(1, r.offset, r.offset + r.bytes.length) : m.fill(0, r.offset, r.offset + r.zero);
  return m;
}

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u64 = (b: Uint8Array, o: number) => Number(dv(b).getBigUint64(o, true));
const u32 = (b: Uint8Array, o: number) => dv(b).getUint32(o, true);

/** Minimal independent KDMV parse of the header fields a writer sets. */
function header(b: Uint8Array, at = 0) {
  return {
    magic: String.fromCharCode(...b.subarray(at, at + 4)),
    version: u32(b, at + 4),
    flags: u32(b, at + 8),
    capacity: u64(b, at + 12),
    grainSize: u64(b, at + 20),
    descriptorOffset: u64(b, at + 28),
    descriptorSize: u64(b, at + 36),
    numGTEsPerGT: u32(b, at + 44),
    rgdOffset: u64(b, at + 48),
    gdOffset: dv(b).getBigUint64(at + 56, true),
    overHead: u64(b, at + 64),
    check: Array.from(b.subarray(at + 73, at + 77)),
    compress: dv(b).getUint16(at + 77, true),
  };
}
const descriptorOf = (b: Uint8Array, sector: number) => {
  const d = b.subarray(sector * 512, (sector + 20) * 512);
  return new TextDecoder().decode(d.subarray(0, d.indexOf(0)));
};

async function run(format: ExportFormat, chunkBytes?: number) {
  const target = new MemoryExportTarget();
  const progress: { phase: string; done: number; total: number }[] = [];
  const r = await exportDisk(chain(), target, {
    format,
    fileName: format === 'raw' ? 'disk.img' : 'disk.vmdk',
    verify: true,
    onProgress: (p) => progress.push(p),
    ...(chunkBytes ? { walk: { chunkBytes, readAhead: 3 } } : {}),
  });
  return { r, target, progress };
}

describe('export writers over in-memory chains', () => {
  it('hashes the logical disk (holes as zeros) independently of the format', async () => {
    for (const f of ['raw', 'flat', 'sparse', 'stream'] as const) {
      const { r } = await run(f, 64 * KiB + 512);
      expect(r.sha256, f).toBe(sha(expected));
      expect(r.logicalBytes).toBe(CAP);
    }
  });

  it('raw: bytes equal the model, only data ranges are written, verified by read-back', async () => {
    for (const chunk of [undefined, 64 * KiB + 512, 4096]) {
      const { r, target, progress } = await run('raw', chunk);
      expect(r.verified).toBe(true);
      expect(r.files).toEqual(['disk.img']);
      const out = target.bytes('disk.img');
      expect(out.length).toBe(CAP);
      expect(sha(out)).toBe(sha(expected));
      const mask = dataMask();
      for (const w of target.sinks.get('disk.img')!.writes) {
        expect(mask.subarray(w.offset, w.offset + w.length).every((x) => x === 1), `write at ${w.offset}`).toBe(true);
      }
      // the all-zero data run is detected and not written either
      expect(target.sinks.get('disk.img')!.writes.some((w) => w.offset === 20 * MiB)).toBe(false);
      expect(progress.some((p) => p.phase === 'export')).toBe(true);
      const last = progress.filter((p) => p.phase === 'verify').at(-1)!;
      expect(last.done).toBe(CAP);
    }
  });

  it('flat: monolithicFlat descriptor + -flat data file', async () => {
    const { r, target } = await run('flat');
    expect(r.files).toEqual(['disk.vmdk', 'disk-flat.vmdk']);
    const text = new TextDecoder().decode(target.bytes('disk.vmdk'));
    expect(text).toMatch(/^# Disk DescriptorFile\n/);
    expect(text).toContain('createType="monolithicFlat"');
    expect(text).toContain(`RW ${CAP / 512} FLAT "disk-flat.vmdk" 0\n`);
    expect(text).toMatch(/CID=[0-9a-f]{8}\n/);
    expect(text).toContain('parentCID=ffffffff');
    expect(text).toContain('#DDB');
    expect(sha(target.bytes('disk-flat.vmdk'))).toBe(sha(expected));
  });

  it('sparse: monolithicSparse header, both GD/GT copies, only non-zero grains stored', async () => {
    const { target } = await run('sparse', 64 * KiB + 512);
    const b = target.bytes('disk.vmdk');
    const h = header(b);
    expect(h).toMatchObject({ magic: 'KDMV', version: 1, flags: 3, capacity: CAP / 512, grainSize: 128, descriptorOffset: 1, descriptorSize: 20, numGTEsPerGT: 512, compress: 0 });
    expect(h.check).toEqual([0x0a, 0x20, 0x0d, 0x0a]);
    expect(h.overHead % 128).toBe(0);
    const desc = descriptorOf(b, 1);
    expect(desc).toContain('createType="monolithicSparse"');
    expect(desc).toContain(`RW ${CAP / 512} SPARSE "disk.vmdk"`);
    const grains = Math.ceil(CAP / 512 / 128);
    const gts = Math.ceil(grains / 512);
    const image = new Uint8Array(CAP);
    let stored = 0;
    for (let t = 0; t < gts; t++) {
      const gt = u32(b, Number(h.gdOffset) * 512 + 4 * t);
      const rgt = u32(b, h.rgdOffset * 512 + 4 * t);
      expect(gt).toBeLessThan(h.overHead);
      expect(rgt).toBeLessThan(h.overHead);
      expect(Array.from(b.subarray(gt * 512, gt * 512 + 2048))).toEqual(Array.from(b.subarray(rgt * 512, rgt * 512 + 2048)));
      for (let i = 0; i < 512 && t * 512 + i < grains; i++) {
        const gte = u32(b, gt * 512 + 4 * i);
        if (gte === 0) continue;
        stored++;
        expect(gte).toBeGreaterThanOrEqual(h.overHead);
        expect((gte + 128) * 512).toBeLessThanOrEqual(b.length);
        const at = (t * 512 + i) * 64 * KiB;
        image.set(b.subarray(gte * 512, gte * 512 + Math.min(64 * KiB, CAP - at)), at);
      }
    }
    expect(sha(image)).toBe(sha(expected));
    let nonZeroGrains = 0;
    for (let g = 0; g < grains; g++) if (expected.subarray(g * 64 * KiB, (g + 1) * 64 * KiB).some((x) => x !== 0)) nonZeroGrains++;
    expect(stored).toBe(nonZeroGrains);
    expect(b.length).toBe((h.overHead + 128 * stored) * 512);
  });

  it('stream: compressed grain records, GT/GD markers, footer and end-of-stream last', async () => {
    const { target } = await run('stream', 64 * KiB + 512);
    const b = target.bytes('disk.vmdk');
    const h = header(b);
    expect(h).toMatchObject({ magic: 'KDMV', version: 3, flags: 0x30001, capacity: CAP / 512, grainSize: 128, descriptorOffset: 1, rgdOffset: 0, compress: 1 });
    expect(h.gdOffset).toBe(0xffffffffffffffffn);
    expect(descriptorOf(b, 1)).toContain('createType="streamOptimized"');
    expect(b.length % 512).toBe(0);
    // EOS: an all-zero sector; footer marker (val 1, type 3) before the footer.
    expect(b.subarray(b.length - 512).every((x) => x === 0)).toBe(true);
    const fm = b.length - 1536;
    expect([u64(b, fm), u32(b, fm + 8), u32(b, fm + 12)]).toEqual([1, 0, 3]);
    const f = header(b, b.length - 1024);
    expect(f.magic).toBe('KDMV');
    const gdOffset = Number(f.gdOffset);
    const gdSectors = Math.ceil((Math.ceil(Math.ceil(CAP / 512 / 128) / 512) * 4) / 512);
    const gm = (gdOffset - 1) * 512;
    expect([u64(b, gm), u32(b, gm + 8), u32(b, gm + 12)]).toEqual([gdSectors, 0, 2]);
    const image = new Uint8Array(CAP);
    const grains = Math.ceil(CAP / 512 / 128);
    let lastRecord = 0;
    for (let t = 0; t * 512 < grains; t++) {
      const gt = u32(b, gdOffset * 512 + 4 * t);
      if (gt === 0) continue;
      const m = (gt - 1) * 512;
      expect([u64(b, m), u32(b, m + 8), u32(b, m + 12)]).toEqual([4, 0, 1]);
      for (let i = 0; i < 512; i++) {
        const gte = u32(b, gt * 512 + 4 * i);
        if (gte === 0) continue;
        const g = t * 512 + i;
        expect(gte).toBeGreaterThan(lastRecord); // LBA order = file order
        lastRecord = gte;
        expect(u64(b, gte * 512)).toBe(g * 128);
        const size = u32(b, gte * 512 + 8);
        const z = b.subarray(gte * 512 + 12, gte * 512 + 12 + size);
        expect(z[0]).toBe(0x78); // zlib (RFC 1950), not raw deflate
        const grain = inflateSync(z);
        expect(grain.length).toBe(64 * KiB);
        image.set(grain.subarray(0, Math.min(64 * KiB, CAP - g * 64 * KiB)), g * 64 * KiB);
      }
    }
    expect(sha(image)).toBe(sha(expected));
  });

  /** Exports in format `f`, cancelled once 3 MiB of `phase` are done; returns the target. */
  async function cancelledExport(f: 'raw' | 'flat' | 'sparse' | 'stream', phase: 'export' | 'verify'): Promise<MemoryExportTarget> {
    const target = new MemoryExportTarget();
    const ac = new AbortController();
    const p = exportDisk(chain(), target, {
      format: f,
      fileName: 'disk.vmdk',
      signal: ac.signal,
      walk: { chunkBytes: 64 * KiB },
      onProgress: (x) => {
        if (x.phase === phase && x.done > 3 * MiB) ac.abort();
      },
    });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    return target;
  }

  it('cancel aborts every sink and commits nothing', async () => {
    for (const f of ['raw', 'flat', 'sparse', 'stream'] as const) {
      const target = await cancelledExport(f, 'export');
      expect(target.sinks.size).toBeGreaterThan(0);
      for (const s of target.sinks.values()) {
        expect(s.aborted, `${f} ${s.name}`).toBe(true);
        expect(s.closed).toBe(false);
      }
    }
  });

  it('cancel during the verify pass removes the committed outputs too', async () => {
    for (const f of ['raw', 'flat'] as const) {
      const target = await cancelledExport(f, 'verify');
      const names = [...target.sinks.keys()].sort();
      for (const s of target.sinks.values()) expect(s.closed, `${f} ${s.name}`).toBe(true);
      expect([...target.removed].sort(), f).toEqual(names);
    }
  });

  it('timings: every byte of the disk is counted once per phase, and the steps fit inside each phase', async () => {
    const timings: Record<string, number> = {};
    const r = await exportDisk(chain(), new MemoryExportTarget(), { format: 'raw', fileName: 'disk.img', verify: true, timings });
    expect(r.sha256).toBe(sha(expected));
    for (const phase of ['export', 'verify']) {
      expect((timings[`${phase}:bytes-data`] ?? 0) + (timings[`${phase}:bytes-zeros`] ?? 0), phase).toBe(CAP);
      const steps = Object.entries(timings).filter(([k]) => k.startsWith(`${phase}:`) && !k.includes('bytes-') && !k.endsWith(':wall'));
      expect(steps.length, phase).toBeGreaterThan(0);
      // The clocks are read in order, so the steps' sum cannot exceed the phase's wall time.
      expect(steps.reduce((n, [, v]) => n + v, 0), phase).toBeLessThanOrEqual(timings[`${phase}:wall`]! + 1e-6);
    }
  });

  it('a read-back mismatch fails the export with CorruptError and removes the output', async () => {
    const target = new MemoryExportTarget((_n, o, d) => {
      if (o !== 0) return d;
      const c = d.slice();
      c[5] = c[5]! ^ 0xff;
      return c;
    });
    await expect(exportDisk(chain(), target, { format: 'raw', fileName: 'disk.img' })).rejects.toBeInstanceOf(CorruptError);
    expect(target.removed).toEqual(['disk.img']);
  });

  it('flat: a failing descriptor write removes the already committed -flat data file', async () => {
    const target = new MemoryExportTarget((name, _o, d) => {
      if (name === 'disk.vmdk') throw new Error('disk full');
      return d;
    });
    await expect(exportDisk(chain(), target, { format: 'flat', fileName: 'disk.vmdk' })).rejects.toThrow('disk full');
    const data = target.sinks.get('disk-flat.vmdk')!;
    expect(data.closed).toBe(true); // committed before the descriptor ...
    expect(target.removed).toEqual(['disk-flat.vmdk']); // ... so removed again
    expect(target.sinks.get('disk.vmdk')!.aborted).toBe(true);
    expect(target.sinks.get('disk.vmdk')!.closed).toBe(false);
  });

  it('a failing read aborts the sinks', async () => {
    const bad = memLayer(CAP, [{ offset: 0, bytes: pattern(4096, 9) }]);
    const broken = { ...bad, mapRange: async (o: number, l: number) => (o > 8 * MiB ? Promise.reject(new CorruptError('boom')) : bad.mapRange(o, l)) };
    const target = new MemoryExportTarget();
    await expect(exportDisk(memChain([broken]), target, { format: 'sparse', fileName: 'd.vmdk', walk: { windowBytes: 4 * MiB } })).rejects.toThrow('boom');
    expect([...target.sinks.values()].every((s) => s.aborted && !s.closed)).toBe(true);
  });

  it('keeps a bounded number of bytes in flight and reads only data extents', async () => {
    let inflight = 0;
    let peak = 0;
    let readBytes = 0;
    const size = 256 * MiB;
    const slow: ByteSource = {
      size,
      name: 'slow',
      async read(_o, n) {
        inflight += n;
        peak = Math.max(peak, inflight);
        readBytes += n;
        await new Promise((r) => setTimeout(r, 1));
        inflight -= n;
        return new Uint8Array(n);
      },
    };
    // data everywhere except a 128 MiB zero extent in the middle
    const layer = memLayer(size, [{ offset: 64 * MiB, zero: 128 * MiB }]);
    const withData = {
      ...layer,
      mapRange: async (o: number, l: number) =>
        (await layer.mapRange(o, l)).map((e) => (e.kind === 'parent' ? { kind: 'data' as const, offset: e.offset, length: e.length, source: slow, sourceOffset: e.offset } : e)),
    };
    let covered = 0;
    for await (const p of walkDisk(memChain([withData]), { chunkBytes: 1 * MiB, readAheadBytes: 6 * MiB })) {
      expect(p.offset).toBe(covered);
      covered += p.length;
    }
    expect(covered).toBe(size);
    expect(readBytes).toBe(128 * MiB);
    expect(peak).toBeLessThanOrEqual(7 * MiB);
  });
});
