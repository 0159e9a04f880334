import * as Comlink from 'comlink';
import { UserError } from '../core/errors.js';
import { throttle, type Progress } from '../core/progress.js';
import { carveJob } from '../core/recovery/carve-job.js';
import { PROBE_WINDOW } from '../core/recovery/free-ranges.js';
import type { CarveJob, RangeEvidence } from './carve.api.js';
import type { ByteSource } from '../core/io/byte-source.js';
import type { RaidDetection } from '../core/raid/detect.js';
import { dumpSources } from './raid-lun.js';
import { guarded, holdFor, Jobs } from './common.js';

/**
 * Thin Comlink adapter for a carve worker of the split scan: it carves jobs (free-space ranges as
 * plain reads in the picked files, made by the datastore worker) without opening the datastore, so
 * it starts at once and its module is small.
 */

let files: ByteSource[] = [];
const jobs = new Jobs<'carve'>();
let window = PROBE_WINDOW;

const api = {
  /** The picked dump files, in the order the jobs name them, or the RAID members with the array's parameters (no read is made). */
  init(picked: File[], raid: RaidDetection | null = null): void {
    files = dumpSources(picked, raid);
  },

  /** One job; `delayMs` is the page's test hook (?scanRangeDelayMs=), as in the datastore worker's carveRange. */
  carve(job: CarveJob, onProgress?: (p: Progress) => void, delayMs = 0): Promise<RangeEvidence> {
    return guarded(async () => {
      if (!files.length) throw new UserError('no dump file given to the carve worker');
      const signal = jobs.start('carve');
      const r = await carveJob(files, job, { signal, onProgress: throttle(onProgress, 150) }, () => window);
      await holdFor(delayMs, signal);
      return r;
    });
  },

  /**
   * Reads per batch from now on (PROBE_WINDOW when not set): a few while the datastore
   * worker's metadata pass runs, so its reads do not queue behind a full batch of block heads.
   */
  pace(inFlight: number): void {
    window = Math.max(1, Math.min(PROBE_WINDOW, Math.floor(inFlight) || PROBE_WINDOW));
  },

  cancel(): void {
    jobs.abort('carve');
  },
};

export type CarveWorkerApi = typeof api;

Comlink.expose(api);
