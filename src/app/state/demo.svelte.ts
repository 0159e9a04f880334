import type { DemoBuild } from '../../workers/demo.api.js';
import { demoWorker } from '../workers/app-workers.js';
import { datastore } from './datastore.svelte.js';

/**
 * "Try the demo": a small datastore dump with a deleted snapshot delta, generated in a worker (no
 * file of the user's, no network), then opened through the datastore view like a picked dump.
 * The guide shows what recovery must produce, so the newcomer can compare.
 */
export class DemoState {
  building = $state(false);
  error = $state<string | null>(null);
  info = $state.raw<DemoBuild | null>(null);
  /** datastore.opened right after the demo opened: the guide hides once another dump is opened. */
  private openedAt = $state(-1);

  get active(): boolean {
    return this.info !== null && datastore.opened === this.openedAt;
  }

  async start(): Promise<void> {
    if (this.building) return;
    this.building = true;
    this.error = null;
    try {
      // The demo worker ends once idle, after the datastore worker has opened what it built.
      await demoWorker.call(async (w) => {
        const built = await w.build();
        await datastore.openFiles([built.file], { remember: false }); // generated in the tab: nothing to reopen
        if (datastore.volume) {
          this.info = built;
          this.openedAt = datastore.opened;
        }
      });
    } catch (e) {
      this.error = `The demo could not be built: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}. Reload the page and try again.`;
    } finally {
      this.building = false;
    }
  }
}

export const demo = new DemoState();
