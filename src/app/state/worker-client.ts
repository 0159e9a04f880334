import * as Comlink from 'comlink';
import type { VmdkWorkerApi } from '../../workers/vmdk.worker.js';

let remote: Comlink.Remote<VmdkWorkerApi> | null = null;

/** The one VMDK worker (created on first use; Vite bundles it as a same-origin module file). */
export function vmdkWorker(): Comlink.Remote<VmdkWorkerApi> {
  if (!remote) {
    const w = new Worker(new URL('../../workers/vmdk.worker.ts', import.meta.url), { type: 'module', name: 'vmdk' });
    remote = Comlink.wrap<VmdkWorkerApi>(w);
  }
  return remote;
}
