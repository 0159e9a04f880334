import type { LiveDisk } from './parent-guess.js';
import { remnantWhere, type DescriptorRemnant } from './text-carving.js';
import type { Evidence } from './types.js';

/** Evidence entry for a descriptor attributed to a candidate (kind by where it was found). */
export function descriptorEvidence(d: DescriptorRemnant, note = ''): Evidence {
  const what = d.location === 'freed-fd' ? `freed descriptor ${d.fd}` : `descriptor text in ${remnantWhere(d)}`;
  return {
    kind: d.location === 'freed-fd' ? 'descriptor' : 'descriptor-text',
    volOffset: d.volOffset,
    ...(d.fd ? { fd: d.fd } : {}),
    location: d.location,
    detail: `${what}: createType ${d.createType}, CID ${d.cid}, parentCID ${d.parentCid}, parentFileNameHint "${d.parentFileNameHint ?? ''}", extent "${d.extentFile ?? ''}"${note}`,
  };
}

/** Parent hints a recovered descriptor gives: its parentCID and parentFileNameHint (resolved in the freed FD's folder when known). */
export function descriptorHints(d: DescriptorRemnant, disks: readonly LiveDisk[]): { parentCid: string; parentHint?: { name: string; dir: string | null; where: string } } {
  const dir = d.parentDir ? (disks.find((x) => x.dirFd === d.parentDir)?.dir ?? null) : null;
  return { parentCid: d.parentCid, ...(d.parentFileNameHint ? { parentHint: { name: d.parentFileNameHint, dir, where: d.location === 'freed-fd' ? `freed FD ${d.fd}` : remnantWhere(d) } } : {}) };
}
