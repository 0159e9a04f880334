import { UserError } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { randomCid, serializeDescriptor } from '../vmdk/descriptor.js';
import { openChain } from '../vmdk/chain.js';
import { DiskChain } from '../vmdk/disk-chain.js';
import { openCowdExtent } from '../vmdk/formats/cowd.js';
import { openSeSparseExtent } from '../vmdk/formats/sesparse.js';
import { fsOf, type Datastore } from '../vmfs/index.js';
import { rebuiltFile } from './rebuilt-file.js';
import type { Candidate } from './candidate.js';

/**
 * The rebuilt delta offered for use in place: the delta file's bytes as found
 * on the volume (lost blocks are NOT filled: they read as zeros, so a lost grain table makes its
 * grains read from the parent and a lost data grain reads as zeros) and a fresh descriptor whose
 * parentCID is the parent's CID, so VMware and qemu open it over the parent.
 */
export interface RebuiltDelta {
  /** Descriptor text (vmfsSparse or seSparse, parentCID fixed). */
  descriptor: string;
  /** Extent file name the descriptor names, and its bytes. */
  dataName: string;
  data: ByteSource;
  cid: string;
  parentCid: string;
  parentFileNameHint: string;
  /** The disk as VMware/qemu read the written pair over the parent (lost data grains as zeros). */
  asWritten: DiskChain;
  /** Sectors that read differently from `recover` (lost data grains: zeros here, the parent there). */
  notes: string[];
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/**
 * Builds the delta pair of candidate `c` for the descriptor named `descriptorName` (the data file
 * goes beside it as `<stem>-delta.vmdk` or `<stem>-sesparse.vmdk`, as ESXi names them), over the
 * parent descriptor `parentPath` on the volume (its CID becomes the parentCID).
 */
export async function rebuiltDelta(ds: Datastore, c: Candidate, parentPath: string, descriptorName: string): Promise<RebuiltDelta> {
  if (/["\r\n/\\]/.test(descriptorName) || !/\.vmdk$/i.test(descriptorName)) throw new UserError(`delta descriptor name must be a plain *.vmdk file name: ${JSON.stringify(descriptorName)}`);
  const parent = await openChain(ds.resolver(), parentPath);
  const top = parent.links[0];
  const parentCid = top?.cid;
  if (!parentCid) throw new UserError(`parent ${parentPath} has no CID (not a text descriptor): a delta cannot name it`);
  if (parent.size !== c.capacityBytes) throw new UserError(`parent ${parentPath} has capacity ${parent.size}, the delta ${c.capacityBytes}: VMware would refuse the pair`);
  const stem = descriptorName.replace(/\.vmdk$/i, '');
  const se = c.format === 'seSparse';
  const dataName = `${stem}-${se ? 'sesparse' : 'delta'}.vmdk`;
  if (dataName === baseName(parentPath) || descriptorName === baseName(parentPath)) throw new UserError(`delta file names collide with the parent ${baseName(parentPath)}: pick another name`);
  const data = rebuiltFile(fsOf(ds).vol, c.plan, dataName);
  // The deleted descriptor's CID when one was found (children made before the revert name it).
  const found = c.evidence.map((e) => /freed descriptor [^:]*: createType \S+, CID ([0-9a-f]{8}),/.exec(e.detail)?.[1]).find((x) => x);
  const cid = found ?? randomCid();
  const parentFileNameHint = baseName(parentPath);
  const descriptor = serializeDescriptor({
    version: 1,
    encoding: 'UTF-8',
    cid,
    parentCid,
    createType: se ? 'seSparse' : 'vmfsSparse',
    parentFileNameHint,
    extents: [{ access: 'RW', sectors: c.capacityBytes / 512, type: se ? 'SESPARSE' : 'VMFSSPARSE', fileName: dataName, offset: 0 }],
    ddb: { ...parent.descriptorDdb() },
    header: {},
  });
  const inner = se ? await openSeSparseExtent(data, dataName) : await openCowdExtent(data, dataName);
  const link = { ...parent.links[0]!, path: descriptorName, createType: se ? 'seSparse' : 'vmfsSparse', format: c.format, cid, parentCid, parentHint: parentFileNameHint, extents: [], warnings: [] };
  const asWritten = new DiskChain([inner, ...parent.layers], [link, ...parent.links]);
  // A merged run may hold both lost tables and lost data: it counts when any of its reasons is data.
  const lostData = c.lostRuns.filter((r) => r.reasons.some((x) => !/grain table|grain directory/.test(x)));
  const notes = lostData.length
    ? [`${lostData.length} lost run(s) (${lostData.reduce((n, r) => n + r.sectors, 0)} sectors) hold grains whose data block is lost: the delta file holds zeros there, so they read as zeros (recover reads the parent there)`]
    : [];
  return { descriptor, dataName, data, cid, parentCid, parentFileNameHint, asWritten, notes };
}
