import { MemorySink, type ByteSink } from '../../src/core/io/byte-sink.js';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';
import type { ExportTarget } from '../../src/core/export/export-disk.js';
import { DiskChain } from '../../src/core/vmdk/disk-chain.js';
import type { ChainLinkInfo, DiskLayer, FileResolver, LayerExtent } from '../../src/core/vmdk/types.js';

/** A run a test layer stores: bytes at `offset`, or an explicit zero range. Everything else is "parent". */
export type MemRun = { offset: number; bytes: Uint8Array } | { offset: number; zero: number };

/** A DiskLayer held in memory, for writer tests that must not depend on the real format readers. */
export function memLayer(capacity: number, runs: MemRun[], path = 'mem.vmdk', grainSize = 512): DiskLayer {
  const sorted = runs
    .map((r) => ('bytes' in r ? { offset: r.offset, length: r.bytes.length, src: new MemorySource(r.bytes) as ByteSource | null } : { offset: r.offset, length: r.zero, src: null }))
    .sort((a, b) => a.offset - b.offset);
  return {
    path,
    format: 'flat',
    capacity,
    grainSize,
    async mapRange(offset, length) {
      const out: LayerExtent[] = [];
      let pos = offset;
      const end = offset + length;
      for (const r of sorted) {
        const a = Math.max(pos, r.offset);
        const b = Math.min(end, r.offset + r.length);
        if (b <= a) continue;
        if (a > pos) out.push({ kind: 'parent', offset: pos, length: a - pos });
        out.push(r.src ? { kind: 'data', offset: a, length: b - a, source: r.src, sourceOffset: a - r.offset } : { kind: 'zero', offset: a, length: b - a });
        pos = b;
      }
      if (pos < end) out.push({ kind: 'parent', offset: pos, length: end - pos });
      return out;
    },
    async allocatedBytes() {
      return sorted.reduce((n, r) => n + (r.src ? r.length : 0), 0);
    },
  };
}

/** A chain over test layers (top first). */
export function memChain(layers: DiskLayer[]): DiskChain {
  const links: ChainLinkInfo[] = layers.map((l) => ({
    path: l.path,
    createType: 'test',
    format: l.format,
    capacityBytes: l.capacity,
    grainSizeBytes: l.grainSize,
    cid: null,
    parentCid: null,
    parentHint: null,
    extents: [],
    allocatedBytes: 0,
    cidOk: null,
    warnings: [],
  }));
  return new DiskChain(layers, links);
}

/** The logical bytes a chain of runs means, computed the obvious way (base first, top last). */
export function modelBytes(capacity: number, layersTopFirst: MemRun[][]): Uint8Array {
  const out = new Uint8Array(capacity);
  for (const runs of [...layersTopFirst].reverse()) {
    for (const r of runs) {
      if ('bytes' in r) out.set(r.bytes.subarray(0, Math.max(0, capacity - r.offset)), r.offset);
      else out.fill(0, r.offset, Math.min(capacity, r.offset + r.zero));
    }
  }
  return out;
}

/** A sink that records what was written where (to check that holes are never written). */
export class RecordingSink extends MemorySink {
  writes: { offset: number; length: number }[] = [];
  override async write(offset: number, data: Uint8Array): Promise<void> {
    this.writes.push({ offset, length: data.length });
    await super.write(offset, data);
  }
}

/** An in-memory ExportTarget: committed (closed, not aborted) sinks can be read back. */
export class MemoryExportTarget implements ExportTarget {
  readonly sinks = new Map<string, RecordingSink>();
  readonly removed: string[] = [];
  /** Optional hook to damage written data (verification tests). */
  constructor(private readonly tamper?: (name: string, offset: number, data: Uint8Array) => Uint8Array) {}

  async create(fileName: string): Promise<ByteSink> {
    const s = new RecordingSink(fileName);
    const tamper = this.tamper;
    if (tamper) {
      const write = s.write.bind(s);
      s.write = (o, d) => write(o, tamper(fileName, o, d));
    }
    this.sinks.set(fileName, s);
    return s;
  }
  resolver(): FileResolver {
    return {
      open: async (p) => {
        const s = this.sinks.get(p);
        return s && s.closed && !s.aborted && !this.removed.includes(p) ? new MemorySource(s.bytes(), p) : null;
      },
      resolve: (_from, rel) => rel,
    };
  }
  async remove(fileName: string): Promise<void> {
    this.removed.push(fileName);
  }
  bytes(name: string): Uint8Array {
    const s = this.sinks.get(name);
    if (!s) throw new Error(`no output ${name}`);
    return s.bytes();
  }
}

/** Deterministic pseudo-random bytes (never all zero). */
export function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  b[0] = 1;
  return b;
}
