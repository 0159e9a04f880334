import { parentPort, workerData } from 'node:worker_threads';
import { RescueError } from '../../core/errors.js';
import { Collector } from '../../core/vmfs/deep/collector.js';
import { rangeBuffers, scanDumpRange } from '../../core/vmfs/deep/range-scan.js';
import { NodeFileSource } from './file-source.js';
import type { LaneData, LaneJob, LaneReply } from './deep-lanes.js';

/**
 * A deep-search lane in a worker thread (started by deep-lanes.ts): opens the dumps again by path,
 * then scans the segments it is sent one after another and posts each one's landmarks back.
 */
const { files, chunk } = workerData as LaneData;
const port = parentPort!;
const bufs = rangeBuffers(chunk);
let opened: Promise<NodeFileSource[]> | null = null;
const sources = () =>
  (opened ??= Promise.all(
    files.map(async (f) => {
      const s = await NodeFileSource.open(f.path, f.name);
      // The dump changed since the scan opened it: its segments would not be the scan's.
      if (s.size !== f.size) throw new RescueError('io', `${f.name}: its size changed during the deep search (${f.size} → ${s.size} bytes)`);
      return s;
    }),
  ));
let queue = Promise.resolve();
port.on('message', (job: LaneJob) => {
  queue = queue.then(async () => {
    let reply: LaneReply;
    try {
      const src = (await sources())[job.source]!;
      const c = new Collector();
      await scanDumpRange(src, job.source, job.start, job.end, c, { chunk, bufs });
      reply = { id: job.id, result: c.result([], job.end - job.start) };
    } catch (e) {
      reply = { id: job.id, error: { message: e instanceof Error ? e.message : String(e), ...(e instanceof RescueError ? { kind: e.kind } : {}) } };
    }
    port.postMessage(reply);
  });
});
