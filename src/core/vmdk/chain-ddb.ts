import { ddbGet } from './descriptor.js';
import type { Descriptor } from './types.js';

/**
 * DDB entries a merged export carries over from its chain: the virtual hardware the VM sees
 * (adapter, geometry, hardware version, tools). Identity entries (uuid, longContentID) and
 * delta bookkeeping (deletable, thinProvisioned) are left out: they describe the source files,
 * not the new disk.
 */
const SINGLE: readonly [key: string, valid: RegExp][] = [
  ['adapterType', /^[A-Za-z0-9_-]{1,32}$/],
  ['virtualHWVersion', /^\d{1,4}$/],
  ['toolsVersion', /^\d{1,10}$/],
  ['toolsInstallType', /^\d{1,4}$/],
];
/** Geometry is copied as a whole triple or not at all (a mixed triple describes no disk). */
const GROUPS: readonly (readonly string[])[] = [
  ['geometry.cylinders', 'geometry.heads', 'geometry.sectors'],
  ['geometry.biosCylinders', 'geometry.biosHeads', 'geometry.biosSectors'],
];
const NUMBER = /^\d{1,10}$/;

/**
 * The inheritable entries of `descriptors` (top first; null for a layer without one): each
 * entry from the top-most descriptor that has a well-formed value, so a delta's newer
 * virtualHWVersion wins over the base's. Keys in VMware's spelling, without `ddb.`.
 */
export function inheritedDdb(descriptors: readonly (Descriptor | null)[]): Record<string, string> {
  const out: Record<string, string> = {};
  const present = descriptors.filter((d): d is Descriptor => d !== null);
  for (const [key, valid] of SINGLE) {
    for (const d of present) {
      const v = ddbGet(d, key)?.trim();
      if (v !== undefined && valid.test(v)) {
        out[key] = v;
        break;
      }
    }
  }
  for (const keys of GROUPS) {
    for (const d of present) {
      const vs = keys.map((k) => ddbGet(d, k)?.trim());
      if (vs.every((v) => v !== undefined && NUMBER.test(v))) {
        keys.forEach((k, i) => (out[k] = vs[i]!));
        break;
      }
    }
  }
  return out;
}
