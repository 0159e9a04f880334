import { FS_DESCRIPTOR_OFFSET } from '../fs-descriptor.js';
import type { FdLandmark, FsDescLandmark } from './landmarks.js';
import type { DeepScanResult, MapRun, OriginEvidence } from './scan.js';

/**
 * Rebuilds each volume's geometry from the landmarks of its origin, without the partition table,
 * the LVM header or the FS descriptor when they are gone: self-addressed FDs fix the origin and
 * the FD size (hence the version family), system FDs of FDC cluster 0 fix the FDC layout, and the
 * FDs' block-size fields vote for the file block and sub-block sizes.
 */

export interface VolumeGeometry {
  version: 3 | 5 | 6;
  fsMajor: number;
  blockSize: number;
  subBlockSize: number;
  /** VMFS6 metadata alignment (0 on VMFS3/5). */
  mdAlignment: number;
  fdSize: number;
  fdcGroupOffset: number;
  fdcClustersPerGroup: number;
  /** How each value was obtained ('descriptor', 'vote of N FDs', 'default'). */
  from: Record<string, string>;
}

export interface DeepVolume {
  /** FS UUID as VMware prints it, or the tool's own stable id when no UUID survives. */
  uuid: string;
  uuidFromMetadata: boolean;
  label: string;
  version: 3 | 5 | 6;
  blockSize: number;
  /** Dump index and name holding the volume's address 0. */
  source: number;
  sourceName: string;
  originBytes: number;
  sizeBytes: number;
  state: 'current' | 'previous';
  lvmUuid?: string;
  geometry: VolumeGeometry;
  /**
   * orphanFds: FDs at the current volume's origin that its tree does not reach (a re-format of the
   * same geometry); foreignFds: FDs there of another FD size (a re-format of another geometry).
   */
  evidence: { fds: number; orphanFds?: number; foreignFds?: number; clusterHeaders: Record<string, number>; fsDescriptor: boolean; lvmHeader: boolean; directories: number };
  /** Dump ranges where this origin's metadata lies. */
  map: MapRun[];
  /** A volume spanned over several dumps: each extent's dump and partition offset, the head first. */
  extents?: { source: number; sourceName: string; partition: number }[];
}

const MIN_BLOCK = 0x10000;
const MAX_VOTED_BLOCK = 64 * 2 ** 20;
const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** The value with most votes (ties: the smaller value, so results are stable), or null. */
function winner(votes: Map<number, number>): { value: number; votes: number } | null {
  let best: { value: number; votes: number } | null = null;
  for (const [value, n] of votes) if (!best || n > best.votes || (n === best.votes && value < best.value)) best = { value, votes: n };
  return best;
}
function vote(m: Map<number, number>, v: number, w = 1): void {
  m.set(v, (m.get(v) ?? 0) + w);
}

export function descriptorOf(e: OriginEvidence): FsDescLandmark | null {
  return e.descriptors.find((d) => d.at === e.origin + FS_DESCRIPTOR_OFFSET) ?? null;
}

/** `trustDescriptor` false: the descriptor at the origin is a newer volume's, so only the FDs vote. */
export function rebuildGeometry(e: OriginEvidence, trustDescriptor = true): VolumeGeometry {
  const from: Record<string, string> = {};
  const desc = trustDescriptor ? descriptorOf(e) : null;
  const sizes = new Map<number, number>();
  for (const f of e.fds) vote(sizes, f.fdSize);
  const fdVote = winner(sizes);
  let version: 3 | 5 | 6;
  if (desc) {
    version = desc.version;
    from.version = 'descriptor';
  } else if (fdVote?.value === 8192) {
    version = 6;
    from.version = `FD size 8 KiB (${fdVote.votes} FDs)`;
  } else {
    const signed = e.fds.filter((f) => f.fdSize === 2048 && f.signed).length;
    version = signed * 2 >= (fdVote?.votes ?? 0) ? 5 : 3;
    from.version = `FD size 2 KiB, ${signed} of ${fdVote?.votes ?? 0} with 'fdmd'`;
  }
  const fdSize = version === 6 ? (desc ? 2 * desc.mdAlignment : (fdVote?.value ?? 8192)) : 2048;
  const mdAlignment = version === 6 ? fdSize / 2 : 0;
  const fds = e.fds.filter((f) => f.fdSize === fdSize);

  let blockSize: number;
  if (desc) {
    blockSize = desc.blockSize;
    from.blockSize = 'descriptor';
  } else {
    // System files and directly addressed files store the file block size in their FDs.
    const bv = new Map<number, number>();
    for (const f of fds) {
      if (f.zla !== 1 || !isPow2(f.blockSize) || f.blockSize < MIN_BLOCK || f.blockSize > MAX_VOTED_BLOCK) continue;
      vote(bv, f.blockSize, f.typeCode === 5 ? 4 : 1);
    }
    const w = winner(bv);
    blockSize = w?.value ?? 2 ** 20;
    from.blockSize = w ? `vote of FD block sizes (weight ${w.votes})` : 'default 1 MiB';
  }
  let subBlockSize: number;
  if (desc) {
    subBlockSize = desc.subBlockSize;
    from.subBlockSize = 'descriptor';
  } else {
    const sv = new Map<number, number>();
    for (const f of fds) if (f.zla === 2 && isPow2(f.blockSize) && f.blockSize >= 512 && f.blockSize <= blockSize) vote(sv, f.blockSize);
    const w = winner(sv);
    subBlockSize = w?.value ?? (version === 5 ? 8192 : 65536);
    from.subBlockSize = w ? `vote of sub-block FDs (${w.votes})` : 'default for the version';
  }
  const H = version === 6 ? fdSize : 1024;
  const fdcBase = version === 6 ? Math.floor((mdAlignment * 1024 + 0x3fffff) / 0x100000) * 0x100000 : blockSize * Math.floor((blockSize + 0x3fffff) / blockSize);
  const fdcGroupOffset = desc?.fdcGroupOffset || 0x10000;
  let C: number;
  if (desc && desc.fdcClustersPerGroup > 0) {
    C = desc.fdcClustersPerGroup;
    from.fdcClustersPerGroup = 'descriptor';
  } else {
    // FDC cluster 0 item r lies at fdcBase + groupOffset + C × H + r × fdSize (docs/format-notes.md "VMFS structures the reader cites").
    const cv = new Map<number, number>();
    for (const f of fds) {
      if (((f.address >>> 6) & 0xffff) !== 0) continue;
      const c = (f.volOffset - fdcBase - fdcGroupOffset - (f.address >>> 22) * fdSize) / H;
      if (Number.isInteger(c) && c >= 1 && c <= 4096) vote(cv, c, f.typeCode === 5 ? 4 : 1);
    }
    const w = winner(cv);
    C = w?.value ?? (version === 6 ? 16 : 32);
    from.fdcClustersPerGroup = w ? `FDC cluster 0 FDs (weight ${w.votes})` : 'default for the version';
  }
  const fsMajor = desc?.fsMajor ?? (version === 6 ? 24 : version === 5 ? 14 : 4);
  return { version, fsMajor, blockSize, subBlockSize, mdAlignment, fdSize, fdcGroupOffset, fdcClustersPerGroup: C, from };
}

/** Enough landmarks at one origin to call it a volume. */
export function isVolume(e: OriginEvidence): boolean {
  return e.fdCount >= 2 || descriptorOf(e) !== null;
}

/** The tool's own id for a volume whose UUID did not survive: stable for a dump, source and origin. */
export function toolVolumeId(source: number, origin: number, version: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const sectors = Math.floor(origin / 512);
  return `00000000-0000000${version}-${h(source & 0xffff, 4)}-${h(sectors, 12)}`;
}

/** FDs of an origin that live files or folders could own (link count > 0, user types). */
export function userFds(e: OriginEvidence, fdSize: number): FdLandmark[] {
  return e.fds.filter((f) => f.fdSize === fdSize && f.linkCount > 0 && (f.typeCode === 2 || f.typeCode === 3 || f.typeCode === 4 || f.typeCode === 6));
}

/** What is known of the volume the partition table and LVM still describe. */
export interface CurrentVolume {
  uuid: string;
  lvmUuid: string;
  label: string;
  source: number;
  origin: number;
  sizeBytes: number;
  /** FD addresses its live tree reaches. */
  reachable: ReadonlySet<number>;
}

/**
 * Volumes of a scan: one per origin with enough evidence; the current volume's origin is
 * 'current', and also gives a 'previous' volume when FDs there are of another FD size, or neither
 * reached by the current tree nor deleted (a datastore re-created over the same place).
 */
export function volumesOf(r: DeepScanResult, current: CurrentVolume | null): { volumes: DeepVolume[]; evidence: Map<DeepVolume, OriginEvidence> } {
  const volumes: DeepVolume[] = [];
  const evidence = new Map<DeepVolume, OriginEvidence>();
  for (const e of r.origins) {
    const isCurrent = current !== null && current.source === e.source && current.origin === e.origin;
    if (!isVolume(e) && !isCurrent) continue;
    const g = rebuildGeometry(e);
    const desc = descriptorOf(e);
    const lvm = r.lvm.find((l) => l.source === e.source && l.partition + l.dataOffset === e.origin);
    const dumpSize = r.sources[e.source]!.size;
    const dirs = r.directories.filter((d) => d.source === e.source).length;
    const base = {
      version: g.version,
      blockSize: g.blockSize,
      source: e.source,
      sourceName: r.sources[e.source]!.name,
      originBytes: e.origin,
      sizeBytes: Math.max(0, dumpSize - e.origin),
      geometry: g,
      map: e.map,
    };
    const ev = { fds: e.fdCount, clusterHeaders: e.clusterHeaders, fsDescriptor: desc !== null, lvmHeader: lvm !== undefined, directories: dirs };
    if (isCurrent) {
      // FDs of another size are another volume's: one formatted before the current one with another
      // geometry (VMFS5 before VMFS6 or the reverse), whose FDs the new format did not overwrite.
      const foreign = e.fds.filter((f) => f.fdSize !== g.fdSize);
      const v: DeepVolume = { ...base, uuid: current.uuid, uuidFromMetadata: true, label: current.label, state: 'current', lvmUuid: current.lvmUuid, sizeBytes: current.sizeBytes, evidence: { ...ev, fds: e.fdCount - foreign.length } };
      volumes.push(v);
      evidence.set(v, e);
      if (foreign.length >= 2) {
        const fe: OriginEvidence = { ...e, fds: foreign, fdCount: foreign.length, descriptors: [] };
        const pg = rebuildGeometry(fe, false);
        const p: DeepVolume = { ...base, version: pg.version, blockSize: pg.blockSize, geometry: pg, uuid: toolVolumeId(e.source, e.origin, pg.version), uuidFromMetadata: false, label: '', state: 'previous', evidence: { ...ev, fds: foreign.length, fsDescriptor: false, lvmHeader: false, foreignFds: foreign.length } };
        volumes.push(p);
        evidence.set(p, fe);
        continue;
      }
      const orphans = userFds(e, g.fdSize).filter((f) => !current.reachable.has(f.address));
      if (orphans.length > 0) {
        const pg = rebuildGeometry(e, false);
        const p: DeepVolume = { ...base, version: pg.version, blockSize: pg.blockSize, geometry: pg, uuid: toolVolumeId(e.source, e.origin, g.version), uuidFromMetadata: false, label: '', state: 'previous', evidence: { ...ev, fsDescriptor: false, lvmHeader: false, orphanFds: orphans.length } };
        volumes.push(p);
        evidence.set(p, e);
      }
      continue;
    }
    const v: DeepVolume = {
      ...base,
      uuid: desc ? desc.uuid : toolVolumeId(e.source, e.origin, g.version),
      uuidFromMetadata: desc !== null,
      label: desc?.label ?? '',
      state: 'previous',
      ...(desc ? { lvmUuid: desc.lvUuid } : lvm?.lvUuid ? { lvmUuid: lvm.lvUuid } : {}),
      evidence: ev,
    };
    volumes.push(v);
    evidence.set(v, e);
  }
  return { volumes, evidence };
}
