import { closeSync, openSync, readSync } from 'node:fs';
import { DATA_OFFSET, type Manifest } from '../builders/vmfs/index.js';

/**
 * ESXi's VMFS6 resource layout checked from the dump's raw bytes the way dissect.vmfs reads it
 * (docs/format-notes.md [S dissect.vmfs]), without our reader: debugvmfs6 reads files on such a
 * volume but not its cluster metadata, so this is the structural check of what the builder writes.
 *
 * - Every resource file header carries 'rfmd' at 0x20.
 * - .fbb.sf: the header at 0 counts 512 MiB LFB slots; childMetaOffset (0x34) names the SFB
 *   level, whose header has flags 0x2 and the parent's R, C, G at 0x38, 0x3C, 0x40. The child's
 *   cluster group g sits at clusterGroupOffset + pg × parentG + parentC × H + pcig × G (pg, pcig =
 *   divmod(g, parentC × parentR / C)), and its cluster headers follow in it H bytes apart.
 * - Every cluster header's metadata block (at + mdAlignment) holds 'rcmd' at 0x10, the cluster
 *   number as u64 at 0x18 and u16 total / free at 0x20 / 0x22.
 *
 * Returns per resource its item count and the sum of the 'rcmd' free counts, for comparison with
 * what the builder allocated.
 */
/**
 * Byte ranges of the LUN file holding ESXi's resource metadata (for fuzzing): the .fdc.sf and
 * .sbc.sf headers and cluster headers, and .fbb.sf's two headers and both levels' cluster headers.
 */
export function esxiMetadataRegions(m: Manifest): [name: string, lunOffset: number, length: number][] {
  const lun = m.luns[0]!;
  const base = lun.partitionOffset + DATA_OFFSET;
  const fh = openSync(lun.path, 'r');
  try {
    const slot0 = (r: number): number => {
      const b = new Uint8Array(8);
      readSync(fh, b, 0, 8, base + 7 * 1024 * 1024 + 0x10000 + 16 * 8192 + r * 8192 + 0x1600);
      const v = new DataView(b.buffer).getBigUint64(0, true);
      return (Number((v >> 15n) & 0x7fffffffn) * 512 + Number(v >> 51n)) * 1024 * 1024;
    };
    const fbb = slot0(1);
    return [
      ['.fdc.sf cluster headers', base + slot0(2), 0x10000 + 16 * 8192],
      ['.sbc.sf cluster headers', base + slot0(4), 0x10000 + 16 * 8192],
      ['.fbb.sf headers and LFB clusters', base + fbb, 0x10000 + 16 * 8192],
      ['.fbb.sf SFB clusters', base + fbb + 0x10000 + 16 * 8192, 4 * 8192],
    ];
  } finally {
    closeSync(fh);
  }
}

export function checkEsxiLayout(m: Manifest): Record<string, { total: number; free: number; clusters: number }> {
  const lun = m.luns[0]!;
  const base = lun.partitionOffset + DATA_OFFSET;
  const fh = openSync(lun.path, 'r');
  const read = (vol: number, n: number): DataView => {
    const b = new Uint8Array(n);
    readSync(fh, b, 0, n, base + vol);
    return new DataView(b.buffer);
  };
  const MD = 4096;
  const H = 2 * MD;
  const FD = 8192;
  try {
    const fsd = read(0x200000, 0x200);
    if (fsd.getUint32(0x134, true) !== MD) throw new Error('mdAlignment is not 4096');
    const cgo = fsd.getUint32(0xd1, true);
    const cpg = fsd.getUint32(0xd5, true);
    const fdcBase = 7 * 1024 * 1024;
    // System FD (cluster 0, resource r) before .fdc.sf is open; its slot 0 (an SFB) names where the
    // file starts. The builder keeps each system file in consecutive blocks.
    const fileStart = (r: number): number => {
      const fd = fdcBase + cgo + cpg * H + r * FD;
      const lock = read(fd, 16);
      if (lock.getUint32(0, true) !== 0x10c00001 || Number(lock.getBigUint64(4, true)) !== fd) throw new Error(`system FD ${r}: no lock at its place`);
      const slot = read(fd + 0x1600, 8).getBigUint64(0, true);
      if ((slot & 7n) !== 1n) throw new Error(`system FD ${r}: slot 0 is not an SFB`);
      return (Number((slot >> 15n) & 0x7fffffffn) * 512 + Number(slot >> 51n)) * 1024 * 1024;
    };
    const out: Record<string, { total: number; free: number; clusters: number }> = {};
    const rcmd = (name: string, hdr: number, cluster: number): { total: number; free: number } => {
      const md = read(hdr + MD, 0x28);
      if (md.getUint32(0x10, true) !== 0x72636d64) throw new Error(`${name} cluster ${cluster}: no 'rcmd' at +0x10`);
      const num = md.getBigUint64(0x18, true);
      if (num !== BigInt(cluster)) throw new Error(`${name} cluster ${cluster}: 'rcmd' names cluster ${num}`);
      return { total: md.getUint16(0x20, true), free: md.getUint16(0x22, true) };
    };
    const header = (at: number) => {
      const h = read(at, 0x58);
      const u = (o: number) => h.getUint32(o, true);
      if (u(0x20) !== 0x72666d64) throw new Error(`resource header at ${at.toString(16)}: no 'rfmd'`);
      return { R: u(0), C: u(4), cgo: u(8), S: u(0xc), G: u(0x10), n: u(0x14), groups: u(0x18), flags: u(0x28), child: u(0x34), pR: u(0x38), pC: u(0x3c), pG: u(0x40) };
    };
    const flat = (name: string, start: number, h: ReturnType<typeof header>) => {
      let total = 0;
      let free = 0;
      const clusters = Math.ceil(h.n / Math.max(1, h.R));
      for (let c = 0; c < clusters; c++) {
        const at = start + h.cgo + Math.floor(c / h.C) * h.G + (c % h.C) * H;
        const x = rcmd(name, at, c);
        total += x.total;
        free += x.free;
      }
      out[name] = { total, free, clusters };
    };
    for (const [name, r] of [['.fdc.sf', 2], ['.sbc.sf', 4]] as const) {
      const start = fileStart(r);
      const h = header(start);
      if (h.G !== h.C * (H + h.R * h.S)) throw new Error(`${name}: G != C × (H + R × S)`);
      flat(name, start, h);
    }
    const fbb = fileStart(1);
    const p = header(fbb);
    if (p.child === 0) throw new Error('.fbb.sf: childMetaOffset is 0 (one level)');
    flat('.fbb.sf', fbb, p);
    const c = header(fbb + p.child);
    if ((c.flags & 2) === 0 || c.pR !== p.R || c.pC !== p.C || c.pG !== p.G) throw new Error('.fbb.sf child: flags 0x2 and the parent geometry expected');
    const perParentGroup = (c.pC * c.pR) / c.C;
    let total = 0;
    let free = 0;
    const clusters = Math.ceil(c.n / c.R);
    for (let k = 0; k < clusters; k++) {
      const g = Math.floor(k / c.C);
      const groupAt = fbb + c.cgo + Math.floor(g / perParentGroup) * c.pG + c.pC * H + (g % perParentGroup) * c.G;
      const x = rcmd('.fbb.sf (SFB)', groupAt + (k % c.C) * H, k);
      total += x.total;
      free += x.free;
    }
    out['.fbb.sf (SFB)'] = { total, free, clusters };
    return out;
  } finally {
    closeSync(fh);
  }
}
