import { CorruptError, MissingFileError } from '../errors.js';
import { checkRange, type ByteSource } from '../io/byte-source.js';
import { cString, defineStruct, hex, u32, u64 } from '../util/struct.js';
import { readInto, type ReadIntoSource } from '../io/read-into.js';
import { findRun } from '../util/runs.js';

/**
 * VMFS LVM: a device (LUN partition) carries a header at +1 MiB, a volume table and PE tables
 * that map ranges of the device onto one logical volume; a volume may span several devices.
 */
export const LVM_MAGIC = 0xc001d00d;
export const LVM_HEADER_OFFSET = 0x100000;

export const LVM_DEV_HEADER = defineStruct('LVM device header', 0xd6, {
  magic: [0x00, 'u32'],
  majorVersion: [0x04, 'u32'],
  minorVersion: [0x08, 'u32'],
  diskId: [0x0c, 'bytes', 78],
  diskBlockSize: [0x5a, 'u32'],
  totalBytes: [0x5e, 'u64'],
  numVolumes: [0x66, 'u32'],
  numPEs: [0x6a, 'u32'],
  lastPEIndex: [0x6e, 'u32'],
  generation: [0x72, 'u64'],
  dataOffset: [0x7a, 'u64'],
  deviceUuid: [0x82, 'uuid'],
  numPEMaps: [0xbe, 'u32'],
  extDevMetadataOffset: [0xc2, 'u64'],
  mdAlignment: [0xca, 'u32'],
  numPEs6: [0xce, 'u32'],
  flags: [0xd2, 'u32'],
});

/** Extended header (LVM5+ devices with more than 8 PE maps): same magic, chained by nextOffset. */
const LVM_EXT_HEADER = defineStruct('LVM extended device header', 0x18, {
  magic: [0x00, 'u32'],
  numPEMaps: [0x04, 'u32'],
  dataOffset: [0x08, 'u64'],
  nextOffset: [0x10, 'u64'],
});

export const LVM_VOL_DESC = defineStruct('LVM volume descriptor', 0x200, {
  logicalSize: [0x00, 'u64'],
  generation: [0x08, 'u64'],
  state: [0x10, 'u32'],
  name: [0x14, 'ascii', 64],
  lvUuid: [0x54, 'uuid'],
  snapId: [0x64, 'u32'],
  volumeId: [0x70, 'u32'],
  numPEs: [0x74, 'u32'],
  firstPE: [0x78, 'u64'],
  lastPE: [0x80, 'u64'],
  numDevs: [0x90, 'u32'],
});

export const LVM_PE_ENTRY = defineStruct('LVM PE entry', 0x80, {
  used: [0x00, 'u8'],
  peId: [0x01, 'u32'],
  volumeId: [0x05, 'u32'],
  pOffset: [0x09, 'u64'],
  lOffset: [0x11, 'u64'],
  length: [0x19, 'u64'],
  version: [0x21, 'u32'],
});

/** Field offsets of LVM_PE_ENTRY, for the per-entry fast path of readLvmDevice. */
const PE = {
  used: LVM_PE_ENTRY.fields.used[0],
  volumeId: LVM_PE_ENTRY.fields.volumeId[0],
  pOffset: LVM_PE_ENTRY.fields.pOffset[0],
  lOffset: LVM_PE_ENTRY.fields.lOffset[0],
  length: LVM_PE_ENTRY.fields.length[0],
};
// volumeId, pOffset, lOffset and length are adjacent words. A table is read 3 bytes into its
// buffer, so they are 4-aligned and one Uint32Array reads them all (no DataView, no u64 helper).
const TABLE_SHIFT = 3;
if (PE.pOffset !== PE.volumeId + 4 || PE.lOffset !== PE.pOffset + 8 || PE.length !== PE.lOffset + 8 || (TABLE_SHIFT + PE.volumeId) % 4) {
  throw new Error('LVM PE entry layout changed');
}
const W_P = (PE.pOffset - PE.volumeId) / 4;
const W_L = (PE.lOffset - PE.volumeId) / 4;
const W_LEN = (PE.length - PE.volumeId) / 4;
/** A high word below this keeps a u64 under 2^53: exact as a double. */
const SAFE_HI = 2 ** 21;
const PES_PER_MAP = 8192;
const PE_ENTRY_SIZE = 0x80;
const SD_TABLE_BYTES = 32 * 256;
/** Bounds on header counts: a 64 TiB volume of 256 MiB PEs has 262144 PEs. */
const MAX_PES = 1 << 20;
const MAX_PE_MAPS = 256;
const MAX_EXT_HEADERS = 64;
/** PE size of the fallback used when a device's PE table yields nothing (what vmfs-tools assumes). */
const FALLBACK_PE = 256 * 1024 * 1024;

/** A read fell into the part of the volume that a truncated dump lacks (not another LUN: the same dump cut short). */
export class TruncatedDumpError extends CorruptError {
  constructor(volume: string, offset: number, cut: DumpCut) {
    super(
      `${cut.dump} ends ${cut.missingBytes} bytes before the volume does (cut at offset ${hex(cut.cutAt)}): ${volume} offset ${hex(offset)} is past the cut; ` +
        `volume bytes 0x0..${hex(cut.volumeOffset)} of it are in the dump, so files stored there can still be read, and scan lists what can be recovered`,
    );
    this.name = 'TruncatedDumpError';
  }
}

/** Where a dump was cut short: its name, the dump file offset of the cut, and how many bytes of the device the volume still needs after it. */
export interface DumpCut {
  dump: string;
  cutAt: number;
  missingBytes: number;
  /** First volume offset past the cut. */
  volumeOffset: number;
}

/** A read fell into a part of the volume whose LUN dump was not supplied. */
export class VolumeHoleError extends MissingFileError {
  constructor(volume: string, offset: number, what: string) {
    super(what, `${volume}: volume offset ${hex(offset)} lies in ${what}, which was not supplied (add its dump with another --image)`);
    this.name = 'VolumeHoleError';
  }
}

export interface LvmVolumeDesc {
  lvUuid: string;
  snapId: number;
  logicalSize: number;
  name: string;
  volumeId: number;
  firstPE: number;
  lastPE: number;
  numDevs: number;
}

/** A used PE of the device's table, or a run of consecutive PEs that continue each other. */
export interface LvmPe {
  lOffset: number;
  pOffset: number;
  length: number;
  volumeId: number;
}

export interface LvmDevice {
  /** The partition (device) as a source; pOffsets are relative to it. */
  source: ByteSource;
  /** The dump file it is in and the partition's offset there (error messages name the dump); absent: the source is the dump. */
  dump?: { name: string; offset: number };
  major: number;
  minor: number;
  deviceUuid: string;
  totalBytes: number;
  dataOffset: number;
  numPEs: number;
  volumes: LvmVolumeDesc[];
  pes: LvmPe[];
  warnings: string[];
}

export async function hasLvmMagic(src: ByteSource, at = 0): Promise<boolean> {
  if (at + LVM_HEADER_OFFSET + 4 > src.size) return false;
  const b = await src.read(at + LVM_HEADER_OFFSET, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) === LVM_MAGIC;
}

/** Parses the LVM header, volume table and PE tables of one device (a partition source). */
export async function readLvmDevice(dev: ByteSource): Promise<LvmDevice> {
  const name = dev.name;
  if (dev.size < LVM_HEADER_OFFSET + 0x200) throw new CorruptError(`${name}: too small for an LVM header (${dev.size} bytes)`);
  const h = LVM_DEV_HEADER.parse(await dev.read(LVM_HEADER_OFFSET, 0x200));
  if (h.magic !== LVM_MAGIC) throw new CorruptError(`${name}: no LVM magic at 0x100000 (found ${hex(h.magic, 8)})`);
  if (h.majorVersion < 3 || h.majorVersion > 6) throw new CorruptError(`${name}: LVM major version ${h.majorVersion} is not 3 to 6`);
  const warnings: string[] = [];
  const lvm6 = h.majorVersion >= 6;
  const md = lvm6 ? h.mdAlignment : 512;
  if (lvm6 && (md < 512 || md > 1 << 20 || (md & (md - 1)) !== 0)) throw new CorruptError(`${name}: LVM6 mdAlignment ${md} is not a power of two in [512, 1 MiB]`);
  const maxVols = lvm6 ? 1 : 512;
  if (h.numVolumes === 0 || h.numVolumes > maxVols) throw new CorruptError(`${name}: LVM numVolumes ${h.numVolumes} (expected 1 to ${maxVols})`);
  let numPEs = h.numPEs;
  if (lvm6 && numPEs === 0) numPEs = h.numPEs6;
  if (numPEs > MAX_PES) throw new CorruptError(`${name}: LVM numPEs ${numPEs} is implausible`);
  if (h.dataOffset > dev.size && h.dataOffset > h.totalBytes) throw new CorruptError(`${name}: LVM dataOffset ${hex(h.dataOffset)} is past the device end`);

  // Volume table right after the device metadata.
  const vtAt = LVM_HEADER_OFFSET + md;
  const vt = await dev.read(vtAt, h.numVolumes * 0x200);
  const volumes: LvmVolumeDesc[] = [];
  for (let i = 0; i < h.numVolumes; i++) {
    const v = LVM_VOL_DESC.parse(vt, i * 0x200);
    if (v.logicalSize === 0) continue;
    volumes.push({
      lvUuid: v.lvUuid,
      snapId: v.snapId,
      logicalSize: v.logicalSize,
      name: v.name,
      volumeId: v.volumeId,
      firstPE: v.firstPE,
      lastPE: v.lastPE,
      numDevs: v.numDevs || 1,
    });
  }
  if (volumes.length === 0) throw new CorruptError(`${name}: LVM volume table holds no volume`);

  // PE bitmap/table pairs: offsets from the rules of the header layout (see docs/format-notes.md "VMFS structures the reader cites").
  const unused = (1024 - maxVols) * 512;
  const reserved = unused - SD_TABLE_BYTES;
  const bitmapRel = md + maxVols * 0x200 + reserved + SD_TABLE_BYTES;
  const bitmapSize = lvm6 ? Math.max(md, 1024) : 1024;
  const pairSize = bitmapSize + PES_PER_MAP * PE_ENTRY_SIZE;

  const regions: { base: number; maps: number }[] = [{ base: LVM_HEADER_OFFSET, maps: h.numPEMaps || 1 }];
  let next = h.extDevMetadataOffset;
  while (next !== 0) {
    if (regions.length > MAX_EXT_HEADERS) throw new CorruptError(`${name}: more than ${MAX_EXT_HEADERS} extended LVM headers`);
    if (next + LVM_EXT_HEADER.size > dev.size) {
      warnings.push(`${name}: extended LVM header at ${hex(next)} is past the end of the dump`);
      break;
    }
    const e = LVM_EXT_HEADER.parse(await dev.read(next, LVM_EXT_HEADER.size));
    if (e.magic !== LVM_MAGIC) throw new CorruptError(`${name}: extended LVM header at ${hex(next)} has magic ${hex(e.magic, 8)}`);
    regions.push({ base: next, maps: e.numPEMaps });
    if (e.nextOffset !== 0 && e.nextOffset <= next) throw new CorruptError(`${name}: extended LVM header chain loops at ${hex(next)}`);
    next = e.nextOffset;
  }

  const scan = newPeScan(name);
  let seen = 0;
  let words: Uint32Array | undefined;
  outer: for (const r of regions) {
    if (r.maps > MAX_PE_MAPS) throw new CorruptError(`${name}: ${r.maps} PE maps in the LVM header at ${hex(r.base)}`);
    for (let m = 0; m < r.maps && seen < numPEs; m++) {
      const tableAt = r.base + bitmapRel + m * pairSize + bitmapSize;
      const n = Math.min(numPEs - seen, PES_PER_MAP);
      if (tableAt + n * PE_ENTRY_SIZE > dev.size) {
        warnings.push(`${name}: PE table at ${hex(tableAt)} is past the end of the dump`);
        break outer;
      }
      // One buffer for every table (a 64 TiB device has 32 of 1 MiB): no fresh array, no GC per map.
      words ??= new Uint32Array(Math.ceil((TABLE_SHIFT + PES_PER_MAP * PE_ENTRY_SIZE) / 4));
      const t = new Uint8Array(words.buffer, TABLE_SHIFT, n * PE_ENTRY_SIZE);
      await readInto(dev, tableAt, t);
      // An empty call first: the exit path then has type feedback when V8 optimizes the loop
      // mid-table, instead of bailing out at the end of every table.
      if (seen === 0) scanPeTable(words, t, 0, scan);
      scanPeTable(words, t, n, scan);
      seen += n;
    }
  }
  closeRun(scan);
  const pes = scan.pes;
  return {
    source: dev,
    major: h.majorVersion,
    minor: h.minorVersion,
    deviceUuid: h.deviceUuid,
    totalBytes: h.totalBytes,
    dataOffset: h.dataOffset,
    numPEs,
    volumes,
    pes,
    warnings,
  };
}

/**
 * The PE runs found so far and the state of the run being extended, numbers only (a typed array:
 * no object shape for V8 to migrate mid-loop): the index in `pes` of its first PE (-1: none), its
 * last PE's length, how many more PEs of that length followed, and the volumeId, pOffset and
 * lOffset that the next PE has if it continues the run.
 */
interface PeScan {
  name: string;
  pes: LvmPe[];
  st: Float64Array;
}
const S_RUN = 0;
const S_LEN = 1;
const S_MORE = 2;
const S_VOL = 3;
const S_P = 4;
const S_L = 5;

function newPeScan(name: string): PeScan {
  const st = new Float64Array(6);
  st[S_RUN] = -1;
  return { name, pes: [], st };
}

/**
 * Folds the used entries of one PE table into runs. The usual layout, where each PE continues the
 * previous one, costs a few word loads and compares per entry (a 64 TiB device has 262144): a
 * synchronous loop over typed arrays that V8 optimizes early, no u64 parse, no boxed number kept.
 */
function scanPeTable(w: Uint32Array, t: Uint8Array, n: number, s: PeScan): void {
  const st = s.st;
  let run = st[S_RUN]!;
  let len = st[S_LEN]!;
  let more = st[S_MORE]!;
  let vol = st[S_VOL]!;
  let p = st[S_P]!;
  let l = st[S_L]!;
  for (let i = 0; i < n; i++) {
    const at = i * PE_ENTRY_SIZE;
    if (t[at + PE.used] !== 1) continue;
    const k = (TABLE_SHIFT + at + PE.volumeId) >>> 2;
    const pHi = w[k + W_P + 1]!;
    const lHi = w[k + W_L + 1]!;
    const nHi = w[k + W_LEN + 1]!;
    if (run >= 0 && w[k] === vol && pHi < SAFE_HI && lHi < SAFE_HI && nHi < SAFE_HI &&
        pHi * 2 ** 32 + w[k + W_P]! === p && lHi * 2 ** 32 + w[k + W_L]! === l && nHi * 2 ** 32 + w[k + W_LEN]! === len) {
      more++;
      p += len;
      l += len;
      continue;
    }
    st[S_RUN] = run;
    st[S_MORE] = more;
    startRun(s, t, at);
    run = st[S_RUN]!;
    len = st[S_LEN]!;
    more = st[S_MORE]!;
    vol = st[S_VOL]!;
    p = st[S_P]!;
    l = st[S_L]!;
  }
  st[S_RUN] = run;
  st[S_LEN] = len;
  st[S_MORE] = more;
  st[S_VOL] = vol;
  st[S_P] = p;
  st[S_L] = l;
}

/** Ends the run being extended and starts one at the entry at `at` of table `t` (none if its length is 0). */
function startRun(s: PeScan, t: Uint8Array, at: number): void {
  closeRun(s);
  const length = u64(t, at + PE.length);
  if (length === 0) return;
  const lOffset = u64(t, at + PE.lOffset);
  const pOffset = u64(t, at + PE.pOffset);
  const volumeId = u32(t, at + PE.volumeId);
  // Consecutive PEs that continue each other (PEs of unequal length too) become one run.
  const pes = s.pes;
  const last = pes[pes.length - 1];
  const merge = last && last.volumeId === volumeId && last.lOffset + last.length === lOffset && last.pOffset + last.length === pOffset;
  if (merge && Number.isSafeInteger(last.lOffset + last.length + length)) last.length += length;
  else pes.push({ lOffset, pOffset, length, volumeId });
  const st = s.st;
  st[S_RUN] = pes.length - 1;
  st[S_LEN] = length;
  st[S_MORE] = 0;
  st[S_VOL] = volumeId;
  st[S_P] = pOffset + length;
  st[S_L] = lOffset + length;
}

/** Ends the run being extended: its first PE grows by the PEs that continued it. */
function closeRun(s: PeScan): void {
  const st = s.st;
  if (st[S_RUN]! < 0) return;
  const run = s.pes[st[S_RUN]!]!;
  const total = run.length + st[S_LEN]! * st[S_MORE]!;
  if (!Number.isSafeInteger(run.lOffset + total) || !Number.isSafeInteger(run.pOffset + total)) {
    throw new CorruptError(`${s.name}: LVM PE run at volume offset ${hex(run.lOffset)} ends past 2^53`);
  }
  run.length = total;
  st[S_RUN] = -1;
}

/** One contiguous run of the logical volume: on a device, or a hole (device not supplied). */
export interface VolumeRun {
  offset: number;
  length: number;
  device: LvmDevice | null;
  deviceOffset: number;
  /** For holes: what is missing, for the error message. */
  missing?: string;
  /** For the hole past the end of a truncated dump: where it was cut. */
  cut?: DumpCut;
}

export interface LogicalVolume {
  lvUuid: string;
  snapId: number;
  name: string;
  size: number;
  devices: LvmDevice[];
  /** The volume descriptor of each device, same order as devices. */
  descs: LvmVolumeDesc[];
  runs: VolumeRun[];
  holes: { offset: number; length: number }[];
  warnings: string[];
  source: ByteSource;
}

/**
 * Groups devices by volume identity (LV UUID, snapID) and builds each volume's address space
 * from the PE tables. Devices may come in any order; a missing device becomes a hole.
 */
export function assembleVolumes(devices: readonly LvmDevice[]): LogicalVolume[] {
  const groups = new Map<string, { dev: LvmDevice; desc: LvmVolumeDesc }[]>();
  for (const dev of devices) {
    for (const desc of dev.volumes) {
      const key = `${desc.lvUuid}/${desc.snapId}`;
      const g = groups.get(key) ?? [];
      // The same dump given twice (or two copies of one LUN): keep one.
      if (!g.some((x) => x.dev.deviceUuid === dev.deviceUuid && x.desc.firstPE === desc.firstPE)) g.push({ dev, desc });
      groups.set(key, g);
    }
  }
  const out: LogicalVolume[] = [];
  for (const g of groups.values()) out.push(buildVolume(g));
  return out;
}

function buildVolume(members: { dev: LvmDevice; desc: LvmVolumeDesc }[]): LogicalVolume {
  members.sort((a, b) => a.desc.firstPE - b.desc.firstPE);
  const first = members[0]!;
  const zero = members.find((m) => m.desc.firstPE === 0) ?? first;
  const size = zero.desc.logicalSize;
  const label = `volume ${zero.desc.lvUuid}`;
  const warnings: string[] = [];
  const numDevs = zero.desc.numDevs;
  if (members.length < numDevs) warnings.push(`${label}: ${members.length} of ${numDevs} devices supplied; the missing extents are holes`);
  if (!members.some((m) => m.desc.firstPE === 0)) warnings.push(`${label}: the first device (firstPE 0) is missing`);

  const pieces: VolumeRun[] = [];
  for (const { dev, desc } of members) {
    let mine = dev.pes.filter((p) => p.volumeId === desc.volumeId);
    if (mine.length === 0) {
      // Fallback when the PE table says nothing: vmfs-tools' rule of 256 MiB segments from dataOffset.
      warnings.push(`${dev.source.name}: no used PE for volume ${desc.volumeId}; assuming 256 MiB PEs from dataOffset ${hex(dev.dataOffset)}`);
      mine = [];
      for (let pe = desc.firstPE; pe <= desc.lastPE && mine.length < MAX_PES; pe++) {
        mine.push({ lOffset: pe * FALLBACK_PE, pOffset: dev.dataOffset + (pe - desc.firstPE) * FALLBACK_PE, length: FALLBACK_PE, volumeId: desc.volumeId });
      }
    }
    // A truncated dump: the part of a PE past its end is a hole, not an out-of-range read. The
    // cut is described once per device: how far the volume reaches past it, and where it is.
    let needEnd = 0;
    let cutVolume = size;
    for (const pe of mine) {
      if (pe.lOffset >= size) continue;
      const end = pe.pOffset + Math.min(pe.length, size - pe.lOffset);
      needEnd = Math.max(needEnd, end);
      if (end > dev.source.size) cutVolume = Math.min(cutVolume, pe.lOffset + Math.max(0, dev.source.size - pe.pOffset));
    }
    const cut: DumpCut = { dump: dev.dump?.name ?? dev.source.name, cutAt: (dev.dump?.offset ?? 0) + dev.source.size, missingBytes: needEnd - dev.source.size, volumeOffset: cutVolume };
    for (const pe of mine) {
      if (pe.lOffset >= size) continue;
      const len = Math.min(pe.length, size - pe.lOffset);
      const avail = Math.max(0, Math.min(len, dev.source.size - pe.pOffset));
      if (avail > 0) pieces.push({ offset: pe.lOffset, length: avail, device: dev, deviceOffset: pe.pOffset });
      if (avail < len) {
        warnings.push(`${dev.source.name}: PE at volume ${hex(pe.lOffset)} reaches past the end of the dump (truncated)`);
        pieces.push({ offset: pe.lOffset + avail, length: len - avail, device: null, deviceOffset: 0, missing: `the truncated end of ${dev.source.name}`, cut });
      }
    }
  }
  pieces.sort((a, b) => a.offset - b.offset);
  const runs: VolumeRun[] = [];
  const holes: { offset: number; length: number }[] = [];
  let pos = 0;
  const addHole = (offset: number, length: number, missing: string, cut?: DumpCut) => {
    runs.push({ offset, length, device: null, deviceOffset: 0, missing, ...(cut ? { cut } : {}) });
    holes.push({ offset, length });
  };
  for (const p of pieces) {
    if (p.offset < pos) {
      // Overlap: keep the first mapping, trim the rest.
      const cut = pos - p.offset;
      if (cut >= p.length) {
        warnings.push(`${label}: PE at ${hex(p.offset)} overlaps an earlier one; ignored`);
        continue;
      }
      p.offset += cut;
      p.length -= cut;
      p.deviceOffset += cut;
    }
    if (p.offset > pos) addHole(pos, p.offset - pos, 'an extent of the volume');
    if (!p.device) {
      addHole(p.offset, p.length, p.missing ?? 'a missing extent', p.cut);
    } else {
      const last = runs[runs.length - 1];
      if (last && last.device === p.device && last.deviceOffset + last.length === p.deviceOffset && last.offset + last.length === p.offset) last.length += p.length;
      else runs.push({ ...p });
    }
    pos = p.offset + p.length;
  }
  if (pos < size) addHole(pos, size - pos, 'an extent of the volume');
  const vol: LogicalVolume = {
    lvUuid: zero.desc.lvUuid,
    snapId: zero.desc.snapId,
    name: zero.desc.name,
    size,
    devices: members.map((m) => m.dev),
    descs: members.map((m) => m.desc),
    runs,
    holes,
    warnings,
    source: null as unknown as ByteSource,
  };
  vol.source = new VolumeSource(runs, size, `VMFS volume ${zero.desc.lvUuid}`);
  return vol;
}

/** A volume made of runs over devices; a read touching a hole throws VolumeHoleError. */
export class VolumeSource implements ReadIntoSource {
  private readonly starts: number[];
  constructor(
    readonly runs: readonly VolumeRun[],
    readonly size: number,
    readonly name: string,
  ) {
    this.starts = runs.map((r) => r.offset);
  }

  private find(offset: number): number {
    return findRun(this.starts, offset);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    const r0 = this.runs[this.find(offset)]!;
    if (offset + length <= r0.offset + r0.length) {
      if (!r0.device) throw holeError(this.name, offset, r0);
      return r0.device.source.read(r0.deviceOffset + (offset - r0.offset), length);
    }
    // Across runs (PE or device boundaries): one buffer, each piece read straight into it.
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  /** Fills `dest` run by run, each piece straight from its device (no intermediate buffer). */
  async readInto(offset: number, dest: Uint8Array): Promise<void> {
    checkRange(this, offset, dest.length);
    let i = this.find(offset);
    let pos = offset;
    const end = offset + dest.length;
    while (pos < end) {
      const r = this.runs[i++]!;
      if (!r.device) throw holeError(this.name, pos, r);
      const n = Math.min(r.offset + r.length, end) - pos;
      await readInto(r.device.source, r.deviceOffset + (pos - r.offset), dest.subarray(pos - offset, pos - offset + n));
      pos += n;
    }
  }
}

/** The error for a read at `offset` inside hole run `r`: the dump was cut short, or another LUN's dump is missing. */
function holeError(volume: string, offset: number, r: VolumeRun): CorruptError | VolumeHoleError {
  return r.cut ? new TruncatedDumpError(volume, offset, r.cut) : new VolumeHoleError(volume, offset, r.missing ?? 'a missing extent');
}

export function describeDiskId(b: Uint8Array): { lun: number; vendor: string; model: string; revision: string; id: string } {
  return {
    lun: b[2]! | (b[3]! << 8),
    vendor: cString(b.subarray(6, 14)).trim(),
    model: cString(b.subarray(14, 30)).trim(),
    revision: cString(b.subarray(30, 34)).trim(),
    id: cString(b.subarray(34, 78)),
  };
}
