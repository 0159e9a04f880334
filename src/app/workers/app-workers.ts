import * as Comlink from 'comlink';
import type { CarveWorkerApi } from '../../workers/carve.worker.js';
import type { DatastoreWorkerApi } from '../../workers/datastore.worker.js';
import type { DemoWorkerApi } from '../../workers/demo.worker.js';
import type { RaidWorkerApi } from '../../workers/raid.api.js';
import type { VmdkWorkerApi } from '../../workers/vmdk.worker.js';
import { WorkerBridge, type StartedWorker } from './bridge.js';

/**
 * The app's workers, each behind the bridge. The only place that starts a Worker: Vite bundles each
 * `new Worker(new URL(...))` below as a same-origin module file. State classes call these; views
 * call the state classes.
 */

export type DatastoreRemote = Comlink.Remote<DatastoreWorkerApi>;
export type VmdkRemote = Comlink.Remote<VmdkWorkerApi>;
export type CarveRemote = Comlink.Remote<CarveWorkerApi>;

function started<T>(w: Worker): StartedWorker<Comlink.Remote<T>> {
  return { remote: Comlink.wrap<T>(w), terminate: () => w.terminate() };
}

/** The datastore worker: holds the open dump, its scan and the disks built from it (never ended idle). */
export const datastoreWorker = new WorkerBridge<DatastoreRemote>({
  start: () => started<DatastoreWorkerApi>(new Worker(new URL('../../workers/datastore.worker.ts', import.meta.url), { type: 'module', name: 'datastore' })),
});

/** The VMDK worker: holds the opened chain (never ended idle). */
export const vmdkWorker = new WorkerBridge<VmdkRemote>({
  start: () => started<VmdkWorkerApi>(new Worker(new URL('../../workers/vmdk.worker.ts', import.meta.url), { type: 'module', name: 'vmdk' })),
});

/** The demo builder: holds nothing once it has answered, so it ends as soon as it is idle. */
export const demoWorker = new WorkerBridge<Comlink.Remote<DemoWorkerApi>>({
  start: () => started<DemoWorkerApi>(new Worker(new URL('../../workers/demo.worker.ts', import.meta.url), { type: 'module', name: 'demo' })),
  idleMs: 0,
});

/** RAID detection over the member dumps: holds nothing between calls, so it ends once idle a while. */
export const raidWorker = new WorkerBridge<Comlink.Remote<RaidWorkerApi>>({
  start: () => started<RaidWorkerApi>(new Worker(new URL('../../workers/raid.worker.ts', import.meta.url), { type: 'module', name: 'raid' })),
  idleMs: 60_000,
});

/** A carve worker of the split scan (the scan's pool owns it and ends it). */
export function startCarveWorker(name: string): StartedWorker<CarveRemote> {
  return started<CarveWorkerApi>(new Worker(new URL('../../workers/carve.worker.ts', import.meta.url), { type: 'module', name }));
}

/** A datastore worker of its own for one lane of the split scan (when the dump's layering makes no carve jobs). */
export function startDatastoreLane(name: string): StartedWorker<DatastoreRemote> {
  return started<DatastoreWorkerApi>(new Worker(new URL('../../workers/datastore.worker.ts', import.meta.url), { type: 'module', name }));
}

/** A progress callback the worker can call back across the thread boundary. */
export function progressCallback<P>(fn: (p: P) => void): (p: P) => void {
  return Comlink.proxy(fn);
}
