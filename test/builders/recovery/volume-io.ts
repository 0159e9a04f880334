import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { DATA_OFFSET, type LunInfo, type Manifest, type ManifestEntry } from '../vmfs/index.js';
import type { Geometry } from '../../../src/core/synth/vmfs/geometry.js';
import { MAGIC, Resource } from '../../../src/core/synth/vmfs/resource.js';
import { run } from '../../helpers/tools.js';

/** Positional access to the volume of a built single-LUN dump, for the recovery builders' edits after buildVmfs. */
export interface VolumeIo {
  lun: LunInfo;
  /** Byte offset of volume offset 0 in the LUN file. */
  volBase: number;
  put(volOffset: number, b: Uint8Array): void;
  get(volOffset: number, n: number): Uint8Array;
  entry(path: string): ManifestEntry;
  close(): void;
}

export function openVolume(m: Manifest): VolumeIo {
  const lun = m.luns[0]!;
  const volBase = lun.partitionOffset + DATA_OFFSET;
  const fh = openSync(lun.path, 'r+');
  return {
    lun,
    volBase,
    put(volOffset, b) {
      let done = 0;
      while (done < b.length) done += writeSync(fh, b, done, b.length - done, volBase + volOffset + done);
    },
    get(volOffset, n) {
      const b = new Uint8Array(n);
      readSync(fh, b, 0, n, volBase + volOffset);
      return b;
    },
    entry: (p) => m.entries.find((e) => e.path === p)!,
    close: () => closeSync(fh),
  };
}

/** Positional reads of a host file (a delta the builders copy into a dump), zeros past its end. */
export function fileReader(file: string): { read: (off: number, n: number) => Uint8Array; close: () => void } {
  const fh = openSync(file, 'r');
  return {
    read(off, n) {
      const b = new Uint8Array(n);
      readSync(fh, b, 0, n, off);
      return b;
    },
    close: () => closeSync(fh),
  };
}

/**
 * The builder's .fdc.sf (`perCluster` rows and clusters per group, FDs of `fdSize` bytes, from
 * block `startBlock`) and the volume offset of the descriptor at an FD address in it.
 */
export function fdcLocator(g: Geometry, perCluster: number, fdSize: number, startBlock: number): { fdc: Resource; fdVol: (addr: number) => number } {
  const fdc = new Resource(g, '.fdc.sf', MAGIC.fdc, 2, perCluster, perCluster, fdSize, 1, perCluster * perCluster);
  fdc.startBlock = startBlock;
  return { fdc, fdVol: (addr) => fdc.itemVolOffset(((addr >>> 6) & 0xffff) * perCluster + (addr >>> 22)) };
}

/** Throws unless the root directory's FD sits where `fdVol` says (the builders' geometry assumptions hold). */
export function checkRootFd(io: VolumeIo, fdVol: (addr: number) => number, rootAddr: number, builder: string): void {
  const root = new DataView(io.get(fdVol(rootAddr), 16).buffer);
  if (root.getUint32(0, true) !== 0x10c00001 || Number(root.getBigUint64(4, true)) !== fdVol(rootAddr)) throw new Error(`${builder} builder: FDC geometry assumption broken`);
}

/** Cuts a GPT LUN's VMFS partition into its own sparse file, as a user would with dd (debugvmfs and debugvmfs6 find partitions only in an MBR). */
export function extractPartition(lun: LunInfo, out: string): string {
  run('dd', [`if=${lun.path}`, `of=${out}`, 'bs=1M', `skip=${lun.partitionOffset / (1 << 20)}`, `count=${lun.partitionLength / (1 << 20)}`, 'conv=sparse', 'status=none']);
  return out;
}
