import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Demo } from '../../src/core/synth/demo.js';
import { run } from './tools.js';

/**
 * The demo's pre-revert chain (base + the delta before it was deleted) written to `dir` and read
 * by qemu-img, with the demo's lost runs taken from the base: the disk a perfect recovery gives,
 * computed without our reader. Returns the base and that disk.
 */
export function demoDiskThroughQemu(demo: Demo, dir: string): { base: Uint8Array; disk: Uint8Array } {
  const { capacity, lostRuns } = demo.expected;
  const pre = demo.preRevert;
  const base = new Uint8Array(capacity);
  demo.baseFill(base, 0);
  writeFileSync(path.join(dir, 'demo-vm.vmdk'), pre.baseDescriptor);
  writeFileSync(path.join(dir, 'demo-vm-flat.vmdk'), base);
  writeFileSync(path.join(dir, 'demo-vm-000001.vmdk'), pre.deltaDescriptor);
  writeFileSync(path.join(dir, pre.deltaFileName), pre.deltaBytes);
  const raw = path.join(dir, 'chain.raw');
  run('qemu-img', ['convert', '-O', 'raw', path.join(dir, 'demo-vm-000001.vmdk'), raw]);
  const disk = new Uint8Array(readFileSync(raw));
  for (const l of lostRuns) disk.set(base.subarray(l.sector * 512, (l.sector + l.sectors) * 512), l.sector * 512);
  return { base, disk };
}
