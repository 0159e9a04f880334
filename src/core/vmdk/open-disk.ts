import { CorruptError, MissingFileError, RescueError } from '../errors.js';
import { readUpTo, type ByteSource } from '../io/byte-source.js';
import { SECTOR, u32 } from '../util/struct.js';
import { decodeDescriptorBytes, looksLikeDescriptor, MAX_DESCRIPTOR_BYTES, parseDescriptor } from './descriptor.js';
import { isCowdHeader, openCowdExtent } from './formats/cowd.js';
import { openFlatExtent, openZeroExtent, RdmLayer } from './formats/flat.js';
import { isKdmvHeader, readEmbeddedDescriptorBytes, readKdmvHeader } from './formats/hosted-sparse.js';
import { KDMV_FLAGS } from './formats/kdmv-header.js';
import { isSeSparseHeader, openSeSparseExtent, SESPARSE_MAGIC_LO } from './formats/sesparse.js';
import { openKdmvExtent } from './formats/stream-optimized.js';
import { MultiExtentLayer, type PlacedExtent } from './multi-extent.js';
import type { ChainLinkInfo, Descriptor, DescriptorExtent, DiskFormat, DiskLayer, FileResolver } from './types.js';

/** One disk of a chain, opened: its layer plus what `vmdk info` shows about it. */
export interface OpenedDisk {
  path: string;
  layer: DiskLayer;
  /** The text descriptor (separate file or embedded in KDMV); null for a bare COWD/seSparse file. */
  descriptor: Descriptor | null;
  createType: string;
  extents: ChainLinkInfo['extents'];
  warnings: string[];
}

/** createTypes whose data is a raw LUN, never in a datastore dump (docs/format-notes.md "VMDK text descriptor"). */
const RDM_CREATE_TYPES = new Set(['vmfsrawdevicemap', 'vmfspassthroughrawdevicemap', 'vmfsrdm', 'vmfsrdmp', 'vmfsraw']);

function isSeSparse(head: Uint8Array): boolean {
  return isSeSparseHeader(head) || (head.length >= 8 && u32(head, 0) === SESPARSE_MAGIC_LO && u32(head, 4) === 0);
}

/** Opens `path` through the resolver, then the candidates; MissingFileError names who wanted it. */
export async function openReferenced(resolver: FileResolver, from: string, relative: string, what: string): Promise<{ path: string; src: ByteSource }> {
  const first = resolver.resolve(from, relative);
  const tried = [first];
  const src = await resolver.open(first);
  if (src) return { path: first, src };
  for (const c of resolver.candidates?.(from, relative) ?? []) {
    if (tried.includes(c)) continue;
    tried.push(c);
    const s = await resolver.open(c);
    if (s) return { path: c, src: s };
  }
  const also = tried.length > 1 ? `; also tried ${tried.slice(1).join(', ')}` : '';
  throw new MissingFileError(first, `missing ${what} ${first} ("${relative}" referenced by ${from})${also}`);
}

/**
 * Opens one disk (one link of a chain) by sniffing its first bytes: a text descriptor, a KDMV
 * file (embedded descriptor), a bare COWD or seSparse delta. `src` may be passed when the caller
 * has already opened `path`.
 */
export async function openDisk(resolver: FileResolver, path: string, src?: ByteSource): Promise<OpenedDisk> {
  const file = src ?? (await resolver.open(path));
  if (!file) throw new MissingFileError(path);
  const head = await readUpTo(file, 0, SECTOR);
  if (isKdmvHeader(head)) return openKdmvDisk(file, path);
  if (isCowdHeader(head)) {
    const layer = await openCowdExtent(file, path);
    return bare(path, layer, 'vmfsSparse', 'VMFSSPARSE');
  }
  if (isSeSparse(head)) {
    const layer = await openSeSparseExtent(file, path);
    return bare(path, layer, 'seSparse', 'SESPARSE');
  }
  if (looksLikeDescriptor(head)) {
    if (file.size > MAX_DESCRIPTOR_BYTES) throw new CorruptError(`${path}: starts like a descriptor but is ${file.size} bytes long`);
    const desc = parseDescriptor(decodeDescriptorBytes(await file.read(0, file.size), path), path);
    return openDescriptorDisk(resolver, path, desc);
  }
  const sig = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CorruptError(`${path}: not a VMDK descriptor, KDMV, COWD or seSparse file (first bytes ${sig || 'none: empty file'})`);
}

function bare(path: string, layer: DiskLayer, createType: string, type: string): OpenedDisk {
  return {
    path,
    layer,
    descriptor: null,
    createType,
    extents: [{ type, fileName: basename(path), sectors: layer.capacity / SECTOR, offset: 0, format: layer.format }],
    warnings: [...layerWarnings(layer), `${path}: opened without a descriptor: no CID or parent link is known`],
  };
}

async function openKdmvDisk(file: ByteSource, path: string): Promise<OpenedDisk> {
  const header = await readKdmvHeader(file, path);
  const warnings: string[] = [];
  let descriptor: Descriptor | null = null;
  try {
    const bytes = await readEmbeddedDescriptorBytes(file, header, path);
    if (bytes) descriptor = parseDescriptor(decodeDescriptorBytes(bytes, path), `${path} (embedded descriptor)`);
  } catch (e) {
    // The grains are still readable without the descriptor; only CID and parent link are lost.
    if (!(e instanceof RescueError)) throw e;
    warnings.push(`${path}: embedded descriptor unreadable: ${e.message}`);
  }
  const layer = await openKdmvExtent(file, path);
  warnings.push(...layerWarnings(layer));
  if (descriptor) {
    const sectors = descriptor.extents.reduce((n, e) => n + e.sectors, 0);
    if (descriptor.extents.length !== 1 || descriptor.extents[0]!.type !== 'SPARSE') {
      warnings.push(`${path}: embedded descriptor lists ${descriptor.extents.length} extent(s); only this file's own grains are read`);
    } else if (sectors !== header.capacitySectors) {
      warnings.push(`${path}: embedded descriptor says ${sectors} sectors, header says ${header.capacitySectors}; using the header`);
    }
  }
  const compressed = (header.flags & KDMV_FLAGS.compressed) !== 0;
  return {
    path,
    layer,
    descriptor,
    createType: descriptor?.createType || (compressed ? 'streamOptimized' : 'monolithicSparse'),
    extents: [{ type: 'SPARSE', fileName: basename(path), sectors: header.capacitySectors, offset: 0, format: layer.format }],
    warnings,
  };
}

async function openDescriptorDisk(resolver: FileResolver, path: string, desc: Descriptor): Promise<OpenedDisk> {
  const warnings: string[] = [];
  const parts: PlacedExtent[] = [];
  const extents: ChainLinkInfo['extents'] = [];
  const rdmDisk = RDM_CREATE_TYPES.has(desc.createType.toLowerCase());
  let start = 0;
  for (const e of desc.extents) {
    const length = e.sectors * SECTOR;
    if (!Number.isSafeInteger(start + length)) throw new CorruptError(`${path}: extents add up to more than 2^53 bytes`);
    const layer = rdmDisk ? new RdmLayer(path, e.sectors) : await openExtent(resolver, path, e);
    warnings.push(...layerWarnings(layer));
    if (layer.format !== 'flat' && layer.format !== 'zero' && layer.format !== 'rdm' && layer.capacity !== length) {
      warnings.push(
        `${path}: extent "${e.fileName}" is ${e.sectors} sectors in the descriptor but ${layer.capacity / SECTOR} in its header; ` +
          (layer.capacity < length ? 'the rest reads as missing' : 'the excess is ignored'),
      );
    }
    parts.push({ start, length, layer });
    extents.push({ type: e.type, fileName: e.fileName, sectors: e.sectors, offset: e.offset, format: layer.format });
    start += length;
  }
  const formats = new Set<DiskFormat>(parts.map((p) => p.layer.format));
  const format: DiskFormat = formats.has('rdm') ? 'rdm' : formats.size === 1 ? [...formats][0]! : 'multi';
  const layer = new MultiExtentLayer(path, format, parts);
  return { path, layer, descriptor: desc, createType: desc.createType, extents, warnings };
}

async function openExtent(resolver: FileResolver, descPath: string, e: DescriptorExtent): Promise<DiskLayer> {
  if (e.type === 'ZERO') return openZeroExtent(`${descPath} (ZERO extent)`, e.sectors);
  if (e.type === 'VMFSRDM' || e.type === 'VMFSRAW') return new RdmLayer(`${descPath} (${e.type} "${e.fileName}")`, e.sectors);
  const { path, src } = await openReferenced(resolver, descPath, e.fileName!, 'extent file');
  switch (e.type) {
    case 'FLAT':
    case 'VMFS':
      return openFlatExtent(src, path, e.sectors, e.offset);
    case 'VMFSSPARSE':
      return openCowdExtent(src, path);
    case 'SESPARSE':
      return openSeSparseExtent(src, path);
    case 'SPARSE': {
      // qemu also accepts a COWD file behind a SPARSE line; do the same.
      const head = await readUpTo(src, 0, 4);
      if (isCowdHeader(head)) return openCowdExtent(src, path);
      return openKdmvExtent(src, path);
    }
  }
}

function layerWarnings(layer: DiskLayer): string[] {
  const w = (layer as { warnings?: unknown }).warnings;
  return Array.isArray(w) ? w.filter((x): x is string => typeof x === 'string') : [];
}

function basename(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i >= 0 ? p.slice(i + 1) : p;
}
