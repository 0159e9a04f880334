import { fb5, MiB } from './geometry.js';
import type { Manifest } from './vmfs-builder.js';

/**
 * What a delete leaves behind on VMFS5, for the demo and the recovery test builders: a 2 KiB FD
 * record with link count 0 whose slots (1 MiB file blocks) or resident data are still there, and a
 * free FDC slot to put it in.
 */

const FD_SIZE = 2048;

/** A VMFS5 FD (lock + metadata + slots or resident data), as a deleted file leaves it. */
export function fdRecord(addr: number, volOffset: number, dirFd: number, f: { length: number; blocks?: number[]; resident?: Uint8Array; typeCode?: number; mode?: number; mtime?: number; ctime?: number }): Uint8Array {
  const b = new Uint8Array(FD_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x10c00001, true);
  dv.setBigUint64(4, BigInt(volOffset), true);
  const m = 0x200;
  dv.setUint32(m + 0x00, addr, true);
  dv.setUint32(m + 0x04, 77, true); // generation
  dv.setUint32(m + 0x08, 0, true); // link count: deleted
  dv.setUint32(m + 0x0c, f.typeCode ?? 3, true); // 3: regular file
  dv.setBigUint64(m + 0x14, BigInt(f.length), true);
  dv.setBigUint64(m + 0x1c, BigInt(f.resident ? 8192 : MiB), true);
  dv.setBigUint64(m + 0x24, BigInt(f.blocks?.length ?? 0), true);
  dv.setUint32(m + 0x2c, f.mtime ?? 0, true); // Unix seconds; 0: unknown
  dv.setUint32(m + 0x30, f.ctime ?? f.mtime ?? 0, true);
  dv.setUint32(m + 0x40, f.mode ?? 0o100600, true);
  dv.setUint32(m + 0x44, f.resident ? 4305 : 1, true);
  dv.setUint32(m + 0x70, dirFd, true);
  if (f.resident) b.set(f.resident, 0x400);
  else f.blocks!.forEach((blk, i) => dv.setUint32(0x400 + i * 4, fb5(blk, false), true));
  return b;
}

/** A free FDC slot (cluster 5 onwards, resource r) that no manifest entry uses. */
export function freeFdAddress(m: Manifest, r: number): number {
  const used = new Set(m.entries.map((e) => e.fdAddress));
  for (let c = 5; c < 32; c++) {
    const a = ((r << 22) | (c << 6) | 4) >>> 0;
    if (!used.has(a)) return a;
  }
  throw new Error('synthetic VMFS: no free FD slot');
}
