import * as Comlink from 'comlink';
import { UserError } from '../core/errors.js';
import { throttle } from '../core/progress.js';
import { detectRaid, RaidUndecidedError, toRaidConfig, type RaidOverrides } from '../core/raid/detect.js';
import { givenDetection } from '../core/raid/given.js';
import { openRaid } from '../core/raid/raid-source.js';
import { BlobSource } from '../platform/browser/blob-source.js';
import { guarded, holdFor, Jobs } from './common.js';
import type { RaidOutcome, RaidProgress, RaidWorkerApi } from './raid.api.js';

/** Thin Comlink adapter over core/raid detection: the members are read here, off the main thread, and cancellable. */

const jobs = new Jobs<'detect'>();
const sources = (files: File[]) => files.map((f) => new BlobSource(f, f.name));

const api: RaidWorkerApi = {
  detect(files: File[], overrides: RaidOverrides, onProgress?: (p: RaidProgress) => void, holdMs = 0): Promise<RaidOutcome> {
    return guarded(async () => {
      const signal = jobs.start('detect');
      await holdFor(holdMs, signal);
      const report = throttle(onProgress as ((p: { phase: string; done: number; total: number }) => void) | undefined, 150);
      try {
        const detection = await detectRaid(sources(files), { overrides, signal, onProgress: report });
        return { kind: 'detected', detection };
      } catch (e) {
        if (!(e instanceof RaidUndecidedError)) throw e;
        return { kind: 'undecided', reason: e.message, ...e.found };
      }
    });
  },

  given(files: File[], overrides: RaidOverrides) {
    return guarded(async () => {
      const members = sources(files);
      const det = givenDetection(overrides, members);
      if (!det) throw new UserError('give every parameter: level, stripe size, layout and parity delay as the level needs, the member order and each member\'s start offset');
      openRaid(toRaidConfig(det, members)); // throws a typed error when the array cannot be read so
      return det;
    });
  },

  cancel(): void {
    jobs.abort('detect');
  },
};

Comlink.expose(api);
