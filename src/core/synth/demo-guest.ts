import { inflateZlib } from '../vmdk/formats/stream-optimized.js';
import { DEMO_GUEST } from './demo-guest-layout.js';
import { DEMO_GUEST_PACK } from './demo-guest-pack.js';

/**
 * The demo VM's guest disk, before and after the snapshot: the ext4 and NTFS images made by
 * mke2fs/mkntfs (scripts/make-demo-guest.ts), unpacked, placed behind an MBR. Pure data: no
 * reader or recovery code is used, so the demo's expected result stays independent of them.
 */

const PAGE = 4096;
const SECTOR = 512;
/** Unpacked images are small (a few MiB); this bounds a damaged pack. */
const MAX_PACK_BYTES = 32 * 1024 * 1024;

export interface DemoGuestDisk {
  /** Virtual disk bytes in sectors, as the snapshot froze them (v1) or as the guest changed them after (v2). */
  fill(buf: Uint8Array, virtualOffset: number, version: 1 | 2): void;
  /** Sector ranges [start, end) where v2 differs from v1 (the guest's file-system writes after the snapshot). */
  changed: [number, number][];
}

/** base64 to bytes (the core has no atob in its declared globals). */
function fromBase64(s: string): Uint8Array {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const val = new Int16Array(128).fill(-1);
  for (let i = 0; i < A.length; i++) val[A.charCodeAt(i)] = i;
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < clean.length; i++) {
    acc = (acc << 6) | val[clean.charCodeAt(i)]!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** The packed images by name (see scripts/make-demo-guest.ts for the layout). */
export async function unpackDemoGuest(): Promise<Map<string, Uint8Array>> {
  const b = await inflateZlib(fromBase64(DEMO_GUEST_PACK), MAX_PACK_BYTES, 'demo guest pack');
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  let p = 0;
  const u32 = () => ((p += 4), dv.getUint32(p - 4, true));
  if (String.fromCharCode(...b.subarray(0, 4)) !== 'VRDG') throw new Error('demo guest pack: bad magic');
  p = 4;
  if (u32() !== 1) throw new Error('demo guest pack: unknown version');
  const count = u32();
  const list: Uint8Array[] = [];
  const out = new Map<string, Uint8Array>();
  for (let k = 0; k < count; k++) {
    const nameLen = u32();
    const name = new TextDecoder().decode(b.subarray(p, p + nameLen));
    p += nameLen;
    const size = u32();
    const base = u32();
    const img = new Uint8Array(size);
    if (base !== 0xffffffff) img.set(list[base]!);
    for (let n = u32(); n > 0; n--) {
      const page = u32();
      const coding = b[p++]!;
      const src = b.subarray(p, p + PAGE);
      p += PAGE;
      const dst = img.subarray(page * PAGE, (page + 1) * PAGE);
      if (coding === 1) {
        // u16 deltas: each word is the previous word plus the stored one.
        let prev = 0;
        for (let i = 0; i < PAGE; i += 2) {
          prev = (prev + (src[i]! | (src[i + 1]! << 8))) & 0xffff;
          dst[i] = prev & 0xff;
          dst[i + 1] = prev >> 8;
        }
      } else dst.set(src);
    }
    list.push(img);
    out.set(name, img);
  }
  return out;
}

/** An MBR with the three demo partitions (ext4 0x83, NTFS 0x07, non-FS data 0xda). */
function mbr(diskId: number): Uint8Array {
  const s = new Uint8Array(SECTOR);
  const dv = new DataView(s.buffer);
  dv.setUint32(0x1b8, diskId, true);
  const parts: [number, number, number][] = [
    [0x83, DEMO_GUEST.ext4.startSector, DEMO_GUEST.ext4.sectors],
    [0x07, DEMO_GUEST.ntfs.startSector, DEMO_GUEST.ntfs.sectors],
    [0xda, DEMO_GUEST.data.startSector, DEMO_GUEST.data.sectors],
  ];
  parts.forEach(([type, start, n], i) => {
    const e = 0x1be + i * 16;
    s.set([0xfe, 0xff, 0xff], e + 1); // CHS past the limit: LBA only
    s[e + 4] = type;
    s.set([0xfe, 0xff, 0xff], e + 5);
    dv.setUint32(e + 8, start, true);
    dv.setUint32(e + 12, n, true);
  });
  s[0x1fe] = 0x55;
  s[0x1ff] = 0xaa;
  return s;
}

/**
 * The guest disk: `text(buf, offset)` fills the data partition (and nothing else is written
 * outside the partitions).
 */
export async function demoGuestDisk(text: (buf: Uint8Array, virtualOffset: number) => void): Promise<DemoGuestDisk> {
  const imgs = await unpackDemoGuest();
  const g = DEMO_GUEST;
  const parts = [
    { start: g.ext4.startSector * SECTOR, v1: imgs.get('ext4-v1')!, v2: imgs.get('ext4-v2')! },
    { start: g.ntfs.startSector * SECTOR, v1: imgs.get('ntfs-v1')!, v2: imgs.get('ntfs-v2')! },
  ];
  for (const x of parts) if (!x.v1 || !x.v2) throw new Error('demo guest pack: an image is missing');
  const boot = mbr(0x5eed0001);
  const dataStart = g.data.startSector * SECTOR;
  const dataEnd = dataStart + g.data.sectors * SECTOR;
  const fill = (buf: Uint8Array, off: number, version: 1 | 2) => {
    buf.fill(0);
    const end = off + buf.length;
    if (off < SECTOR) buf.set(boot.subarray(off, Math.min(SECTOR, end)), 0);
    for (const x of parts) {
      const img = version === 1 ? x.v1 : x.v2;
      const a = Math.max(off, x.start);
      const b = Math.min(end, x.start + img.length);
      if (a < b) buf.set(img.subarray(a - x.start, b - x.start), a - off);
    }
    const a = Math.max(off, dataStart);
    const b = Math.min(end, dataEnd);
    if (a < b) text(buf.subarray(a - off, b - off), a);
  };
  const changed: [number, number][] = [];
  for (const x of parts) {
    for (let s = 0; s < x.v1.length / SECTOR; s++) {
      let same = true;
      for (let i = s * SECTOR; i < (s + 1) * SECTOR; i++) if (x.v1[i] !== x.v2[i]) (same = false), (i = Infinity);
      if (same) continue;
      const lba = x.start / SECTOR + s;
      const last = changed[changed.length - 1];
      if (last && last[1] === lba) last[1]++;
      else changed.push([lba, lba + 1]);
    }
  }
  return { fill, changed };
}
