import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitZeroRuns, walkDisk, ZERO_BLOCK } from '../../src/core/export/disk-walk.js';
import type { ReadIntoSource } from '../../src/core/io/read-into.js';
import { DiskChain } from '../../src/core/vmdk/disk-chain.js';
import { exportDisk } from '../../src/core/export/export-disk.js';
import { NodeExportTarget } from '../../src/platform/node/export-target.js';
import { threadSha256 } from '../../src/platform/node/thread-hasher.js';
import { makeTempDir, sha256File } from '../helpers/tools.js';
import { memChain, memLayer, modelBytes, pattern, type MemRun } from '../helpers/mem-layer.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/** A scripted stream of updates and zero runs, hashed by node:crypto on this thread as the expectation. */
type Step = { data: Uint8Array } | { zeros: number };
function expectedOf(steps: Step[]): string {
  const h = createHash('sha256');
  for (const s of steps) h.update('data' in s ? s.data : new Uint8Array(s.zeros));
  return h.digest('hex');
}
async function threaded(steps: Step[]): Promise<string> {
  const h = threadSha256();
  for (const s of steps) {
    if ('data' in s) await h.update(s.data);
    else await h.zeros(s.zeros);
  }
  return h.digestHex();
}

// Sizes around the worker's 4 MiB slots and its 256 KiB inline-zero limit, plus odd tiny pieces.
const steps: Step[] = [
  { data: pattern(512, 1) },
  { zeros: 512 },
  { data: pattern(4 * MiB - 700, 2) },
  { data: pattern(1400, 3) },
  { zeros: 256 * KiB },
  { zeros: 256 * KiB + 512 },
  { data: pattern(9 * MiB + 3, 4) },
  { zeros: 11 * MiB + 17 },
  { data: pattern(1, 5) },
];

describe('threadSha256 (native SHA-256 on a worker thread)', () => {
  it('equals SHA-256 of the same bytes for data and zero runs of every size', async () => {
    expect(await threaded(steps)).toBe(expectedOf(steps));
  });

  it('lets the caller reuse its buffer as soon as update() resolves', async () => {
    const buf = pattern(3 * MiB, 6);
    const copy = buf.slice();
    const h = threadSha256();
    await h.update(buf);
    buf.fill(0xee); // the hasher must have taken its own copy
    await h.update(buf);
    expect(await h.digestHex()).toBe(expectedOf([{ data: copy }, { data: buf }]));
  });

  it('serves successive and concurrent hashers, and an abandoned one does not disturb the next', async () => {
    const other: Step[] = [{ zeros: 5 * MiB }, { data: pattern(6 * MiB, 7) }];
    const [a, b] = await Promise.all([threaded(steps), threaded(other)]);
    expect(a).toBe(expectedOf(steps));
    expect(b).toBe(expectedOf(other));
    const dropped = threadSha256();
    await dropped.update(pattern(20 * MiB, 8));
    dropped.dispose?.();
    expect(await threaded(other)).toBe(expectedOf(other));
  });

  it('the empty stream hashes to SHA-256 of nothing', async () => {
    expect(await threaded([])).toBe(expectedOf([]));
  });
});

describe('splitZeroRuns', () => {
  it('cuts a data piece at 64 KiB disk-aligned blocks into zero runs (no data) and non-zero views', () => {
    const offset = 3 * ZERO_BLOCK + 1024; // piece starts off a block boundary
    const d = new Uint8Array(10 * ZERO_BLOCK);
    d.set(pattern(100, 1), 0); // first partial block: data
    d[ZERO_BLOCK * 2 + 5] = 1; // a single non-zero byte
    d.set(pattern(3 * ZERO_BLOCK, 2), 6 * ZERO_BLOCK);
    const parts = splitZeroRuns({ offset, length: d.length, data: d });
    // The parts tile the piece in order and rebuild its bytes.
    let pos = offset;
    const rebuilt = new Uint8Array(d.length);
    for (const p of parts) {
      expect(p.offset).toBe(pos);
      if (p.data) rebuilt.set(p.data, p.offset - offset);
      pos += p.length;
    }
    expect(pos).toBe(offset + d.length);
    expect(Buffer.from(rebuilt).equals(Buffer.from(d))).toBe(true);
    // Inner cuts are on block boundaries; zero parts are all zeros; every block of a data part holds a non-zero byte.
    for (const p of parts.slice(1)) expect(p.offset % ZERO_BLOCK).toBe(0);
    for (const p of parts) {
      const bytes = d.subarray(p.offset - offset, p.offset - offset + p.length);
      if (!p.data) expect(bytes.every((b) => b === 0)).toBe(true);
      else
        for (let o = p.offset; o < p.offset + p.length; o = (Math.floor(o / ZERO_BLOCK) + 1) * ZERO_BLOCK) {
          const end = Math.min(p.offset + p.length, (Math.floor(o / ZERO_BLOCK) + 1) * ZERO_BLOCK);
          expect(bytes.subarray(o - p.offset, end - p.offset).some((b) => b !== 0)).toBe(true);
        }
    }
    expect(parts.map((p) => p.data !== null)).toEqual([true, false, true, false, true, false]);
  });

  it('leaves zero pieces and all-data pieces whole', () => {
    expect(splitZeroRuns({ offset: 0, length: 5, data: null })).toHaveLength(1);
    const d = pattern(3 * ZERO_BLOCK, 3);
    const parts = splitZeroRuns({ offset: 0, length: d.length, data: d });
    expect(parts).toHaveLength(1);
    expect(parts[0]!.data?.buffer).toBe(d.buffer); // a view, not a copy
    expect(parts[0]!.length).toBe(d.length);
  });
});

describe('raw export on a worker-thread hasher', () => {
  const tmp = makeTempDir('thread-export-');
  afterAll(() => tmp.cleanup());
  const CAP = 48 * MiB;
  // A flat-like layer: data everywhere, mostly zeros (a thin disk), with scattered non-zero runs.
  const mostlyZero = new Uint8Array(32 * MiB);
  mostlyZero.set(pattern(300 * KiB, 1), 1 * MiB + 512);
  mostlyZero.set(pattern(64 * KiB, 2), 20 * MiB);
  const base: MemRun[] = [{ offset: 0, bytes: mostlyZero }];
  const top: MemRun[] = [
    { offset: 40 * MiB, bytes: pattern(2 * MiB, 3) },
    { offset: 20 * MiB, zero: 64 * KiB },
  ];

  it('writes only non-zero blocks (the rest are holes), and its sha256 equals sha256sum of the output', async () => {
    const r = await exportDisk(memChain([memLayer(CAP, top, 'top.vmdk'), memLayer(CAP, base, 'base.vmdk')]), new NodeExportTarget(tmp.dir), {
      format: 'raw',
      fileName: 'out.img',
      streamHasher: threadSha256,
    });
    const file = path.join(tmp.dir, 'out.img');
    expect(r.verified).toBe(true);
    expect(r.sha256).toBe(sha256File(file));
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(modelBytes(CAP, [top, base])))).toBe(true);
    // Non-zero content: 300 KiB from 1 MiB+512 (five 64 KiB blocks) and 2 MiB at 40 MiB; the base run at 20 MiB is zeroed by the top.
    const nonZeroBlocks = 5 + 32;
    expect(r.bytesWritten).toBe(nonZeroBlocks * 64 * KiB);
    // st_blocks: what the file system allocated (ext4 and tmpfs keep holes; a little slack for metadata).
    const allocated = statSync(file).blocks * 512;
    expect(allocated).toBeLessThanOrEqual(nonZeroBlocks * 64 * KiB + 64 * KiB);
  });
});

describe('walkDisk with reuseBuffers', () => {
  /** A file-like source that fills the caller's buffer, remembering which buffers it was given. */
  class IntoSource implements ReadIntoSource {
    readonly name = 'into';
    readonly buffers = new Set<ArrayBufferLike>();
    constructor(private readonly bytes: Uint8Array) {}
    get size() {
      return this.bytes.length;
    }
    async read(offset: number, length: number) {
      return this.bytes.slice(offset, offset + length);
    }
    async readInto(offset: number, dest: Uint8Array) {
      this.buffers.add(dest.buffer);
      await new Promise((r) => setTimeout(r, Math.random() * 2)); // reads finish out of order
      dest.set(this.bytes.subarray(offset, offset + dest.length));
    }
  }

  it('yields the same pieces as fresh reads, from no more buffers than reads in flight plus one', async () => {
    const bytes = pattern(3 * MiB + 5 * 512, 9);
    const src = new IntoSource(bytes);
    const disk = new DiskChain(
      [
        {
          path: 'into',
          format: 'flat',
          capacity: bytes.length,
          grainSize: 512,
          // data with a zero extent in the middle, so pieces alternate
          mapRange: async (offset: number, length: number) =>
            [
              { kind: 'data' as const, offset: 0, length: MiB, source: src, sourceOffset: 0 },
              { kind: 'zero' as const, offset: MiB, length: 512 },
              { kind: 'data' as const, offset: MiB + 512, length: bytes.length - MiB - 512, source: src, sourceOffset: MiB + 512 },
            ]
              .filter((e) => e.offset < offset + length && e.offset + e.length > offset)
              .map((e) => {
                const a = Math.max(offset, e.offset);
                const b = Math.min(offset + length, e.offset + e.length);
                return e.kind === 'data' ? { ...e, offset: a, length: b - a, sourceOffset: e.sourceOffset + a - e.offset } : { ...e, offset: a, length: b - a };
              }),
          allocatedBytes: async () => bytes.length,
        },
      ],
      [],
    );
    const got = new Uint8Array(bytes.length);
    let pos = 0;
    for await (const p of walkDisk(disk, { chunkBytes: 64 * KiB, readAhead: 4, readAheadBytes: 256 * KiB, reuseBuffers: true })) {
      expect(p.offset).toBe(pos);
      if (p.data) got.set(p.data, p.offset); // used before asking for the next piece, as the contract says
      pos += p.length;
    }
    expect(pos).toBe(bytes.length);
    const want = bytes.slice();
    want.fill(0, MiB, MiB + 512);
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
    expect(src.buffers.size).toBeLessThanOrEqual(5);
  });
});
