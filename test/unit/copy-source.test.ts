import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CancelledError, RescueError } from '../../src/core/errors.js';
import { copySourceToSink } from '../../src/core/export/copy-source.js';
import { MemorySink } from '../../src/core/io/byte-sink.js';
import { MemorySource, type ByteSource } from '../../src/core/io/byte-source.js';

/** Data with a zero run in the middle, so the hole-skipping path is exercised. */
function sample(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  b.fill(0, Math.floor(n / 4), Math.floor((3 * n) / 4));
  return b;
}
const nodeSha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('copySourceToSink', () => {
  it('copies and hashes exactly, over chunk boundaries, leaving zero chunks as holes', async () => {
    for (const n of [0, 1, 4095, 4096, 4097, 65536 * 3 + 17]) {
      const data = sample(n);
      const sink = new MemorySink('out');
      const reads: number[] = [];
      const src = new MemorySource(data, 'in');
      const spy: ByteSource = { size: src.size, name: src.name, read: (o, l) => (reads.push(l), src.read(o, l)) };
      const progress: number[] = [];
      const r = await copySourceToSink(spy, sink, { chunkSize: 4096, onProgress: (p) => progress.push(p.done) });
      expect(r.sha256).toBe(nodeSha(data));
      expect(r.bytes).toBe(n);
      expect(sink.bytes()).toEqual(data);
      expect(sink.closed).toBe(true);
      expect(Math.max(0, ...reads)).toBeLessThanOrEqual(4096);
      if (n > 3 * 4096) expect(r.bytesWritten).toBeLessThan(n);
      expect(progress[progress.length - 1]).toBe(n);
    }
  });

  it('aborts the sink when a read fails and rethrows the error', async () => {
    const sink = new MemorySink();
    const bad: ByteSource = {
      size: 10_000,
      name: 'bad',
      read: async (o) => {
        if (o >= 4096) throw new RescueError('io', 'bad: read failed');
        return new Uint8Array(4096).fill(1);
      },
    };
    await expect(copySourceToSink(bad, sink, { chunkSize: 4096 })).rejects.toThrow('read failed');
    expect(sink.aborted).toBe(true);
    expect(sink.closed).toBe(false);
  });

  it('stops on cancel with CancelledError and aborts the sink', async () => {
    const sink = new MemorySink();
    const ac = new AbortController();
    const src = new MemorySource(sample(64 * 1024), 'in');
    const slow: ByteSource = {
      size: src.size,
      name: 'in',
      read: async (o, l) => {
        if (o >= 8192) ac.abort();
        return src.read(o, l);
      },
    };
    await expect(copySourceToSink(slow, sink, { chunkSize: 4096, signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(sink.aborted).toBe(true);
  });
});
