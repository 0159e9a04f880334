import { CorruptError } from '../errors.js';

/**
 * The .vmsd snapshot database (docs/format-notes.md ".vmsd and .vmsn") and the .vmx-style `key = "value"` text it
 * shares with .vmx files. Keys are case-insensitive (normalised to lower case). Values may carry
 * VMware's `|XX` hex escapes (e.g. `|22` for a double quote), decoded here.
 */

export const MAX_VMX_TEXT = 4 * 1024 * 1024;
/** Slots are numbered by VMware from 0; anything above this is corruption. */
const MAX_SLOT = 100_000;
const MAX_DISKS = 256;

/** Parses `key = "value"` lines into a map with lower-cased keys; the last occurrence wins. */
export function parseVmxText(text: string, name = '.vmx'): Map<string, string> {
  if (text.length > MAX_VMX_TEXT) throw new CorruptError(`${name}: ${text.length} characters, more than a configuration file can be`);
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n|\r/);
  for (const raw of lines) {
    const line = raw.replace(/\0+$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z0-9_.:\-[\]]+)\s*=\s*(.*)$/.exec(line);
    if (!m) continue; // A damaged line; the rest of the file is still useful.
    let v = m[2]!.trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out.set(m[1]!.toLowerCase(), decodeVmxEscapes(v));
  }
  return out;
}

function decodeVmxEscapes(v: string): string {
  return v.replace(/\|([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export interface VmsdDisk {
  /** M of `diskM.` */
  index: number;
  /** Descriptor that was the running top when the snapshot was taken (the disk it froze). */
  fileName: string;
  /** Controller slot, e.g. `scsi0:0`. */
  node: string | null;
}

export interface VmsdSnapshot {
  /** N of `snapshotN.` (a slot number only). */
  slot: number;
  uid: number;
  parentUid: number | null;
  displayName: string;
  description: string;
  /** The .vmsn file. */
  filename: string | null;
  /** Creation time (µs since 1970 UTC from createTimeHigh/Low), or null if absent. */
  createTime: Date | null;
  type: string | null;
  disks: VmsdDisk[];
  children: VmsdSnapshot[];
}

export interface Vmsd {
  encoding: string | null;
  lastUid: number | null;
  /** uid of the snapshot the running state descends from. */
  currentUid: number | null;
  /** `snapshot.numSnapshots` as written (may disagree with the groups found; see warnings). */
  numSnapshots: number | null;
  needConsolidate: boolean;
  /** All snapshots in slot order. */
  snapshots: VmsdSnapshot[];
  /** Snapshots without a (known) parent, each with its subtree in `children`. */
  roots: VmsdSnapshot[];
  byUid: Map<number, VmsdSnapshot>;
  warnings: string[];
}

function int(v: string | undefined): number | null {
  if (v === undefined || !/^-?\d{1,16}$/.test(v.trim())) return null;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Parses a .vmsd. An empty file is valid (VMware leaves one behind after the last snapshot is
 * deleted). Text that is not key/value lines at all is a CorruptError.
 */
export function parseVmsd(text: string, name = '.vmsd'): Vmsd {
  const kv = parseVmxText(text, name);
  if (kv.size === 0 && text.replace(/[\s\0]/g, '').length > 0) throw new CorruptError(`${name}: not a snapshot database (no key = value lines)`);
  const warnings: string[] = [];
  const slots = new Map<number, Map<string, string>>();
  for (const [k, v] of kv) {
    const m = /^snapshot(\d{1,9})\.(.+)$/.exec(k);
    if (!m) continue;
    const slot = Number(m[1]);
    if (slot > MAX_SLOT) {
      warnings.push(`${name}: snapshot slot ${slot} ignored (out of range)`);
      continue;
    }
    let g = slots.get(slot);
    if (!g) slots.set(slot, (g = new Map()));
    g.set(m[2]!, v);
  }
  const snapshots: VmsdSnapshot[] = [];
  const byUid = new Map<number, VmsdSnapshot>();
  for (const slot of [...slots.keys()].sort((a, b) => a - b)) {
    const g = slots.get(slot)!;
    const uid = int(g.get('uid'));
    if (uid === null) {
      warnings.push(`${name}: snapshot${slot} has no valid uid; ignored`);
      continue;
    }
    if (byUid.has(uid)) {
      warnings.push(`${name}: snapshot${slot} repeats uid ${uid}; ignored`);
      continue;
    }
    const disks: VmsdDisk[] = [];
    for (const [k, v] of g) {
      const m = /^disk(\d{1,4})\.filename$/.exec(k);
      if (!m || disks.length >= MAX_DISKS) continue;
      const index = Number(m[1]);
      disks.push({ index, fileName: v, node: g.get(`disk${index}.node`) ?? null });
    }
    disks.sort((a, b) => a.index - b.index);
    const s: VmsdSnapshot = {
      slot,
      uid,
      parentUid: int(g.get('parent')),
      displayName: g.get('displayname') ?? '',
      description: g.get('description') ?? '',
      filename: g.get('filename') ?? null,
      createTime: createTime(g.get('createtimehigh'), g.get('createtimelow')),
      type: g.get('type') ?? null,
      disks,
      children: [],
    };
    const nd = int(g.get('numdisks'));
    if (nd !== null && nd !== disks.length) warnings.push(`${name}: snapshot${slot} says numDisks = ${nd} but lists ${disks.length}`);
    snapshots.push(s);
    byUid.set(uid, s);
  }
  const roots: VmsdSnapshot[] = [];
  for (const s of snapshots) {
    const parent = s.parentUid !== null ? byUid.get(s.parentUid) : undefined;
    if (s.parentUid !== null && !parent) warnings.push(`${name}: snapshot uid ${s.uid} names a missing parent uid ${s.parentUid}`);
    if (parent && !isAncestor(s, parent, byUid)) parent.children.push(s);
    else {
      if (parent) warnings.push(`${name}: snapshot uid ${s.uid} is in a parent loop; shown as a root`);
      roots.push(s);
    }
  }
  const numSnapshots = int(kv.get('snapshot.numsnapshots'));
  if (numSnapshots !== null && numSnapshots !== snapshots.length) {
    warnings.push(`${name}: snapshot.numSnapshots = ${numSnapshots} but ${snapshots.length} snapshots are listed`);
  }
  const currentUid = int(kv.get('snapshot.current'));
  if (currentUid !== null && !byUid.has(currentUid)) warnings.push(`${name}: snapshot.current = ${currentUid} names no listed snapshot`);
  return {
    encoding: kv.get('.encoding') ?? null,
    lastUid: int(kv.get('snapshot.lastuid')),
    currentUid,
    numSnapshots,
    needConsolidate: (kv.get('snapshot.needconsolidate') ?? '').toLowerCase() === 'true',
    snapshots,
    roots,
    byUid,
    warnings,
  };
}

/** True if `s` is `p` or an ancestor of `p` (so making `s` a child of `p` would close a loop). */
function isAncestor(s: VmsdSnapshot, p: VmsdSnapshot, byUid: Map<number, VmsdSnapshot>): boolean {
  let cur: VmsdSnapshot | undefined = p;
  for (let i = 0; cur && i <= byUid.size; i++) {
    if (cur === s) return true;
    cur = cur.parentUid !== null ? byUid.get(cur.parentUid) : undefined;
  }
  return cur !== undefined; // still walking after size steps: a loop above p
}

/** createTimeHigh × 2^32 + (createTimeLow as unsigned 32-bit), in microseconds since 1970 UTC. */
function createTime(high: string | undefined, low: string | undefined): Date | null {
  const h = int(high);
  const l = int(low);
  if (h === null || l === null || h < 0 || h > 0x1fffff || l < -0x80000000 || l > 0xffffffff) return null;
  const us = h * 0x1_0000_0000 + (l >>> 0);
  return new Date(Math.floor(us / 1000));
}
