import type { DemoExpected } from '../core/synth/demo.js';

/** What the demo worker (demo.worker.ts) sends the page: the generated dump as a File and what recovering it must give. */
export interface DemoBuild {
  file: File;
  expected: DemoExpected;
  vmDir: string;
  buildMs: number;
}
