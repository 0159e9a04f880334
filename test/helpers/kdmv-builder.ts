import { deflateSync } from 'node:zlib';

/**
 * Independent construction of hosted sparse (KDMV) files for tests, written straight from
 * vmdk-format.md §3 with DataView (it does not use the reader's struct definitions), so tests
 * compare the reader against the spec rather than against itself.
 */
export interface KdmvSpec {
  capacitySectors: number;
  grainSectors?: number;
  numGTEsPerGT?: number;
  /** grain index → bytes (one grain, shorter is zero-padded) or 'zero' (GTE 1). */
  grains: Map<number, Uint8Array | 'zero'>;
  flags?: number;
  version?: number;
  descriptor?: string;
  /** Write a redundant GD/GT set too (flag 0x2). */
  redundant?: boolean;
  /** Leave GD entries 0 for GTs without grains (VMware style) instead of preallocating every GT. */
  sparseGts?: boolean;
}

const S = 512;

function put64(dv: DataView, off: number, v: number | bigint): void {
  dv.setBigUint64(off, BigInt(v), true);
}

export function kdmvHeader(h: {
  version: number;
  flags: number;
  capacity: number;
  grain: number;
  descOff: number;
  descSize: number;
  gtes: number;
  rgd: number;
  gd: number | bigint;
  overHead: number;
  compress: number;
}): Uint8Array {
  const b = new Uint8Array(S);
  const dv = new DataView(b.buffer);
  b.set([0x4b, 0x44, 0x4d, 0x56], 0);
  dv.setUint32(4, h.version, true);
  dv.setUint32(8, h.flags, true);
  put64(dv, 12, h.capacity);
  put64(dv, 20, h.grain);
  put64(dv, 28, h.descOff);
  put64(dv, 36, h.descSize);
  dv.setUint32(44, h.gtes, true);
  put64(dv, 48, h.rgd);
  put64(dv, 56, h.gd);
  put64(dv, 64, h.overHead);
  b[72] = 0;
  b.set([0x0a, 0x20, 0x0d, 0x0a], 73);
  dv.setUint16(77, h.compress, true);
  return b;
}

/** monolithicSparse layout (§7.2): header, descriptor (20 sectors), [RGD, RGTs], GD, GTs, grains. */
export function buildKdmv(spec: KdmvSpec): Uint8Array {
  const grain = spec.grainSectors ?? 128;
  const gtes = spec.numGTEsPerGT ?? 512;
  const grainsTotal = Math.ceil(spec.capacitySectors / grain);
  const gtCount = Math.ceil(grainsTotal / gtes);
  const gtSectors = Math.ceil((gtes * 4) / S);
  const gdSectors = Math.max(1, Math.ceil((gtCount * 4) / S));
  const descSize = 20;
  let next = 1 + descSize;
  const rgd = spec.redundant ? next : 0;
  if (spec.redundant) next += gdSectors + gtCount * gtSectors;
  const gd = next;
  next += gdSectors + gtCount * gtSectors;
  const overHead = Math.ceil(next / grain) * grain;
  const sortedGrains = [...spec.grains.entries()].filter(([, v]) => v !== 'zero').sort((a, b) => a[0] - b[0]);
  const size = (overHead + sortedGrains.length * grain) * S;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  const flags = spec.flags ?? (0x1 | (spec.redundant ? 0x2 : 0));
  out.set(
    kdmvHeader({ version: spec.version ?? 1, flags, capacity: spec.capacitySectors, grain, descOff: spec.descriptor ? 1 : 0, descSize: spec.descriptor ? descSize : 0, gtes, rgd, gd, overHead, compress: 0 }),
    0,
  );
  if (spec.descriptor) out.set(new TextEncoder().encode(spec.descriptor), S);
  const gteOf = new Map<number, number>();
  sortedGrains.forEach(([gi, data], k) => {
    const sector = overHead + k * grain;
    gteOf.set(gi, sector);
    out.set((data as Uint8Array).subarray(0, grain * S), sector * S);
  });
  for (const [gi, v] of spec.grains) if (v === 'zero') gteOf.set(gi, 1);
  const writeSet = (gdSector: number) => {
    for (let t = 0; t < gtCount; t++) {
      const used = [...gteOf.keys()].some((gi) => Math.floor(gi / gtes) === t);
      if (spec.sparseGts && !used) continue;
      const gtSector = gdSector + gdSectors + t * gtSectors;
      dv.setUint32(gdSector * S + t * 4, gtSector, true);
      for (let i = 0; i < gtes; i++) {
        const v = gteOf.get(t * gtes + i);
        if (v !== undefined) dv.setUint32(gtSector * S + i * 4, v, true);
      }
    }
  };
  if (spec.redundant) writeSet(rgd);
  writeSet(gd);
  return out;
}

/** A 512-byte metadata marker (§3.6): u64 val, u32 size 0, u32 type. */
function marker(val: number, type: number): Uint8Array {
  const b = new Uint8Array(S);
  const dv = new DataView(b.buffer);
  put64(dv, 0, val);
  dv.setUint32(12, type, true);
  return b;
}

/**
 * VMware-style streamOptimized (§3.6, §7.3): GD_AT_END in the leading header, grain records in
 * LBA order, GT marker + GT after each GT's grains, GD marker + GD, footer marker + footer, EOS.
 * Grains compressed with node:zlib (RFC 1950).
 */
export function buildStream(spec: { capacitySectors: number; grains: Map<number, Uint8Array>; descriptor?: string; lbaOverride?: Map<number, number> }): {
  bytes: Uint8Array;
  regions: { header: [number, number]; markers: [number, number][]; grains: [number, number][] };
} {
  const grain = 128;
  const gtes = 512;
  const grainsTotal = Math.ceil(spec.capacitySectors / grain);
  const gtCount = Math.ceil(grainsTotal / gtes);
  const gdSectors = Math.max(1, Math.ceil((gtCount * 4) / S));
  const descSize = 20;
  const overHead = 128;
  const parts: Uint8Array[] = [];
  let sector = 0;
  const emit = (b: Uint8Array) => {
    const padded = new Uint8Array(Math.ceil(b.length / S) * S);
    padded.set(b);
    parts.push(padded);
    const at = sector;
    sector += padded.length / S;
    return at;
  };
  const head = (gd: number | bigint) =>
    kdmvHeader({ version: 3, flags: 0x30001, capacity: spec.capacitySectors, grain, descOff: spec.descriptor ? 1 : 0, descSize: spec.descriptor ? descSize : 0, gtes, rgd: 0, gd, overHead, compress: 1 });
  emit(head(0xffffffffffffffffn));
  const desc = new Uint8Array(descSize * S);
  if (spec.descriptor) desc.set(new TextEncoder().encode(spec.descriptor));
  emit(desc);
  emit(new Uint8Array((overHead - sector) * S));
  const regions = { header: [0, S] as [number, number], markers: [] as [number, number][], grains: [] as [number, number][] };
  const gd = new Uint32Array(gtCount);
  for (let t = 0; t < gtCount; t++) {
    const gt = new Uint32Array(gtes);
    let any = false;
    for (let i = 0; i < gtes; i++) {
      const gi = t * gtes + i;
      const data = spec.grains.get(gi);
      if (!data) continue;
      const z = deflateSync(data);
      const rec = new Uint8Array(12 + z.length);
      const dv = new DataView(rec.buffer);
      put64(dv, 0, spec.lbaOverride?.get(gi) ?? gi * grain);
      dv.setUint32(8, z.length, true);
      rec.set(z, 12);
      const at = emit(rec);
      regions.grains.push([at * S, at * S + 12 + z.length]);
      gt[i] = at;
      any = true;
    }
    if (!any) continue;
    regions.markers.push([sector * S, sector * S + S]);
    emit(marker(4, 1));
    gd[t] = emit(new Uint8Array(gt.buffer));
  }
  regions.markers.push([sector * S, sector * S + S]);
  emit(marker(gdSectors, 2));
  const gdAt = emit(new Uint8Array(gd.buffer));
  regions.markers.push([sector * S, sector * S + S]);
  emit(marker(1, 3));
  emit(head(gdAt));
  emit(marker(0, 0));
  const bytes = new Uint8Array(sector * S);
  let pos = 0;
  for (const p of parts) {
    bytes.set(p, pos);
    pos += p.length;
  }
  return { bytes, regions };
}

/** A grain of `bytes` length filled with a pattern distinct per grain. */
export function patternGrain(seed: number, bytes = 65536): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (seed * 31 + i * 7 + (i >> 9)) & 0xff;
  return b;
}
