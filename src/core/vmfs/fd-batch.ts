import { RescueError } from '../errors.js';
import { bulkBuffer, readInto } from '../io/read-into.js';
import { decodeFd } from './address.js';
import { parseFd, type FileDescriptor } from './fd.js';
import type { VmfsFs } from './filesystem.js';

/** Largest read forEachFd makes, and the widest gap between two FDs that one read still spans. */
const SPAN_MAX = 256 * 1024;
const GAP_MAX = 64 * 1024;

/**
 * The FDs of many addresses (a directory listing) in a few large reads: each FD's volume offset
 * as fs.fd finds it, then FDs that lie close together read in one span and parsed in place (no
 * copy, no per-FD read through the block cache). `visit(i, fd)` gets each address's FD, or the
 * RescueError that fs.fd gives for it (an FD whose offset or span cannot be read is left to
 * fs.fd), once, in no particular order. The spans share one buffer, so an FD passed to `visit`
 * (its raw bytes and slots are views of that buffer) is valid during the call only: keep the
 * fields, not the FD (a fresh buffer per span would cost more in page faults than the reads).
 */
export async function forEachFd(fs: VmfsFs, addresses: readonly number[], visit: (i: number, fd: FileDescriptor | RescueError) => void): Promise<void> {
  const done = new Uint8Array(addresses.length);
  const fdSize = fs.L.fdSize;
  const placed: { i: number; at: number }[] = [];
  // Within one file block of .fdc.sf, FDs lie as they lie in the file: one fs.fdVolOffset per block
  // places the rest of its FDs (a 2000-entry folder costs a few dozen block-map lookups, not 2000).
  const fdc = fs.fdc;
  const blocks = new Map<number, { off: number; at: number }>();
  const special = new Set([fs.d.pb2FdAddr, fs.d.sddFdAddr]);
  // The unit within which .fdc.sf's bytes are contiguous on the volume: its block (or sub-block) size.
  const granule = fdc ? Math.min(2 ** fdc.content.fd.shift, fs.L.blockSize) : 1;
  for (let i = 0; i < addresses.length; i++) {
    const a = addresses[i]!;
    if ((a & 7) !== 4) continue;
    let at = -1;
    const { cluster, resource } = decodeFd(a);
    let off = -1;
    if (fdc && !special.has(a) && cluster < fdc.totalClusters && resource < fdc.h.R) {
      try {
        off = fdc.itemOffset(cluster, resource);
      } catch (e) {
        rescueOr(e, 0);
      }
    }
    const key = Math.floor(off / granule);
    // Only an FD wholly inside one granule is placed from another one's offset.
    const inFdc = off >= 0 && off + fdSize <= (key + 1) * granule;
    const known = inFdc ? blocks.get(key) : undefined;
    if (known) at = known.at + (off - known.off);
    else {
      at = await fs.fdVolOffset(a).catch((e: unknown) => rescueOr(e, -1));
      if (inFdc && at >= 0) blocks.set(key, { off, at });
    }
    if (at >= 0 && at + fdSize <= fs.vol.size) placed.push({ i, at });
  }
  placed.sort((x, y) => x.at - y.at);
  let buf: Uint8Array | undefined;
  for (let k = 0; k < placed.length; ) {
    const start = placed[k]!.at;
    let end = start + fdSize;
    let m = k + 1;
    while (m < placed.length && placed[m]!.at + fdSize - start <= SPAN_MAX && placed[m]!.at - end <= GAP_MAX) end = Math.max(end, placed[m++]!.at + fdSize);
    // Page-aligned at an FD boundary (readInto's bulkBuffer), so VMFS3/5 slot views are aligned too.
    buf ??= bulkBuffer(SPAN_MAX + fdSize);
    const span = buf.subarray(0, end - start);
    const ok = await readInto(fs.vol, start, span).then(() => true, (e: unknown) => rescueOr(e, false));
    if (ok) {
      for (let j = k; j < m; j++) {
        const { i, at } = placed[j]!;
        let fd: FileDescriptor | RescueError;
        try {
          fd = parseFd(span.subarray(at - start, at - start + fdSize), addresses[i]!, at, fs.L, fs.d.majorVersion, fs.name);
        } catch (e) {
          fd = rescueOr(e, e as RescueError);
        }
        done[i] = 1;
        visit(i, fd);
      }
    }
    k = m;
  }
  // Whatever is left (a bad address, an unmapped FD, a failed read) gets fs.fd's own answer.
  for (let i = 0; i < addresses.length; i++) {
    if (!done[i]) visit(i, await fs.fd(addresses[i]!).catch((e: unknown) => rescueOr(e, e as RescueError)));
  }
}

/** `v` when `e` is a RescueError (bad metadata: that entry's answer, or left to fs.fd), else `e` rethrown. */
function rescueOr<T>(e: unknown, v: T): T {
  if (!(e instanceof RescueError)) throw e;
  return v;
}
