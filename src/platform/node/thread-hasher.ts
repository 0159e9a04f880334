import { Worker } from 'node:worker_threads';
import type { StreamHasher, StreamHasherFactory } from '../../core/export/stream-hasher.js';

/**
 * The worker's whole program, inline (no separate file to locate from sources or a bundle).
 * Messages in: [0, slot, length] hash that many bytes of a shared slot, then hand the slot back;
 * [1, n] hash n zero bytes; [2] post the hex digest and start a new hash. Out: a slot number
 * (free again) or the digest string.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { sab, slotBytes } = workerData;
const zeros = new Uint8Array(4 << 20);
let h = createHash('sha256');
parentPort.on('message', (m) => {
  if (m[0] === 0) {
    h.update(new Uint8Array(sab, m[1] * slotBytes, m[2]));
    parentPort.postMessage(m[1]);
  } else if (m[0] === 1) {
    for (let n = m[1]; n > 0; n -= zeros.length) h.update(n >= zeros.length ? zeros : zeros.subarray(0, n));
  } else {
    parentPort.postMessage(h.digest('hex'));
    h = createHash('sha256');
  }
});
`;

/** Bytes per shared slot: big, so a slot is one message and one native update call. */
const SLOT_BYTES = 4 * 1024 * 1024;
/** Slots per worker: the data queued for hashing is at most SLOTS × SLOT_BYTES. */
const SLOTS = 6;
/** Zero runs up to this size are copied into the current slot (fewer messages); longer ones are a message. */
const INLINE_ZEROS = 256 * 1024;

/** One worker thread and its shared slots; reused by successive hashers (export, then verify). */
class HashWorker {
  readonly worker: Worker;
  readonly slots: Uint8Array[];
  owner: ThreadHasher | null = null;
  failure: Error | null = null;
  constructor() {
    const sab = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
    this.slots = Array.from({ length: SLOTS }, (_, i) => new Uint8Array(sab, i * SLOT_BYTES, SLOT_BYTES));
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, slotBytes: SLOT_BYTES } });
    this.worker.on('message', (m: number | string) => this.owner?.onMessage(m));
    const fail = (e: Error) => {
      this.failure ??= e;
      this.owner?.onFailure(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`hash worker exited (code ${code})`)));
  }
}

const idle: HashWorker[] = [];

function takeWorker(): HashWorker {
  let w = idle.pop();
  while (w?.failure) w = idle.pop();
  w ??= new HashWorker();
  w.worker.ref();
  return w;
}

/** SHA-256 on a worker thread: data is copied into shared slots and hashed there while this thread reads and writes. */
class ThreadHasher implements StreamHasher {
  private readonly w: HashWorker;
  private readonly free: number[];
  private readonly slotWaiters: { resolve: (slot: number) => void; reject: (e: Error) => void }[] = [];
  private digestWaiter: { resolve: (hex: string) => void; reject: (e: Error) => void } | null = null;
  private cur = -1;
  private fill = 0;
  private done = false;

  constructor() {
    this.w = takeWorker();
    this.w.owner = this;
    this.free = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i);
  }

  onMessage(m: number | string): void {
    if (typeof m === 'string') {
      const d = this.digestWaiter;
      this.digestWaiter = null;
      d?.resolve(m);
      return;
    }
    const waiter = this.slotWaiters.shift();
    if (waiter) waiter.resolve(m);
    else this.free.push(m);
  }

  onFailure(e: Error): void {
    for (const s of this.slotWaiters.splice(0)) s.reject(e);
    this.digestWaiter?.reject(e);
    this.digestWaiter = null;
  }

  private check(): void {
    if (this.done) throw new Error('hasher already finished');
    if (this.w.failure) throw this.w.failure;
  }

  private slot(): number | Promise<number> {
    const s = this.free.pop();
    if (s !== undefined) return s;
    return new Promise((resolve, reject) => this.slotWaiters.push({ resolve, reject }));
  }

  private flush(): void {
    if (this.cur < 0) return;
    if (this.fill > 0) this.w.worker.postMessage([0, this.cur, this.fill]);
    else this.free.push(this.cur);
    this.cur = -1;
    this.fill = 0;
  }

  async update(data: Uint8Array): Promise<void> {
    this.check();
    for (let off = 0; off < data.length; ) {
      if (this.cur < 0) this.cur = await this.slot();
      const k = Math.min(SLOT_BYTES - this.fill, data.length - off);
      this.w.slots[this.cur]!.set(data.subarray(off, off + k), this.fill);
      this.fill += k;
      off += k;
      if (this.fill === SLOT_BYTES) this.flush();
    }
  }

  async zeros(n: number): Promise<void> {
    this.check();
    if (n <= INLINE_ZEROS) {
      while (n > 0) {
        if (this.cur < 0) this.cur = await this.slot();
        const k = Math.min(SLOT_BYTES - this.fill, n);
        this.w.slots[this.cur]!.fill(0, this.fill, this.fill + k);
        this.fill += k;
        n -= k;
        if (this.fill === SLOT_BYTES) this.flush();
      }
      return;
    }
    this.flush();
    this.w.worker.postMessage([1, n]);
  }

  async digestHex(): Promise<string> {
    this.check();
    this.flush();
    const hex = await new Promise<string>((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
      this.w.worker.postMessage([2]);
    });
    this.release();
    return hex;
  }

  /** Hands the worker back for the next hasher (idle workers do not keep the process alive). */
  private release(): void {
    this.done = true;
    this.w.owner = null;
    this.w.worker.unref();
    if (idle.length < 2) idle.push(this.w);
    else void this.w.worker.terminate();
  }

  dispose(): void {
    if (this.done) return;
    // Slots may still be in the worker's queue: this worker's state is unknown, so it is not reused.
    this.done = true;
    this.w.owner = null;
    void this.w.worker.terminate();
  }
}

/** Node's native SHA-256 on a worker thread, overlapped with the export's reads and writes. */
export const threadSha256: StreamHasherFactory = () => new ThreadHasher();
