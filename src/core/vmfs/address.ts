/**
 * VMFS block addresses. The low 3 bits give the type. VMFS3/5 use 32-bit addresses; VMFS6 uses
 * 64-bit ones for data and pointer blocks (FD addresses stay 32-bit). A 64-bit address is handled
 * as two u32 halves (lo, hi) so no bigint is needed on the read path.
 */
export const ADDR_NONE = 0;
export const ADDR_FB = 1; // FB on VMFS3/5, SFB on VMFS6
export const ADDR_SB = 2;
export const ADDR_PB = 3;
export const ADDR_FD = 4;
export const ADDR_PB2 = 5;
export const ADDR_JB = 6;
export const ADDR_LFB = 7;

export const ADDR_TYPE_NAMES = ['none', 'FB', 'SB', 'PB', 'FD', 'PB2', 'JB', 'LFB'] as const;

/**
 * Addressing modes (FD metadata 0x44, "ZLA"): what the FD's slots hold. Direct FB/SFB (or LFB)
 * addresses, sub-block addresses, pointer blocks (.pbc.sf, .pb2.sf), double indirection (top
 * pointer block, then leaf), or the file's bytes themselves (resident). See docs/format-notes.md.
 */
export const ZLA_FB = 1;
export const ZLA_SB = 2;
export const ZLA_PB = 3;
export const ZLA_PB2 = 5;
export const ZLA_DOUBLE = 4304;
export const ZLA_RESIDENT = 4305;

/** What block-of-address needs of a volume's geometry. */
export interface BlockGeometry {
  v6: boolean;
  /** FS block size (VMFS6: the small file block). */
  blockSize: number;
  /** VMFS6 large file block size (0 on VMFS3/5). */
  lfbSize: number;
  /** VMFS6 SFBs per .fbb.sf cluster: SFB number = cluster × this + resource. */
  sfbPerCluster: number;
}

/** FS block number of a decoded FB address: the FB number (VMFS3/5), cluster × per-cluster + resource (VMFS6 SFB). */
export function fbNumber(a: DecodedAddr, g: BlockGeometry): number {
  return g.v6 ? a.cluster * g.sfbPerCluster + a.resource : a.block;
}

/**
 * The FS block holding byte `within` of the data block addressed by `a` (raw halves lo, hi): -1
 * for a hole or a to-be-zeroed block, null for an address that is no data block of a volume of
 * `totalBlocks` FS blocks (another type, outside it). LFB n starts at n × lfbSize.
 */
export function blockOfAddress(lo: number, hi: number, a: DecodedAddr, within: number, g: BlockGeometry, totalBlocks: number): number | null {
  if (lo === 0 && hi === 0) return -1;
  let b: number;
  if (a.type === ADDR_FB) {
    if (within >= g.blockSize) return null;
    if (g.v6 && a.resource >= g.sfbPerCluster) return null;
    b = fbNumber(a, g);
  } else if (a.type === ADDR_LFB && g.v6 && g.lfbSize >= g.blockSize) {
    if (within >= g.lfbSize) return null;
    b = a.block * (g.lfbSize / g.blockSize) + Math.floor(within / g.blockSize);
  } else return null;
  if (!Number.isSafeInteger(b) || b < 0 || b >= totalBlocks) return null;
  return a.tbz ? -1 : b;
}

/** Entry k of a pointer block of `width`-byte addresses (4 on VMFS3/5, 8 on VMFS6), as (lo, hi). */
export function pbEntry(pb: Uint8Array, k: number, width: number): [number, number] {
  const dv = new DataView(pb.buffer, pb.byteOffset, pb.length);
  return width === 8 ? [dv.getUint32(k * 8, true), dv.getUint32(k * 8 + 4, true)] : [dv.getUint32(k * 4, true), 0];
}

/** The address of item (cluster, resource) of a pointer-block or sub-block resource file: u32 on VMFS3/5, u64 (a bigint) on VMFS6. */
export function itemAddress(type: number, cluster: number, resource: number, v6: boolean): number | bigint {
  return v6 ? (BigInt(resource) << 56n) | (BigInt(cluster) << 6n) | BigInt(type) : ((resource << 28) | (cluster << 6) | type) >>> 0;
}

/** A decoded address: a block number (FB/SFB index, LFB index) or a (cluster, resource) item. */
export interface DecodedAddr {
  type: number;
  /** FB number (VMFS3/5), SFB global number (cluster × R + resource, VMFS6 — needs R), LFB number. */
  block: number;
  cluster: number;
  resource: number;
  /** To-be-zeroed: the block is allocated but reads as zeros. VMFS6 holds an 8-bit mask. */
  tbz: number;
}

/** 32-bit addresses (VMFS3/5). `dense` = the FS config has DENSE_SBPC (SB resources get 2 more bits). */
export function decode32(a: number, dense: boolean): DecodedAddr {
  const type = a & 7;
  switch (type) {
    case ADDR_FB:
      return { type, block: a >>> 6, cluster: 0, resource: 0, tbz: (a >>> 5) & 1 };
    case ADDR_SB: {
      const low = a >>> 28;
      const high = dense ? (a >>> 3) & 3 : 0;
      return { type, block: 0, cluster: (a >>> 6) & 0x3fffff, resource: low | (high << 4), tbz: 0 };
    }
    case ADDR_PB:
    case ADDR_PB2:
      return { type, block: 0, cluster: (a >>> 6) & 0x3fffff, resource: a >>> 28, tbz: 0 };
    case ADDR_FD:
      return decodeFd(a);
    default:
      return { type, block: 0, cluster: 0, resource: 0, tbz: 0 };
  }
}

export function decodeFd(a: number): DecodedAddr {
  return { type: a & 7, block: 0, cluster: (a >>> 6) & 0xffff, resource: a >>> 22, tbz: 0 };
}

export function encodeFd(cluster: number, resource: number): number {
  return ((resource << 22) | (cluster << 6) | ADDR_FD) >>> 0;
}

/** 64-bit addresses (VMFS6), given as low and high u32 halves. */
export function decode64(lo: number, hi: number): DecodedAddr {
  const type = lo & 7;
  switch (type) {
    case ADDR_FB: {
      // SFB: bits 7–14 TBZ mask, 15–45 cluster (17 bits from lo, 14 from hi), 51–63 resource.
      const cluster = (lo >>> 15) + (hi & 0x3fff) * 0x20000;
      return { type, block: 0, cluster, resource: hi >>> 19, tbz: (lo >>> 7) & 0xff };
    }
    case ADDR_LFB: {
      const n = (lo >>> 15) + (hi & 0x3fff) * 0x20000;
      return { type, block: n, cluster: 0, resource: 0, tbz: (lo >>> 7) & 0xff };
    }
    case ADDR_SB:
    case ADDR_PB:
    case ADDR_PB2: {
      // bits 6–41 cluster (26 bits from lo, 10 from hi), 56–63 resource.
      const cluster = (lo >>> 6) + (hi & 0x3ff) * 0x4000000;
      return { type, block: 0, cluster, resource: hi >>> 24, tbz: 0 };
    }
    case ADDR_FD:
      return decodeFd(lo);
    case ADDR_JB:
      return { type, block: 0, cluster: (lo >>> 3) & 0x1fff, resource: (lo >>> 26) & 0x3f, tbz: 0 };
    default:
      return { type, block: 0, cluster: 0, resource: 0, tbz: 0 };
  }
}

export function addrText(lo: number, hi = 0): string {
  return '0x' + (hi ? hi.toString(16) + (lo >>> 0).toString(16).padStart(8, '0') : (lo >>> 0).toString(16).padStart(8, '0'));
}
