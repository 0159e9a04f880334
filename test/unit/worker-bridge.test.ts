import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerBridge, type StartedWorker } from '../../src/app/workers/bridge.js';

/**
 * The app's worker bridge, driven with a fake worker: started on first use, a signal cancels a
 * call (by the worker's cancel message, or by ending the worker), idle workers end after their
 * timeout and start again on the next call.
 */

interface FakeApi {
  work(): Promise<string>;
  cancel(): void;
}

/** A worker whose `work` calls stay pending until answered or cancelled. */
function fakeWorkers() {
  const started: { id: number; terminated: boolean; cancels: number; pending: { resolve: (v: string) => void; reject: (e: Error) => void }[] }[] = [];
  const start = (): StartedWorker<FakeApi> => {
    const w = { id: started.length, terminated: false, cancels: 0, pending: [] as { resolve: (v: string) => void; reject: (e: Error) => void }[] };
    started.push(w);
    return {
      remote: {
        work: () => new Promise<string>((resolve, reject) => w.pending.push({ resolve, reject })),
        cancel: () => {
          w.cancels++;
          for (const p of w.pending.splice(0)) p.reject(Object.assign(new Error('cancelled'), { name: 'CancelledError' }));
        },
      },
      terminate: () => void (w.terminated = true),
    };
  };
  return { started, start };
}

afterEach(() => void vi.useRealTimers());

describe('WorkerBridge', () => {
  it('starts the worker on the first call only, and answers through it', async () => {
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start });
    expect(b.started).toBe(false);
    const p1 = b.call((w) => w.work());
    const p2 = b.call((w) => w.work());
    expect(f.started).toHaveLength(1);
    f.started[0]!.pending.shift()!.resolve('a');
    f.started[0]!.pending.shift()!.resolve('b');
    expect([await p1, await p2]).toEqual(['a', 'b']);
    expect(f.started[0]!.terminated).toBe(false);
  });

  it('an abort with a cancel message asks the worker to stop and ends with its CancelledError; the worker lives on', async () => {
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start });
    const c = new AbortController();
    const p = b.call((w) => w.work(), { signal: c.signal, cancel: (w) => w.cancel() });
    c.abort();
    await expect(p).rejects.toMatchObject({ name: 'CancelledError' });
    expect(f.started[0]!.cancels).toBe(1);
    expect(f.started[0]!.terminated).toBe(false);
    const q = b.call((w) => w.work());
    f.started[0]!.pending.shift()!.resolve('next');
    expect(await q).toBe('next');
    expect(f.started).toHaveLength(1);
  });

  it('an abort without a cancel message ends the worker at once; the next call starts a new one', async () => {
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start });
    const c = new AbortController();
    const p = b.call((w) => w.work(), { signal: c.signal });
    c.abort();
    await expect(p).rejects.toMatchObject({ name: 'CancelledError' });
    expect(f.started[0]!.terminated).toBe(true);
    expect(b.started).toBe(false);
    void b.call((w) => w.work());
    expect(f.started).toHaveLength(2);
    expect(f.started[1]!.terminated).toBe(false);
  });

  it('a signal aborted before the call rejects without starting a worker', async () => {
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start });
    await expect(b.call((w) => w.work(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'CancelledError' });
    expect(f.started).toHaveLength(0);
  });

  it('a failed call rejects with the worker\'s error and keeps the worker', async () => {
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start });
    const p = b.call((w) => w.work());
    f.started[0]!.pending.shift()!.reject(Object.assign(new Error('bad dump'), { name: 'CorruptError' }));
    await expect(p).rejects.toMatchObject({ name: 'CorruptError', message: 'bad dump' });
    expect(b.started).toBe(true);
  });

  it('with idleMs, ends the worker once no call has run for that long, never during a call', async () => {
    vi.useFakeTimers();
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start, idleMs: 1000 });
    const p = b.call((w) => w.work());
    vi.advanceTimersByTime(5000);
    expect(f.started[0]!.terminated).toBe(false); // a call is running
    f.started[0]!.pending.shift()!.resolve('x');
    await p;
    vi.advanceTimersByTime(999);
    expect(f.started[0]!.terminated).toBe(false);
    const q = b.call((w) => w.work()); // a call within the timeout keeps it
    vi.advanceTimersByTime(2000);
    expect(f.started[0]!.terminated).toBe(false);
    f.started[0]!.pending.shift()!.resolve('y');
    await q;
    vi.advanceTimersByTime(1000);
    expect(f.started[0]!.terminated).toBe(true);
    expect(b.started).toBe(false);
    void b.call((w) => w.work());
    expect(f.started).toHaveLength(2);
  });

  it('without idleMs, a worker that holds state is never ended for being idle', async () => {
    vi.useFakeTimers();
    const f = fakeWorkers();
    const b = new WorkerBridge<FakeApi>({ start: f.start });
    const p = b.call((w) => w.work());
    f.started[0]!.pending.shift()!.resolve('x');
    await p;
    vi.advanceTimersByTime(3_600_000);
    expect(f.started[0]!.terminated).toBe(false);
  });
});
