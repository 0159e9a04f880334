import { CorruptError, UnsupportedError, UserError } from '../../errors.js';
import { CachedSource, ExtentSource, MemorySource, type ByteSource, type SourceRun } from '../../io/byte-source.js';
import type { GuestEntry, GuestFs } from '../types.js';
import { parseBoot, type NtfsGeometry } from './boot.js';
import { applyFixup } from './fixup.js';
import { FN_DIRECTORY, INDEX_ROOT, MAX_DIR_ENTRIES, childNames, parseIndexNode, type IndexEntry } from './index-entries.js';
import {
  AT,
  ATTR_COMPRESSED,
  ATTR_ENCRYPTED,
  RECORD_IN_USE,
  RECORD_IS_DIRECTORY,
  ntfsTime,
  parseRecord,
  refRecord,
  utf16,
  type Attribute,
  type MftRecord,
} from './record.js';
import { decodeRuns, type DataRun } from './runlist.js';
import { u16, u32 } from '../../util/struct.js';

const ROOT = 5;
const VOLUME = 3;
/** Largest resident-or-not metadata value we read into memory ($ATTRIBUTE_LIST, $BITMAP of an index). */
const MAX_META = 16 * 1024 * 1024;
/** Extension records one file may use through $ATTRIBUTE_LIST. */
const MAX_EXTENSIONS = 4096;
const MAX_PATH_DEPTH = 256;
/** INDX blocks per directory (4 GiB of 4 KiB blocks): bounds the walk over a corrupt allocation. */
const MAX_INDEX_BLOCKS = 1 << 20;

/** A bounded LRU map (records, directory listings). */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
}

/** A read-only NTFS volume: MFT records through $MFT's own runlist, directories through $I30 indexes. */
export class NtfsVolume implements GuestFs {
  readonly kind = 'ntfs';
  label?: string;
  private mft!: ByteSource;
  private recordCount = 0;
  private readonly records = new Lru<number, Promise<MftRecord>>(1024);
  private readonly dirs = new Lru<number, Promise<IndexEntry[]>>(32);

  private constructor(
    private readonly vol: ByteSource,
    readonly geo: NtfsGeometry,
  ) {}

  static async open(src: ByteSource): Promise<NtfsVolume> {
    if (src.size < 512) throw new CorruptError(`${src.name}: too small for NTFS (${src.size} bytes)`);
    const geo = parseBoot(await src.read(0, 512), src.name, src.size);
    const v = new NtfsVolume(new CachedSource(src), geo);
    await v.loadMft();
    try {
      const vr = await v.record(VOLUME);
      const name = vr.attributes.find((a) => a.type === AT.VOLUME_NAME && a.value);
      if (name?.value) v.label = utf16(name.value, 0, name.value.length >> 1);
    } catch {
      // A damaged $Volume only costs the label.
    }
    return v;
  }

  private get name(): string {
    return this.vol.name;
  }

  /** $MFT locates itself: record 0 at the boot sector's MFT cluster holds the runlist of the whole MFT. */
  private async loadMft(): Promise<void> {
    const { mftLcn, clusterSize, mftRecordSize } = this.geo;
    const at = mftLcn * clusterSize;
    if (at + mftRecordSize > this.vol.size) throw new CorruptError(`${this.name}: NTFS MFT at 0x${at.toString(16)} is past the end of the volume`);
    const rec0 = parseRecord(await this.vol.read(at, mftRecordSize), 0, `${this.name}: $MFT record 0`);
    const first = rec0.attributes.filter((a) => a.type === AT.DATA && a.name === '' && a.nonResident);
    if (first.length === 0) throw new CorruptError(`${this.name}: $MFT has no non-resident $DATA`);
    // Bootstrap with the extents in record 0; extension records of a fragmented $MFT lie in them.
    this.mft = this.dataSource(first, '$MFT', true);
    this.recordCount = Math.floor(this.mft.size / mftRecordSize);
    if (rec0.attributes.some((a) => a.type === AT.ATTRIBUTE_LIST)) {
      this.records.set(0, Promise.resolve(rec0));
      this.mft = this.dataSource(await this.attrs(rec0, AT.DATA, ''), '$MFT');
      this.recordCount = Math.floor(this.mft.size / mftRecordSize);
    }
    if (this.recordCount <= ROOT) throw new CorruptError(`${this.name}: $MFT holds only ${this.recordCount} records`);
  }

  /** MFT record `n`, fixed up and parsed (cached). */
  record(n: number): Promise<MftRecord> {
    if (!Number.isSafeInteger(n) || n < 0 || n >= this.recordCount) {
      return Promise.reject(new CorruptError(`${this.name}: MFT record ${n} is outside the MFT (${this.recordCount} records)`));
    }
    let p = this.records.get(n);
    if (!p) {
      const size = this.geo.mftRecordSize;
      p = this.mft.read(n * size, size).then((raw) => parseRecord(raw, n, `${this.name}: MFT record ${n}`));
      this.records.set(n, p);
    }
    return p;
  }

  /**
   * All extents of attribute (type, name) of a file, base record first, following $ATTRIBUTE_LIST
   * into extension records; sorted by starting VCN.
   */
  async attrs(base: MftRecord, type: number, name: string): Promise<Attribute[]> {
    const match = (a: Attribute) => a.type === type && a.name === name;
    const list = base.attributes.find((a) => a.type === AT.ATTRIBUTE_LIST);
    if (!list) return base.attributes.filter(match);
    const lb = await this.readValue([list], `record ${base.number} $ATTRIBUTE_LIST`);
    const exts = new Set<number>();
    let off = 0;
    while (off + 0x1a <= lb.length) {
      const t = u32(lb, off);
      const len = u16(lb, off + 4);
      if (len < 0x1a || off + len > lb.length) throw new CorruptError(`${this.name}: record ${base.number} $ATTRIBUTE_LIST entry at ${off} has bad length ${len}`);
      const nl = lb[off + 6]!;
      const no = lb[off + 7]!;
      if (no + nl * 2 > len) throw new CorruptError(`${this.name}: record ${base.number} $ATTRIBUTE_LIST entry name is out of range`);
      const rec = refRecord(lb, off + 0x10);
      if (t === type && utf16(lb, off + no, nl) === name && rec !== base.number) {
        exts.add(rec);
        if (exts.size > MAX_EXTENSIONS) throw new CorruptError(`${this.name}: record ${base.number} uses more than ${MAX_EXTENSIONS} extension records`);
      }
      off += len;
    }
    const out = base.attributes.filter(match);
    for (const e of exts) {
      const r = await this.record(e);
      if (r.baseRecord !== base.number) throw new CorruptError(`${this.name}: MFT record ${e} is not an extension of record ${base.number}`);
      out.push(...r.attributes.filter(match));
    }
    return out.sort((a, b) => (a.nonResident?.lowestVcn ?? 0) - (b.nonResident?.lowestVcn ?? 0));
  }

  /**
   * Content of an attribute as a positional source: resident bytes, or clusters through its
   * runlist (holes and the uninitialized tail read as zeros). `partial` accepts extents that cover
   * only the start (bootstrapping a fragmented $MFT) and ends the source there.
   */
  dataSource(extents: Attribute[], what: string, partial = false): ByteSource {
    const label = `${this.name}: ${what}`;
    const first = extents[0];
    if (!first) throw new CorruptError(`${label}: attribute is missing`);
    if (first.flags & ATTR_COMPRESSED) throw new UnsupportedError(`${label}: NTFS-compressed data is not supported (flags 0x${first.flags.toString(16)})`);
    if (first.flags & ATTR_ENCRYPTED) throw new UnsupportedError(`${label}: EFS-encrypted data cannot be read`);
    if (first.value) return new MemorySource(first.value.slice(), label);
    const nr = first.nonResident!;
    if (nr.lowestVcn !== 0) throw new CorruptError(`${label}: first extent starts at VCN ${nr.lowestVcn}`);
    const cs = this.geo.clusterSize;
    const runs: DataRun[] = [];
    for (const e of extents) {
      if (!e.nonResident) throw new CorruptError(`${label}: resident and non-resident extents mixed`);
      const next = runs.length ? runs[runs.length - 1]!.vcn + runs[runs.length - 1]!.length : 0;
      if (e.nonResident.lowestVcn !== next) throw new CorruptError(`${label}: extent starts at VCN ${e.nonResident.lowestVcn}, expected ${next}`);
      decodeRuns(e.nonResident.runs, next, this.geo.totalClusters, label, runs);
    }
    const size = nr.dataSize;
    const valid = Math.min(nr.initializedSize, size);
    const pieces: SourceRun[] = [];
    let pos = 0;
    const push = (length: number, sourceOffset: number | null) => {
      const last = pieces[pieces.length - 1];
      if (sourceOffset === null && last && last.source === null) last.length += length;
      else pieces.push({ offset: pos, length, source: sourceOffset === null ? null : this.vol, sourceOffset: sourceOffset ?? 0 });
      pos += length;
    };
    for (const r of runs) {
      if (pos >= valid) break;
      const n = Math.min(r.length * cs, valid - pos);
      push(n, r.lcn === null ? null : r.lcn * cs);
    }
    if (pos < valid) {
      if (partial && pos > 0) return new ExtentSource(pieces, pos, label);
      throw new CorruptError(`${label}: runlist covers ${pos} bytes, data has ${valid}`);
    }
    if (pos < size) push(size - pos, null);
    return new ExtentSource(pieces, size, label);
  }

  private async readValue(extents: Attribute[], what: string): Promise<Uint8Array> {
    const src = this.dataSource(extents, what);
    if (src.size > MAX_META) throw new CorruptError(`${this.name}: ${what} is ${src.size} bytes, more than ${MAX_META}`);
    return src.read(0, src.size);
  }

  /** Raw entries of directory record `n`: $INDEX_ROOT, then every in-use INDX block of $INDEX_ALLOCATION. */
  private dirEntries(n: number): Promise<IndexEntry[]> {
    let p = this.dirs.get(n);
    if (!p) {
      p = this.loadDir(n);
      this.dirs.set(n, p);
    }
    return p;
  }

  private async loadDir(n: number): Promise<IndexEntry[]> {
    const rec = await this.record(n);
    const what = `${this.name}: directory record ${n}`;
    const rootAttr = (await this.attrs(rec, AT.INDEX_ROOT, '$I30'))[0];
    if (!rootAttr?.value) throw new UserError(`${what} is not a directory`);
    const root = INDEX_ROOT.parse(rootAttr.value);
    if (root.indexedType !== AT.FILE_NAME) throw new UnsupportedError(`${what}: $I30 indexes attribute 0x${root.indexedType.toString(16)}`);
    const out: IndexEntry[] = [];
    parseIndexNode(rootAttr.value, 0x10, `${what} $INDEX_ROOT`, out);
    const alloc = await this.attrs(rec, AT.INDEX_ALLOCATION, '$I30');
    if (alloc.length === 0) return out;
    const irs = root.indexRecordSize;
    if (irs < 256 || irs > 65536 || (irs & (irs - 1)) !== 0) throw new CorruptError(`${what}: index record size ${irs} is invalid`);
    const src = this.dataSource(alloc, `directory record ${n} $INDEX_ALLOCATION`);
    const bmAttrs = await this.attrs(rec, AT.BITMAP, '$I30');
    // Blocks not marked in the bitmap are free and may hold stale entries of deleted files.
    const bitmap = bmAttrs.length ? await this.readValue(bmAttrs, `directory record ${n} $BITMAP`) : null;
    const blocks = Math.min(Math.floor(src.size / irs), bitmap ? bitmap.length * 8 : Infinity);
    if (blocks > MAX_INDEX_BLOCKS) throw new CorruptError(`${what}: $INDEX_ALLOCATION has ${blocks} blocks, more than ${MAX_INDEX_BLOCKS}`);
    for (let i = 0; i < blocks; i++) {
      if (bitmap && !((bitmap[i >> 3] ?? 0) & (1 << (i & 7)))) continue;
      const b = applyFixup(await src.read(i * irs, irs), 'INDX', `${what} INDX block ${i}`);
      parseIndexNode(b, 0x18, `${what} INDX block ${i}`, out);
      if (out.length > MAX_DIR_ENTRIES) throw new CorruptError(`${what}: more than ${MAX_DIR_ENTRIES} entries`);
    }
    return out;
  }

  /** Child names of a directory (see childNames). */
  private async children(n: number): Promise<IndexEntry[]> {
    return childNames(await this.dirEntries(n), n);
  }

  /** Entry for record `n` under `name`, from the record itself; the index copy when the record is unreadable. */
  private async entry(n: number, name: string, fallback?: IndexEntry): Promise<GuestEntry> {
    try {
      const rec = await this.record(n);
      if (!(rec.flags & RECORD_IN_USE)) throw new CorruptError(`${this.name}: MFT record ${n} is not in use`);
      const si = rec.attributes.find((a) => a.type === AT.STANDARD_INFORMATION && a.value && a.value.length >= 0x30);
      // $STANDARD_INFORMATION holds the time Windows keeps current; the index's $FILE_NAME copy
      // only when it is unset (mkntfs leaves $MFT's at zero).
      const mtime = (si?.value ? ntfsTime(si.value, 0x08) : undefined) ?? fallback?.mtime;
      if (rec.flags & RECORD_IS_DIRECTORY) return { name, type: 'dir', size: 0, mtime, id: n };
      const data = (await this.attrs(rec, AT.DATA, ''))[0];
      const size = data ? (data.value ? data.value.length : data.nonResident!.dataSize) : 0;
      return { name, type: 'file', size, mtime, id: n };
    } catch (e) {
      if (!fallback) throw e;
      return { name, type: fallback.fileFlags & FN_DIRECTORY ? 'dir' : 'file', size: fallback.dataSize, mtime: fallback.mtime, id: n };
    }
  }

  /** Record number a path names; UserError when a component does not exist. */
  private async resolve(path: string): Promise<{ record: number; name: string; hint?: IndexEntry }> {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length > MAX_PATH_DEPTH) throw new UserError(`path is deeper than ${MAX_PATH_DEPTH} components: ${path}`);
    let cur = ROOT;
    let hint: IndexEntry | undefined;
    for (const part of parts) {
      const kids = await this.dirEntries(cur);
      // NTFS names are case-insensitive by default: an exact match wins, then a case-folded one.
      const folded = part.toUpperCase();
      const e = kids.find((k) => k.name === part && k.record !== cur) ?? kids.find((k) => k.name.toUpperCase() === folded && k.record !== cur);
      if (!e) throw new UserError(`${this.name}: no such file or directory: ${path}`);
      cur = e.record;
      hint = e;
    }
    return { record: cur, name: parts[parts.length - 1] ?? '', hint };
  }

  async readdir(path: string): Promise<GuestEntry[]> {
    const { record } = await this.resolve(path);
    const kids = await this.children(record);
    const out: GuestEntry[] = [];
    for (const k of kids) out.push(await this.entry(k.record, k.name, k));
    return out;
  }

  async stat(path: string): Promise<GuestEntry> {
    const { record, name, hint } = await this.resolve(path);
    return this.entry(record, name, hint);
  }

  async open(path: string): Promise<ByteSource> {
    const { record } = await this.resolve(path);
    const rec = await this.record(record);
    if (rec.flags & RECORD_IS_DIRECTORY) throw new UserError(`${this.name}: ${path} is a directory`);
    const data = await this.attrs(rec, AT.DATA, '');
    if (data.length === 0) return new MemorySource(new Uint8Array(0), `${this.name}:${path}`);
    return this.dataSource(data, path);
  }
}
