import type { HasherFactory } from '../../hash/sha256.js';
import { type DataPiece, pattern, sha256Of } from './content.js';
import { HASH_SLOTS, ROOT_HASH_SLOTS, vmfs6NameHash } from './dir-hash.js';
import {
  DATA_OFFSET, MiB, SEGMENT, fb5, fdAddr, geometry, lfb6, pb5, sb5, sb6, sfb6, vmfsUuid, type Geometry,
} from './geometry.js';
import { type ExtentLayout, type VolumeIdentity, extendedLvmBytes, writeLvm } from './lvm.js';
import { LINUX_GPT_TYPE, VMFS_GPT_TYPE, writeGpt, writeMbr } from './partition-table.js';
import { CG_OFFSET, FBB_CHILD_META, MAGIC, Resource, type V6Layout } from './resource.js';
import { Le, type PositionalWriter } from './writer.js';

// ---------------------------------------------------------------------------------------------
// Input: what to build
// ---------------------------------------------------------------------------------------------

/** One FS block of a block-addressed file. */
export interface BlockSpec {
  /** File block index (offset / 1 MiB). */
  index: number;
  /** data: pseudo-random bytes at the block start; zero: allocated, never written; tbz: allocated, to-be-zeroed. */
  content: 'data' | 'zero' | 'tbz';
  /** FS block number to use (else the next free one). */
  at?: number;
  /** Bytes of data written at the block start (default 64 KiB, clipped to the block and file end). */
  dataLength?: number;
  /** For tbz: write pseudo-random bytes physically, which a correct reader must NOT return. */
  garbage?: boolean;
}

export type FileSpec =
  | { path: string; kind: 'dir' }
  | { path: string; kind: 'resident'; size: number }
  | { path: string; kind: 'subblock'; size: number }
  | { path: string; kind: 'blocks'; size: number; blocks: BlockSpec[]; addressing?: 'direct' | 'pointer' | 'double' }
  /** VMFS6 only: whole 512 MiB large file blocks, with data pieces (file offsets) written into them. */
  | { path: string; kind: 'lfb'; size: number; data: { offset: number; length: number }[] }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'rdm'; size: number };

export interface LunSpec {
  scheme: 'gpt' | 'mbr' | 'bare';
  /** 256 MiB segments of the volume held by this LUN. */
  segments: number;
  /** GPT only: put a small Linux partition before the VMFS one. */
  extraPartition?: boolean;
  /** GPT only: break the primary header's CRC so a reader must use the backup. */
  corruptPrimaryGpt?: boolean;
}

export interface BuildOptions {
  version: 5 | 6;
  /** Base name: dumps are `${name}.lun0.img`, `${name}.lun1.img`, ... */
  name: string;
  /** Creates the target of LUN `index` (`fileName` is `${name}.lun${index}.img`); the builder closes it. */
  createLun: (fileName: string, size: number, index: number) => PositionalWriter;
  /** sha256 of the manifest (default: the core's pure-TypeScript one). */
  hasher?: HasherFactory;
  label: string;
  seed: number;
  luns: LunSpec[];
  files: FileSpec[];
  /** .fbb.sf resources per cluster (VMFS5 default 256; VMFS6 is always 512 = SFBs per LFB). */
  fbbPerCluster?: number;
  /** VMFS6 only: cluster metadata and .fbb.sf as vmfs6-tools reads them (default) or as ESXi writes them (see V6Layout). */
  layout?: V6Layout;
  /** Files larger than this get no sha256 in the manifest (benches: hashing TiBs of zeros is slow). */
  hashLimit?: number;
  /** .fdc.sf cluster groups (default 1: 1024 FDs on VMFS5, 256 on VMFS6); more for big folders. */
  fdcGroups?: number;
  /**
   * VMFS5: 256 MiB LVM PEs as ESXi makes them, with extended LVM headers on a device that needs
   * more than 8 PE maps (> 2 TiB); default: at most 8192 longer PEs per device.
   */
  extendedLvm?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Output: the manifest
// ---------------------------------------------------------------------------------------------

export type ManifestType = 'directory' | 'file' | 'system' | 'symlink' | 'rdm';

export interface ManifestEntry {
  path: string;
  name: string;
  type: ManifestType;
  size: number;
  fdAddress: number;
  generation: number;
  addressing?: 'resident' | 'sub-block' | 'direct' | 'pointer-block' | 'double-indirect' | 'lfb';
  /** sha256 of the logical content (holes and TBZ blocks as zeros). Absent for dirs, system files, RDMs. */
  sha256?: string;
  /** Logical content as pieces over zeros (for spot reads). */
  pieces?: DataPiece[];
  /**
   * VMFS6 files with TBZ blocks: sha256 of what a reader that ignores the VMFS6 TBZ mask returns
   * (debugvmfs6 does), i.e. with the garbage under the TBZ blocks.
   */
  rawSha256?: string;
  tbzBlocks?: number;
  allocatedBlocks?: number;
  pointerBlocks?: number;
  symlinkTarget?: string;
  /** FS blocks holding the file's data (not TBZ, not holes), for span checks. */
  dataBlocks?: number[];
}

export interface LunInfo {
  path: string;
  scheme: LunSpec['scheme'];
  size: number;
  partitionOffset: number;
  partitionLength: number;
  firstSegment: number;
  numSegments: number;
}

export interface Manifest {
  version: 5 | 6;
  label: string;
  fsUuid: string;
  volumeUuid: string;
  blockSize: number;
  subBlockSize: number;
  volumeSize: number;
  totalBlocks: number;
  luns: LunInfo[];
  entries: ManifestEntry[];
  /** Notes on what the oracles cannot confirm in this dump. */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------

const TYPE_CODE: Record<ManifestType, number> = { directory: 2, file: 3, symlink: 4, system: 5, rdm: 6 };
const ZLA_RESIDENT = 4305;
const ZLA_DOUBLE = 4304;
const TIME = 0x65a0c000; // 2024-01-12, fixed so dumps are reproducible
const LFB = 512 * MiB;

interface FdRecord {
  item: number;
  addr: number;
  type: ManifestType;
  generation: number;
  size: number;
  blockSize: number;
  numBlocks: number;
  zla: number;
  mode: number;
  slots: (number | bigint)[];
  resident?: Uint8Array;
  rdmId?: Uint8Array;
  tbz: number;
  numPB: number;
  parent: number;
  blockOffsetShift: number;
}

interface Node {
  path: string;
  name: string;
  type: ManifestType;
  spec?: FileSpec;
  fd: FdRecord;
  children: Node[];
  parent: Node | null;
  /** VMFS6 root: fixed hash index of a system file. */
  fixedHash?: number;
  entry: ManifestEntry;
}

/** Spreads writes of the logical volume over the extents' partitions (volume byte 0 = partition + 0x1100000). */
class VolumeWriter {
  constructor(private readonly extents: ExtentLayout[]) {}
  write(volOff: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const off = volOff + done;
      const seg = Math.floor(off / SEGMENT);
      const ext = this.extents.find((e) => seg >= e.firstSegment && seg < e.firstSegment + e.numSegments);
      if (!ext) throw new Error(`builder bug: volume offset 0x${off.toString(16)} outside every extent`);
      const extEnd = (ext.firstSegment + ext.numSegments) * SEGMENT;
      const n = Math.min(bytes.length - done, extEnd - off);
      ext.file.write(ext.partOffset + DATA_OFFSET + (off - ext.firstSegment * SEGMENT), bytes.subarray(done, done + n));
      done += n;
    }
  }
}

/** FS block allocator: SFB/FB blocks upward from the bottom, VMFS6 LFB slots downward from the top. */
class BlockAllocator {
  private readonly bits: Uint8Array;
  private next = 0;
  private lfbNext: number;
  constructor(readonly total: number) {
    this.bits = new Uint8Array(Math.ceil(total / 8));
    this.lfbNext = Math.floor(total / 512) - 1;
  }
  isUsed(b: number): boolean {
    return (this.bits[b >> 3]! & (1 << (b & 7))) !== 0;
  }
  mark(b: number): void {
    if (b < 0 || b >= this.total) throw new Error(`builder: block ${b} outside the volume (${this.total} blocks)`);
    if (this.isUsed(b)) throw new Error(`builder: block ${b} allocated twice`);
    this.bits[b >> 3]! |= 1 << (b & 7);
  }
  alloc(at?: number): number {
    if (at !== undefined) {
      this.mark(at);
      return at;
    }
    while (this.next < this.total && this.isUsed(this.next)) this.next++;
    if (this.next >= this.total) throw new Error('builder: volume full');
    this.mark(this.next);
    return this.next;
  }
  allocRun(n: number): number {
    while (true) {
      while (this.isUsed(this.next)) this.next++;
      let ok = true;
      for (let i = 0; i < n; i++) if (this.isUsed(this.next + i)) ok = false;
      if (ok) break;
      this.next++;
    }
    const start = this.next;
    for (let i = 0; i < n; i++) this.mark(start + i);
    return start;
  }
  /** A whole 512 MiB slot (VMFS6 LFB), from the top of the volume. */
  allocLfb(): number {
    while (this.lfbNext > 0) {
      const n = this.lfbNext--;
      let free = true;
      for (let i = 0; i < 512; i++) if (this.isUsed(n * 512 + i)) free = false;
      if (!free) continue;
      for (let i = 0; i < 512; i++) this.mark(n * 512 + i);
      return n;
    }
    throw new Error('builder: no free LFB slot');
  }
  get usedCount(): number {
    let n = 0;
    for (let b = 0; b < this.total; b++) if (this.isUsed(b)) n++;
    return n;
  }
}

/** POSIX dirname/basename of the absolute paths the specs use. */
function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}
function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function hashName(path: string): number {
  let h = 2166136261;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * Builds one VMFS5 or VMFS6 volume over one or more LUN dump files and returns its manifest.
 * Everything is written with positional writes into sparse files; data blocks hold at most a few
 * KiB of real bytes each, so multi-GiB volumes cost a few MiB of disk.
 */
export async function buildVmfs(opts: BuildOptions): Promise<Manifest> {
  const g = geometry(opts.version);
  const BS = g.blockSize;
  const notes: string[] = [];
  const totalSegments = opts.luns.reduce((s, l) => s + l.segments, 0);
  const volumeSize = totalSegments * SEGMENT;
  const totalBlocks = volumeSize / BS;
  const lv = vmfsUuid(opts.seed + 1);
  const fsUuid = vmfsUuid(opts.seed + 2);
  const timeUs = BigInt(TIME) * 1_000_000n;
  const hashLimit = opts.hashLimit ?? Infinity;
  const hasher = opts.hasher;
  const digest = (pieces: DataPiece[], size: number) => (size <= hashLimit ? sha256Of(pieces, size, hasher) : undefined);

  // --- LUN files, partition tables, LVM ----------------------------------------------------
  const extents: ExtentLayout[] = [];
  const luns: LunInfo[] = [];
  let firstSeg = 0;
  opts.luns.forEach((l, i) => {
    const partLength = DATA_OFFSET + l.segments * SEGMENT + extendedLvmBytes(l.segments, opts.extendedLvm ?? false);
    const partOffset = l.scheme === 'bare' ? 0 : l.extraPartition ? 9 * MiB : MiB;
    const size = partOffset + partLength + (l.scheme === 'gpt' ? MiB : 0);
    const file = opts.createLun(`${opts.name}.lun${i}.img`, size, i);
    if (l.scheme === 'gpt') {
      const parts = [];
      if (l.extraPartition) parts.push({ offset: MiB, length: 8 * MiB, typeGuid: LINUX_GPT_TYPE, name: 'linux' });
      parts.push({ offset: partOffset, length: partLength, typeGuid: VMFS_GPT_TYPE, name: 'vmfs' });
      writeGpt(file, parts, `c0ffee00-0000-4000-8000-${(opts.seed * 16 + i).toString(16).padStart(12, '0')}`, {
        corruptPrimary: l.corruptPrimaryGpt,
      });
    } else if (l.scheme === 'mbr') {
      writeMbr(file, [{ offset: partOffset, length: partLength, type: 0xfb }]);
    }
    extents.push({ file, partOffset, partLength, firstSegment: firstSeg, numSegments: l.segments, deviceUuid: vmfsUuid(opts.seed + 10 + i).bytes });
    luns.push({ path: file.name, scheme: l.scheme, size, partitionOffset: partOffset, partitionLength: partLength, firstSegment: firstSeg, numSegments: l.segments });
    firstSeg += l.segments;
  });
  const volId: VolumeIdentity = {
    lvUuid: lv.bytes, lvUuidText: lv.text, logicalSize: volumeSize, numExtents: extents.length, totalSegments, timeUs,
  };
  extents.forEach((e, i) => writeLvm(g, e, volId, i, opts.extendedLvm ?? false));
  const vol = new VolumeWriter(extents);
  const blocks = new BlockAllocator(totalBlocks);

  try {
    // --- resource files ---------------------------------------------------------------------
    const esxi = g.version === 6 && opts.layout === 'esxi';
    if (opts.layout === 'esxi' && g.version !== 6) throw new Error('builder: the ESXi layout is VMFS6 only');
    const lfbSlots = Math.ceil(totalBlocks / 512);
    // ESXi: the header at 0 counts LFB slots (16 per cluster, 16 clusters per group), each item
    // being one H-byte cluster header of the SFB child level.
    const fbbR = esxi ? 16 : g.version === 6 ? 512 : opts.fbbPerCluster ?? 256;
    const fbbC = g.version === 6 ? 16 : 32;
    const fbbTotal = esxi ? lfbSlots : totalBlocks;
    const fbbGroups = Math.ceil(fbbTotal / (fbbR * fbbC));
    const fdcR = g.version === 6 ? 16 : 32;
    const fdcC = g.version === 6 ? 16 : 32;
    const fdcGroups = opts.fdcGroups ?? 1;
    if (!Number.isInteger(fdcGroups) || fdcGroups < 1) throw new Error(`builder: fdcGroups ${fdcGroups}`);
    const res = {
      fbb: new Resource(g, '.fbb.sf', MAGIC.fbb, 1, fbbR, fbbC, esxi ? g.clusterHeader : 0, fbbGroups, fbbTotal),
      fdc: new Resource(g, '.fdc.sf', MAGIC.fdc, 2, fdcR, fdcC, g.fdSize, fdcGroups, fdcR * fdcC * fdcGroups),
      // VMFS6 keeps .pbc.sf empty (pointer blocks are sub-blocks). vmfs6-tools still sizes a PB from
      // .pbc.sf's resource size (S / 8 entries), so S = 64 KiB there; R must stay <= 16.
      pbc: g.version === 6
        ? new Resource(g, '.pbc.sf', MAGIC.pbc, 3, 16, 0, 65536, 0, 0)
        : new Resource(g, '.pbc.sf', MAGIC.pbc, 3, 16, 32, 4096, 1, 512),
      sbc: g.version === 6
        ? new Resource(g, '.sbc.sf', MAGIC.sbc, 4, 16, 16, 65536, 1, 256)
        : new Resource(g, '.sbc.sf', MAGIC.sbc, 4, 16, 32, 8192, 1, 512),
    };
    const extra: Resource[] = [];
    if (g.version === 6) {
      extra.push(new Resource(g, '.pb2.sf', MAGIC.pb2, 6, 16, 0, 65536, 0, 0));
      extra.push(new Resource(g, '.jbc.sf', MAGIC.jbc, 8, 16, 0, 65536, 0, 0));
    }
    if (esxi) {
      for (const r of [res.fbb, res.fdc, res.pbc, res.sbc, ...extra]) r.layout = 'esxi';
      // An LFB slot is free only when none of its SFBs is used (a converted slot counts as used).
      res.fbb.isUsed = (n) => {
        for (let b = n * 512; b < Math.min(totalBlocks, (n + 1) * 512); b++) if (blocks.isUsed(b)) return true;
        return false;
      };
      res.fbb.sfbChild = { perLfb: 512, clustersPerGroup: 16, totalBlocks, isBlockUsed: (b) => blocks.isUsed(b) };
    } else res.fbb.isUsed = (b) => blocks.isUsed(b);

    // Volume header blocks (.vh.sf: FS descriptor + heartbeats), then .fdc.sf at the FDC base.
    for (let b = 0; b < g.fdcBaseBlock; b++) blocks.mark(b);
    res.fdc.startBlock = blocks.allocRun(res.fdc.numBlocks);
    if (res.fdc.startBlock !== g.fdcBaseBlock) throw new Error('builder bug: .fdc.sf not at the FDC base');
    for (const r of [res.fbb, res.sbc, res.pbc, ...extra]) r.startBlock = blocks.allocRun(r.numBlocks);

    // --- FD records -------------------------------------------------------------------------
    let generation = 1;
    const fdAt = (item: number): number => fdAddr(Math.floor(item / fdcR), item % fdcR);
    const newFd = (item: number, type: ManifestType, parent: number): FdRecord => {
      if (item >= res.fdc.total) throw new Error(`builder: .fdc.sf holds ${res.fdc.total} FDs (raise fdcGroups)`);
      res.fdc.used.add(item);
      return {
        item, addr: fdAt(item), type, generation: generation++, size: 0, blockSize: BS, numBlocks: 0, zla: 1,
        mode: type === 'directory' ? 0o40755 : type === 'symlink' ? 0o120777 : 0o100600,
        slots: [], tbz: 0, numPB: 0, parent, blockOffsetShift: 20,
      };
    };
    const mkEntry = (p: string, type: ManifestType, fd: FdRecord): ManifestEntry => ({
      path: p, name: p === '/' ? '/' : baseName(p), type, size: 0, fdAddress: fd.addr, generation: fd.generation,
    });

    const rootFd = newFd(0, 'directory', fdAt(0));
    rootFd.mode = 0o1755;
    const root: Node = { path: '/', name: '/', type: 'directory', fd: rootFd, children: [], parent: null, entry: mkEntry('/', 'directory', rootFd) };
    root.parent = root;
    const nodes = new Map<string, Node>([['/', root]]);

    // System files in the root: FD resources 1.. (cluster 0), fixed hash indices in a VMFS6 root.
    const sysFiles: { r: Resource | null; name: string; fdRes: number; hashIdx: number }[] = [
      { r: res.fbb, name: '.fbb.sf', fdRes: 1, hashIdx: 0x3e66 },
      { r: res.fdc, name: '.fdc.sf', fdRes: 2, hashIdx: 0x3e67 },
      { r: res.pbc, name: '.pbc.sf', fdRes: 3, hashIdx: 0x3e68 },
      { r: res.sbc, name: '.sbc.sf', fdRes: 4, hashIdx: 0x3e69 },
      { r: null, name: '.vh.sf', fdRes: 5, hashIdx: 0x3e6a },
      ...extra.map((r) => ({ r, name: r.name, fdRes: r.fdResource, hashIdx: r.name === '.pb2.sf' ? 0x3e6b : 0x3e6d })),
    ];
    for (const s of sysFiles) {
      const fd = newFd(s.fdRes, 'system', rootFd.addr);
      const start = s.r ? s.r.startBlock : 0;
      const n = s.r ? s.r.numBlocks : g.fdcBaseBlock;
      fd.size = s.r ? s.r.numBlocks * BS : g.fdcBaseBlock * BS;
      fd.numBlocks = n;
      fd.mode = 0o400;
      for (let i = 0; i < n; i++) fd.slots.push(g.version === 6 ? sfb6(start + i) : fb5(start + i, false));
      const p = '/' + s.name;
      const node: Node = { path: p, name: s.name, type: 'system', fd, children: [], parent: root, fixedHash: s.hashIdx, entry: mkEntry(p, 'system', fd) };
      node.entry.size = fd.size;
      root.children.push(node);
      nodes.set(p, node);
    }

    // User FDs start in the next FDC cluster.
    let nextFdItem = fdcR;
    const ensureDir = (p: string): Node => {
      const got = nodes.get(p);
      if (got) {
        if (got.type !== 'directory') throw new Error(`builder: ${p} is not a directory`);
        return got;
      }
      const parent = ensureDir(dirName(p));
      const fd = newFd(nextFdItem++, 'directory', parent.fd.addr);
      const node: Node = { path: p, name: baseName(p), type: 'directory', fd, children: [], parent, entry: mkEntry(p, 'directory', fd) };
      parent.children.push(node);
      nodes.set(p, node);
      return node;
    };

    const sbItemAddr = (item: number): number | bigint =>
      g.version === 6 ? sb6(Math.floor(item / res.sbc.R), item % res.sbc.R) : sb5(Math.floor(item / res.sbc.R), item % res.sbc.R);

    // --- regular files ----------------------------------------------------------------------
    for (const spec of opts.files) {
      if (spec.kind === 'dir') {
        ensureDir(spec.path);
        continue;
      }
      if (nodes.has(spec.path)) throw new Error(`builder: duplicate ${spec.path}`);
      const parent = ensureDir(dirName(spec.path));
      const type: ManifestType = spec.kind === 'symlink' ? 'symlink' : spec.kind === 'rdm' ? 'rdm' : 'file';
      const fd = newFd(nextFdItem++, type, parent.fd.addr);
      const entry = mkEntry(spec.path, type, fd);
      const node: Node = { path: spec.path, name: entry.name, type, spec, fd, children: [], parent, entry };
      parent.children.push(node);
      nodes.set(spec.path, node);
      const seed = hashName(spec.path) ^ opts.seed;

      switch (spec.kind) {
        case 'resident':
        case 'symlink': {
          const bytes = spec.kind === 'symlink' ? new TextEncoder().encode(spec.target) : pattern(seed, spec.size);
          if (bytes.length > g.residentMax) throw new Error(`builder: ${spec.path} too big to be resident`);
          fd.size = bytes.length;
          fd.zla = ZLA_RESIDENT;
          fd.blockSize = 8192;
          fd.blockOffsetShift = 13;
          fd.resident = bytes;
          entry.addressing = 'resident';
          entry.pieces = spec.kind === 'symlink' ? undefined : [{ offset: 0, length: bytes.length, seed }];
          if (spec.kind === 'symlink') entry.symlinkTarget = spec.target;
          else entry.sha256 = sha256Of(entry.pieces!, bytes.length, hasher);
          break;
        }
        case 'subblock': {
          if (spec.size > g.subBlockSize) throw new Error(`builder: ${spec.path} does not fit one sub-block`);
          const item = res.sbc.allocItem();
          vol.write(res.sbc.itemVolOffset(item), pattern(seed, spec.size));
          fd.size = spec.size;
          fd.zla = 2;
          fd.blockSize = g.subBlockSize;
          fd.blockOffsetShift = Math.log2(g.subBlockSize);
          fd.numBlocks = 1;
          fd.slots = [sbItemAddr(item)];
          entry.addressing = 'sub-block';
          entry.pieces = [{ offset: 0, length: spec.size, seed }];
          entry.sha256 = sha256Of(entry.pieces, spec.size, hasher);
          break;
        }
        case 'rdm': {
          fd.size = spec.size;
          fd.zla = 1;
          const id = new Uint8Array(78);
          new Le(id).u8(0, 0).u8(1, 78).u16(2, 7).ascii(6, 'NETAPP  ', 8).ascii(14, 'LUN C-Mode      ', 16).ascii(30, '9300', 4)
            .ascii(34, 'naa.600a098038303053453f463045727a6e', 44);
          fd.rdmId = id;
          break;
        }
        case 'lfb': {
          if (g.version !== 6) throw new Error('builder: LFBs exist on VMFS6 only');
          const n = Math.ceil(spec.size / LFB);
          const pieces: DataPiece[] = [];
          const lfbs: number[] = [];
          for (let i = 0; i < n; i++) {
            const lfbN = blocks.allocLfb();
            lfbs.push(lfbN);
            fd.slots.push(lfb6(lfbN));
          }
          spec.data.forEach((d, k) => {
            const i = Math.floor(d.offset / LFB);
            if (Math.floor((d.offset + d.length - 1) / LFB) !== i) throw new Error('builder: LFB data piece crosses an LFB');
            const s = seed + 1000 + k;
            vol.write(lfbs[i]! * LFB + (d.offset % LFB), pattern(s, d.length));
            pieces.push({ offset: d.offset, length: d.length, seed: s });
          });
          fd.size = spec.size;
          fd.zla = 1;
          fd.blockSize = LFB;
          fd.blockOffsetShift = 29;
          fd.numBlocks = n;
          entry.addressing = 'lfb';
          entry.pieces = pieces;
          entry.sha256 = digest(pieces, spec.size);
          entry.allocatedBlocks = n * 512;
          break;
        }
        case 'blocks': {
          const nFileBlocks = Math.ceil(spec.size / BS);
          const map = new Map<number, number | bigint>();
          const pieces: DataPiece[] = [];
          const rawPieces: DataPiece[] = [];
          const dataBlocks: number[] = [];
          let tbz = 0;
          for (const b of [...spec.blocks].sort((x, y) => x.index - y.index)) {
            if (b.index >= nFileBlocks) throw new Error(`builder: ${spec.path} block ${b.index} past the end`);
            if (map.has(b.index)) throw new Error(`builder: ${spec.path} block ${b.index} twice`);
            const fsb = blocks.alloc(b.at);
            const isTbz = b.content === 'tbz';
            if (isTbz) tbz++;
            map.set(b.index, g.version === 6 ? sfb6(fsb, isTbz ? 0xff : 0) : fb5(fsb, isTbz));
            const len = Math.min(b.dataLength ?? 65536, BS, spec.size - b.index * BS);
            if (b.content === 'data') {
              const s = seed + b.index * 7 + 1;
              vol.write(fsb * BS, pattern(s, len));
              pieces.push({ offset: b.index * BS, length: len, seed: s });
              rawPieces.push({ offset: b.index * BS, length: len, seed: s });
              dataBlocks.push(fsb);
            } else if (isTbz && b.garbage) {
              const s = seed + b.index * 7 + 3;
              const glen = Math.min(4096, len);
              vol.write(fsb * BS, pattern(s, glen));
              rawPieces.push({ offset: b.index * BS, length: glen, seed: s });
            }
          }
          const mode = spec.addressing ?? (nFileBlocks > g.slotCount ? 'pointer' : 'direct');
          const slotAt = (i: number): number | bigint => map.get(i) ?? (g.version === 6 ? 0n : 0);
          const zero = g.version === 6 ? 0n : 0;
          if (mode === 'direct') {
            if (nFileBlocks > g.slotCount) throw new Error(`builder: ${spec.path} too big for direct addressing`);
            fd.slots = Array.from({ length: nFileBlocks }, (_, i) => slotAt(i));
            fd.zla = 1;
            entry.addressing = 'direct';
          } else {
            const N = g.pbEntries;
            const writePb = (entries: (number | bigint)[]): number | bigint => {
              const buf = new Uint8Array(g.pbSize);
              const w = new Le(buf);
              entries.forEach((e, k) => (g.version === 6 ? w.u64(k * 8, e) : w.u32(k * 4, Number(e))));
              fd.numPB++;
              if (g.version === 6) {
                const item = res.sbc.allocItem();
                vol.write(res.sbc.itemVolOffset(item), buf);
                return sbItemAddr(item);
              }
              const item = res.pbc.allocItem();
              vol.write(res.pbc.itemVolOffset(item), buf);
              return pb5(Math.floor(item / res.pbc.R), item % res.pbc.R);
            };
            const leaf = (k: number): (number | bigint) | null => {
              const entries = Array.from({ length: N }, (_, j) => (k * N + j < nFileBlocks ? slotAt(k * N + j) : zero));
              return entries.some((e) => e !== zero) ? writePb(entries) : null;
            };
            const nLeaves = Math.ceil(nFileBlocks / N);
            if (mode === 'pointer') {
              if (nLeaves > g.slotCount) throw new Error(`builder: ${spec.path} too big for single indirection`);
              fd.slots = Array.from({ length: nLeaves }, (_, k) => leaf(k) ?? zero);
              fd.zla = 3;
              entry.addressing = 'pointer-block';
            } else {
              // Double indirection: slot → top PB → leaf PB → block. Every leaf inside the file is
              // written, even an empty one: vmfs6-tools follows a zero leaf pointer into item 0.
              const tops = Math.ceil(nLeaves / N);
              for (let t = 0; t < tops; t++) {
                const leaves = Array.from({ length: N }, (_, j) => {
                  const k = t * N + j;
                  if (k >= nLeaves) return zero;
                  return leaf(k) ?? writePb(new Array(N).fill(zero));
                });
                fd.slots.push(writePb(leaves));
              }
              fd.zla = ZLA_DOUBLE;
              entry.addressing = 'double-indirect';
            }
          }
          fd.size = spec.size;
          fd.numBlocks = map.size;
          fd.tbz = tbz;
          entry.pieces = pieces;
          entry.sha256 = digest(pieces, spec.size);
          entry.tbzBlocks = tbz;
          entry.allocatedBlocks = map.size;
          entry.pointerBlocks = fd.numPB;
          entry.dataBlocks = dataBlocks;
          if (g.version === 6 && tbz > 0) entry.rawSha256 = digest(rawPieces, spec.size);
          break;
        }
      }
      entry.size = fd.size;
    }

    // --- directories --------------------------------------------------------------------------
    const dirNodes = [...nodes.values()].filter((n) => n.type === 'directory');
    for (const d of dirNodes) {
      const content = g.version === 6 ? dirContent6(d, d === root) : dirContent5(d);
      d.fd.size = content.length;
      d.entry.size = content.length;
      if (g.version === 5 && d !== root && content.length <= g.subBlockSize) {
        const item = res.sbc.allocItem();
        vol.write(res.sbc.itemVolOffset(item), content);
        d.fd.zla = 2;
        d.fd.blockSize = g.subBlockSize;
        d.fd.blockOffsetShift = 13;
        d.fd.numBlocks = 1;
        d.fd.slots = [sbItemAddr(item)];
      } else {
        const n = Math.ceil(content.length / BS);
        for (let i = 0; i < n; i++) {
          const b = blocks.alloc();
          vol.write(b * BS, content.subarray(i * BS, (i + 1) * BS));
          d.fd.slots.push(g.version === 6 ? sfb6(b) : fb5(b, false));
        }
        d.fd.zla = 1;
        d.fd.numBlocks = n;
      }
    }

    // --- write every FD -------------------------------------------------------------------------
    for (const n of nodes.values()) vol.write(res.fdc.itemVolOffset(n.fd.item), fdBytes(g, n.fd, res.fdc.itemVolOffset(n.fd.item)));

    // --- resource headers and bitmaps (after every allocation) ------------------------------
    for (const r of [res.fdc, res.fbb, res.sbc, res.pbc, ...extra]) {
      vol.write(r.volOffset(0), r.headerBytes());
      for (let grp = 0; grp < r.numGroups; grp++) vol.write(r.volOffset(CG_OFFSET + grp * r.groupSize), r.groupHeaders(grp));
    }
    if (res.fbb.sfbChild) {
      vol.write(res.fbb.volOffset(FBB_CHILD_META), res.fbb.childHeaderBytes());
      for (let n = 0; n < lfbSlots; n++) vol.write(res.fbb.itemVolOffset(n), res.fbb.childClusterHeader(n));
    }

    // --- FS descriptor and one (free) heartbeat slot -------------------------------------------
    const fsd = new Uint8Array(512);
    const f = new Le(fsd);
    f.u32(0x00, 0x2fabf15e).u32(0x04, g.fsMajor).u8(0x08, g.fsMinor).bytes(0x09, fsUuid.bytes).u32(0x19, 0);
    f.ascii(0x1d, opts.label, 128).u32(0x9d, 512).u64(0xa1, BS).u32(0xa9, TIME).u32(0xad, 0);
    f.bytes(0xb1, lv.bytes).u32(0xc1, 1);
    f.u32(0xd1, CG_OFFSET).u32(0xd5, fdcC).u32(0xd9, g.subBlockSize);
    f.u32(0x130, 512).u32(0x134, g.mdAlignment);
    if (g.version === 6) f.u16(0x138, 9).u32(0x144, BS);
    vol.write(0x200000, fsd);
    const hb = new Uint8Array(g.heartbeatSlot);
    new Le(hb).u32(0, 0xabcdef01).u64(4, 0x300000).u32(0x30, g.fsMajor).u8(0x34, g.fsMinor);
    vol.write(0x300000, hb);

    // --- manifest --------------------------------------------------------------------------------
    if (g.version === 6) {
      notes.push('debugvmfs6 ignores the VMFS6 TBZ mask (it tests bit 5): TBZ files are checked against rawSha256.');
      notes.push('debugvmfs6 stops reading an FD slot array at the first zero slot: VMFS6 direct files keep holes at the end only.');
      notes.push(esxi
        ? "ESXi layout: 'rcmd' cluster metadata (counts only) and a two-level .fbb.sf, as dissect.vmfs reads them; debugvmfs6 cannot read this layout's bitmaps."
        : 'VMFS6 cluster-header bitmaps follow vmfs6-tools (metadata +0x10); ESXi placement unconfirmed.');
    } else {
      notes.push('vmfs-tools reads ZLA 4304 as single indirection: VMFS5 double-indirect files follow dissect.vmfs (both levels in .pbc.sf), with no debugvmfs oracle.');
    }
    return {
      version: opts.version, label: opts.label, fsUuid: fsUuid.text, volumeUuid: lv.text, blockSize: BS,
      subBlockSize: g.subBlockSize, volumeSize, totalBlocks, luns, notes,
      entries: [...nodes.values()].map((n) => n.entry),
    };
  } finally {
    for (const e of extents) e.file.close();
  }

  // --- directory encoders (closures over g) --------------------------------------------------
  function dirContent5(d: Node): Uint8Array {
    const list: [string, Node][] = [['.', d], ['..', d.parent!], ...d.children.map((c): [string, Node] => [c.name, c])];
    const buf = new Uint8Array(list.length * 140);
    list.forEach(([name, n], i) => {
      const w = new Le(buf.subarray(i * 140, i * 140 + 140));
      w.u32(0, TYPE_CODE[n.type]).u32(4, n.fd.addr).u32(8, n.fd.generation).ascii(12, name, 127);
    });
    return buf;
  }

  /**
   * VMFS6 hashed directory (docs/format-notes.md "VMFS structures the reader cites"): 64 KiB header with '.', '..' and the hash table, then
   * directory block 0 = allocation map (4-bit entries, high nibble first), blocks 1.. = dirent
   * blocks of 14 × 0x120-byte slots. Names that collide in the hash table are refused (no link
   * groups are built).
   */
  function dirContent6(d: Node, isRoot: boolean): Uint8Array {
    const PER = 14;
    const nb = Math.max(1, Math.ceil(d.children.length / PER));
    const size = 0x10000 + 0x1000 * (1 + nb);
    const buf = new Uint8Array(size);
    const w = new Le(buf);
    w.u32(0, 0x00f50001).u32(4, d.children.length + 2).u32(8, d.children.length + 2).u32(0xc, 1).u32(0x10, 0);
    const dirent = (off: number, name: string, n: Node, hashIdx: number, linkHash: number) => {
      w.u32(off, TYPE_CODE[n.type]).u32(off + 4, n.fd.addr).u32(off + 8, n.fd.generation);
      w.u16(off + 0xc, hashIdx).u16(off + 0xe, linkHash).u64(off + 0x10, off).ascii(off + 0x18, name, 255);
    };
    dirent(0x3b8, '.', d, 0, 0);
    dirent(0x4d8, '..', d.parent!, 0, 0);
    const mod = isRoot ? ROOT_HASH_SLOTS : HASH_SLOTS;
    const table = new Map<number, string>();
    d.children.forEach((c, i) => {
      const block = 1 + Math.floor(i / PER);
      const slot = i % PER;
      const h = vmfs6NameHash(c.name);
      const idx = c.fixedHash ?? Number(h % BigInt(mod));
      if (table.has(idx)) throw new Error(`builder: hash collision between ${table.get(idx)} and ${c.name} in ${d.path}`);
      table.set(idx, c.name);
      const off = 0x10000 + block * 0x1000 + 0x40 + slot * 0x120;
      dirent(off, c.name, c, idx, Number((h >> 16n) & 0xffffn));
      w.u32(0x5f8 + idx * 4, (1 | (block << 2) | (slot << 24)) >>> 0);
    });
    // Allocation map block (dir block 0): type 3; nibble k = dir block k: 3 map, 1 dirents, 0xC free+unwritten.
    w.u16(0x10000, 1).u16(0x10002, 3).u16(0x10004, 0).u16(0x10006, 0);
    for (let k = 0; k < 2 * (4096 - 64); k++) {
      const nib = k === 0 ? 3 : k <= nb ? 1 : 0xc;
      buf[0x10040 + (k >> 1)]! |= k % 2 === 0 ? nib << 4 : nib;
    }
    for (let b = 1; b <= nb; b++) {
      const o = 0x10000 + b * 0x1000;
      const used = Math.max(0, Math.min(PER, d.children.length - (b - 1) * PER));
      w.u16(o, 1).u16(o + 2, 1).u16(o + 4, PER).u16(o + 6, PER - used);
      for (let s = used; s < PER; s++) buf[o + 8 + (s >> 3)]! |= 1 << (s & 7); // bit 1 = free slot
    }
    return buf;
  }
}

/** One FD: lock block, metadata, then resident data or the slot array. */
function fdBytes(g: Geometry, fd: FdRecord, volOffset: number): Uint8Array {
  const buf = new Uint8Array(g.fdSize);
  const w = new Le(buf);
  w.u32(0, 0x10c00001).u64(4, volOffset);
  const m = g.fdMeta;
  w.u32(m + 0x00, fd.addr).u32(m + 0x04, fd.generation).u32(m + 0x08, 1).u32(m + 0x0c, TYPE_CODE[fd.type]);
  w.u32(m + 0x10, 0).u64(m + 0x14, fd.size).u64(m + 0x1c, fd.blockSize).u64(m + 0x24, fd.numBlocks);
  w.u32(m + 0x2c, TIME).u32(m + 0x30, TIME).u32(m + 0x34, TIME).u32(m + 0x38, 0).u32(m + 0x3c, 0);
  w.u32(m + 0x40, fd.mode).u32(m + 0x44, fd.zla).u32(m + 0x48, fd.tbz).u32(m + 0x5c, fd.numPB);
  w.u32(m + 0x64, 0x66646d64).u32(m + 0x70, fd.parent).u8(m + 0x89, fd.blockOffsetShift);
  if (fd.resident) w.bytes(g.fdData, fd.resident);
  else if (fd.rdmId) w.bytes(g.fdData, fd.rdmId);
  else {
    if (fd.slots.length > g.slotCount) throw new Error('builder bug: too many slots');
    fd.slots.forEach((s, i) => (g.slotWidth === 8 ? w.u64(g.fdSlots + 8 * i, s) : w.u32(g.fdSlots + 4 * i, Number(s))));
  }
  return buf;
}
