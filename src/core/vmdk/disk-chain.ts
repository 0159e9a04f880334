import { checkRange, type ByteSource } from '../io/byte-source.js';
import { inheritedDdb } from './chain-ddb.js';
import type { ChainLinkInfo, Descriptor, DiskLayer, LayerExtent } from './types.js';

/**
 * What backs a range of the merged (logical) disk:
 *   data – bytes from layer `layer` (0 = top);
 *   zero – a layer explicitly stores zeros there;
 *   hole – no layer stores anything: zeros, and a sparse output may leave it unallocated.
 */
export type ResolvedExtent =
  | { kind: 'data'; offset: number; length: number; layer: number; source: ByteSource; sourceOffset: number }
  | { kind: 'zero'; offset: number; length: number; layer: number }
  | { kind: 'hole'; offset: number; length: number };

/**
 * A snapshot chain read as one disk. Layers are ordered top (the running delta) first, base last.
 * It is itself a ByteSource, so exports, hashing and the guest-filesystem views read it like a file.
 */
export class DiskChain implements ByteSource {
  readonly size: number;
  readonly name: string;
  constructor(
    readonly layers: readonly DiskLayer[],
    readonly links: readonly ChainLinkInfo[],
    /** Each layer's text descriptor (top first; null where a layer has none, e.g. a bare delta). */
    readonly descriptors: readonly (Descriptor | null)[] = [],
  ) {
    if (layers.length === 0) throw new Error('DiskChain needs at least one layer');
    this.size = layers[0]!.capacity;
    this.name = layers[0]!.path;
  }

  /** DDB entries an export of this disk should carry (adapter, geometry, hardware version): ExportOptions.ddb. */
  descriptorDdb(): Record<string, string> {
    return inheritedDdb(this.descriptors);
  }

  /** Resolves [offset, offset+length) through the layers; extents are ordered and merged. */
  async mapRange(offset: number, length: number): Promise<ResolvedExtent[]> {
    checkRange(this, offset, length);
    const out: ResolvedExtent[] = [];
    await this.resolveInto(0, offset, length, out);
    return out;
  }

  private async resolveInto(layerIndex: number, offset: number, length: number, out: ResolvedExtent[]): Promise<void> {
    if (length === 0) return;
    const layer = this.layers[layerIndex];
    if (!layer) return push(out, { kind: 'hole', offset, length });
    // A parent smaller than its child reads as zeros past its end.
    const inside = Math.max(0, Math.min(length, layer.capacity - offset));
    if (inside > 0) {
      const extents: LayerExtent[] = await layer.mapRange(offset, inside);
      for (const e of extents) {
        if (e.kind === 'data') push(out, { kind: 'data', offset: e.offset, length: e.length, layer: layerIndex, source: e.source, sourceOffset: e.sourceOffset });
        else if (e.kind === 'zero') push(out, { kind: 'zero', offset: e.offset, length: e.length, layer: layerIndex });
        else await this.resolveInto(layerIndex + 1, e.offset, e.length, out);
      }
    }
    if (inside < length) push(out, { kind: 'hole', offset: offset + inside, length: length - inside });
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const extents = await this.mapRange(offset, length);
    if (extents.length === 1 && extents[0]!.kind === 'data') {
      const e = extents[0]!;
      return e.source.read(e.sourceOffset, e.length);
    }
    const out = new Uint8Array(length);
    await Promise.all(
      extents.map(async (e) => {
        if (e.kind === 'data') out.set(await e.source.read(e.sourceOffset, e.length), e.offset - offset);
      }),
    );
    return out;
  }
}

function push(out: ResolvedExtent[], e: ResolvedExtent): void {
  const prev = out[out.length - 1];
  if (prev && prev.kind === e.kind && prev.offset + prev.length === e.offset) {
    if (prev.kind === 'hole') return void (prev.length += e.length);
    if (prev.kind === 'zero' && e.kind === 'zero' && prev.layer === e.layer) return void (prev.length += e.length);
    if (
      prev.kind === 'data' &&
      e.kind === 'data' &&
      prev.layer === e.layer &&
      prev.source === e.source &&
      prev.sourceOffset + prev.length === e.sourceOffset
    )
      return void (prev.length += e.length);
  }
  out.push(e);
}
