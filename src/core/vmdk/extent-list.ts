import type { LayerExtent } from './types.js';

/**
 * Appends `e` to `out`, merging it into the previous extent when both are the same kind and
 * adjacent (data also needs the same source at a contiguous source offset; missing the same
 * reason). Every layer builds its mapRange answer through this so the DiskLayer contract
 * ("adjacent same-kind extents merged") holds everywhere.
 */
export function pushExtent(out: LayerExtent[], e: LayerExtent): void {
  if (e.length <= 0) return;
  const prev = out[out.length - 1];
  if (prev && prev.kind === e.kind && prev.offset + prev.length === e.offset) {
    if (prev.kind === 'zero' || prev.kind === 'parent') return void (prev.length += e.length);
    if (prev.kind === 'data' && e.kind === 'data' && prev.source === e.source && prev.sourceOffset + prev.length === e.sourceOffset) {
      return void (prev.length += e.length);
    }
    if (prev.kind === 'missing' && e.kind === 'missing' && prev.reason === e.reason) return void (prev.length += e.length);
  }
  out.push({ ...e });
}
