import { RescueError } from '../errors.js';
import { readUpTo, type ByteSource } from '../io/byte-source.js';
import { decodeDescriptorBytes, looksLikeDescriptor, MAX_DESCRIPTOR_BYTES, NO_PARENT_CID, parseDescriptor } from './descriptor.js';
import { isCowdHeader } from './formats/cowd.js';
import { isKdmvHeader } from './formats/hosted-sparse.js';
import { KDMV_HEADER } from './formats/kdmv-header.js';
import { SECTOR } from '../util/struct.js';
import { isSeSparseHeader } from './formats/sesparse.js';

/**
 * What a .vmdk file is in a disk chain, from its first bytes and its descriptor: how the
 * datastore listing marks descriptors, sparse files and extent files, and how a set of picked
 * files suggests the top of a chain. Only headers and descriptors are read.
 */

/** The last path component ('/' or '\' separated). */
export function baseName(p: string): string {
  const q = p.replace(/\\/g, '/');
  return q.slice(q.lastIndexOf('/') + 1);
}

/** How a .vmdk in a listing takes part in a disk chain (from its first bytes and descriptor). */
export interface VmdkRole {
  /** descriptor: a text descriptor; sparse: a self-contained KDMV file; data: an extent file (flat, delta, sesparse). */
  kind: 'descriptor' | 'sparse' | 'data';
  createType?: string;
  /** Extent files the descriptor names (as written in it). */
  extents?: string[];
  /** The descriptor's parentFileNameHint (null for a base disk). */
  parent?: string | null;
  /** For data files: the descriptor in this folder that names it (null: no descriptor claims it). */
  owner?: string | null;
  /** For descriptors and sparse files: no other descriptor in the folder names it as its parent. */
  top?: boolean;
  /** Why the descriptor could not be read, if it could not. */
  error?: string;
}

/** Reads what a .vmdk of `size` bytes is: a text descriptor (parsed), a KDMV sparse file, or data. */
export async function vmdkRole(src: ByteSource, size: number, path: string): Promise<VmdkRole> {
  if (size < 4) return { kind: 'data' };
  const head = await readUpTo(src, 0, 512);
  if (isKdmvHeader(head)) return { kind: 'sparse' };
  if (!looksLikeDescriptor(head) || size > MAX_DESCRIPTOR_BYTES) return { kind: 'data' };
  try {
    const desc = parseDescriptor(decodeDescriptorBytes(await src.read(0, size), path), path);
    return {
      kind: 'descriptor',
      createType: desc.createType,
      extents: desc.extents.map((x) => x.fileName).filter((n): n is string => !!n),
      parent: desc.parentCid === NO_PARENT_CID ? null : desc.parentFileNameHint,
    };
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
    return { kind: 'descriptor', error: e.message };
  }
}

/** Marks which data files a descriptor of one folder claims and which disks are chain tops (not anyone's parent). */
export function linkRoles(entries: { name: string; vmdk?: VmdkRole }[]): void {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const parents = new Set<string>();
  for (const e of entries) {
    const r = e.vmdk;
    if (r?.kind !== 'descriptor') continue;
    for (const x of r.extents ?? []) {
      const t = byName.get(baseName(x));
      if (t?.vmdk && t.vmdk.kind === 'data' && t.vmdk.owner == null) t.vmdk.owner = e.name;
    }
    if (r.parent) parents.add(baseName(r.parent));
  }
  for (const e of entries) {
    const r = e.vmdk;
    if (!r) continue;
    if (r.kind === 'data') r.owner ??= null;
    else r.top = !parents.has(e.name);
  }
}

export type PickedKind = 'descriptor' | 'hostedSparse' | 'cowd' | 'seSparse' | 'data' | 'other';

/** A picked file and what its header says: its kind, and for descriptors the parent and extents it names. */
export interface PickedFile {
  path: string;
  size: number;
  kind: PickedKind;
  createType: string | null;
  parentHint: string | null;
  extentFiles: string[];
}

/**
 * Sets `info`'s kind and descriptor hints from the file's header (and its descriptor, text or
 * embedded in a KDMV file). A descriptor that does not parse keeps its kind and gives no hints.
 */
export async function probePickedFile(src: ByteSource, info: PickedFile): Promise<void> {
  const head = await readUpTo(src, 0, 512);
  let text: Uint8Array | null = null;
  if (isKdmvHeader(head) && head.length >= 44) {
    info.kind = 'hostedSparse';
    // The header's own fields only (no version or flag checks): the chain opener says what is wrong with it.
    const h = KDMV_HEADER.parse(head.length >= KDMV_HEADER.size ? head : padded(head));
    const off = Number(h.descriptorOffset) * SECTOR;
    const len = Number(h.descriptorSize) * SECTOR;
    if (off > 0 && len > 0 && len <= MAX_DESCRIPTOR_BYTES && off < src.size) text = await readUpTo(src, off, len);
  } else if (isCowdHeader(head)) {
    info.kind = 'cowd';
  } else if (isSeSparseHeader(head)) {
    info.kind = 'seSparse';
  } else if (src.size <= MAX_DESCRIPTOR_BYTES && looksLikeDescriptor(head)) {
    info.kind = 'descriptor';
    text = await readUpTo(src, 0, src.size);
  } else {
    info.kind = 'data';
  }
  if (text === null) return;
  try {
    const desc = parseDescriptor(decodeDescriptorBytes(text, info.path), info.path);
    info.createType = desc.createType;
    if (desc.parentFileNameHint) info.parentHint = desc.parentFileNameHint;
    for (const x of desc.extents) if (x.fileName) info.extentFiles.push(x.fileName);
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
  }
}

function padded(head: Uint8Array): Uint8Array {
  const b = new Uint8Array(KDMV_HEADER.size);
  b.set(head);
  return b;
}

/**
 * Tops are openable files that no other picked file names as its parent or as an extent. The
 * suggestion is the top with the longest chain of picked parents behind it (a lone base disk loses
 * to the snapshot that uses it).
 */
export function rankTops(files: PickedFile[]): { tops: string[]; suggestedTop: string | null } {
  const openable = files.filter((f) => f.kind === 'descriptor' || f.kind === 'hostedSparse');
  const referenced = new Set<string>();
  for (const f of files) {
    if (f.parentHint) referenced.add(baseName(f.parentHint).toLowerCase());
    // A monolithicSparse file's embedded descriptor names the file itself as its extent: not a reference.
    for (const e of f.extentFiles) if (baseName(e).toLowerCase() !== baseName(f.path).toLowerCase()) referenced.add(baseName(e).toLowerCase());
  }
  const byName = new Map(openable.map((f) => [baseName(f.path).toLowerCase(), f]));
  const depth = (f: PickedFile): number => {
    let d = 0;
    const seen = new Set<PickedFile>();
    for (let cur: PickedFile | undefined = f; cur && !seen.has(cur); d++) {
      seen.add(cur);
      cur = cur.parentHint ? byName.get(baseName(cur.parentHint).toLowerCase()) : undefined;
    }
    return d;
  };
  const free = openable.filter((f) => !referenced.has(baseName(f.path).toLowerCase()));
  const ranked = (free.length > 0 ? free : openable)
    .map((f) => ({ f, d: depth(f) }))
    .sort((a, b) => b.d - a.d || a.f.path.localeCompare(b.f.path));
  const tops = ranked.map((r) => r.f.path);
  // Referenced descriptors stay selectable (the user may want an older point of the chain).
  // Pieces of a split hosted disk (KDMV without an embedded descriptor) are never a top.
  for (const f of openable) if (!tops.includes(f.path) && (f.kind === 'descriptor' || f.createType)) tops.push(f.path);
  return { tops, suggestedTop: tops[0] ?? null };
}
