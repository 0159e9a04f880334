import { closeSync, copyFileSync, constants, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { buildVmfs as buildVmfsCore } from '../../src/core/synth/vmfs/vmfs-builder.js';
import type { FileSpec, Manifest } from '../builders/vmfs/index.js';
import { MiB, DATA_OFFSET } from '../builders/vmfs/index.js';
import type { PositionalWriter } from '../../src/core/synth/vmfs/writer.js';
import { nodeSha256 } from '../builders/vmfs/sparse-file.js';

/**
 * Deleted / re-created datastore dumps for the deep search: one generated VMFS5 or VMFS6 volume,
 * then copies damaged three ways: (a) GPT and LVM header zeroed, (b) the FS descriptor zeroed too,
 * (c) a new empty datastore formatted over the same partition (the builder run again over the
 * same file: it writes its own system files, cluster headers, system FDs, root directory, LVM and
 * GPT, and nothing else).
 */

/** Files exercising every addressing mode the builder has, in a small volume. */
export function deepFiles(version: 5 | 6): FileSpec[] {
  const files: FileSpec[] = [
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 2900 },
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: 512 },
    // debugvmfs6 stops at the first zero slot of a direct file: VMFS6 keeps direct holes at the end.
    { path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: 24 * MiB, blocks: (version === 6 ? [0, 1, 2] : [0, 3, 23]).map((i) => ({ index: i, content: 'data' as const })) },
    { path: '/vm1/sub/deep.txt', kind: 'resident', size: 300 },
    { path: '/vm2/vm2-flat.vmdk', kind: 'blocks', size: 400 * MiB + 5, blocks: [0, 1, 200, 399, 400].map((i) => ({ index: i, content: 'data' as const })) },
    { path: '/vm2/vm2.vmdk', kind: 'resident', size: 480 },
    { path: '/notes.txt', kind: 'blocks', size: 3 * MiB, blocks: [0, 1, 2].map((i) => ({ index: i, content: 'data' as const, dataLength: MiB })) },
    { path: '/link', kind: 'symlink', target: '/vm1/vm1.vmx' },
  ];
  if (version === 6) files.push({ path: '/big/lfb-flat.vmdk', kind: 'lfb', size: 512 * MiB, data: [{ offset: 0, length: 65536 }, { offset: 300 * MiB, length: 4096 }] });
  return files;
}

/** Positional writes into an existing file, never truncating it (a format over old bytes). */
export class OverwriteFile implements PositionalWriter {
  private fd: number;
  constructor(readonly name: string, readonly size: number) {
    this.fd = openSync(name, constants.O_RDWR);
    if (statSync(name).size !== size) ftruncateSync(this.fd, size);
  }
  write(offset: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Zeroes [at, at + len) of a dump in place (a wiped table or header). */
export function zeroRange(file: string, at: number, len: number): void {
  const fd = openSync(file, constants.O_RDWR);
  try {
    const z = new Uint8Array(Math.min(len, MiB));
    for (let done = 0; done < len; done += z.length) writeSync(fd, z, 0, Math.min(z.length, len - done), at + done);
  } finally {
    closeSync(fd);
  }
}

export interface DeepDumps {
  manifest: Manifest;
  original: string;
  /** GPT and LVM header zeroed. */
  a: string;
  /** GPT, LVM header and FS descriptor zeroed. */
  b: string;
  /** A new empty datastore formatted over the partition. */
  c: string;
  newManifest: Manifest;
  partitionOffset: number;
  origin: number;
}

/** `reformatAs`: the version of the new datastore of variant c (default: the same). */
export async function buildDeepDumps(dir: string, version: 5 | 6, reformatAs: 5 | 6 = version): Promise<DeepDumps> {
  const segments = version === 6 ? 4 : 2;
  const name = `deep${version}`;
  const manifest = await buildVmfsCore({
    version, name, label: `old-ds${version}`, seed: 40 + version, files: deepFiles(version), luns: [{ scheme: 'gpt', segments }], hasher: nodeSha256,
    createLun: (f, size) => {
      const p = path.join(dir, f);
      closeSync(openSync(p, 'w'));
      return new OverwriteFile(p, size);
    },
  });
  const original = manifest.luns[0]!.path;
  const lun = manifest.luns[0]!;
  const origin = lun.partitionOffset + DATA_OFFSET;
  const copy = (tag: string) => {
    const p = path.join(dir, `${name}-${tag}.img`);
    copyFileSync(original, p);
    return p;
  };
  const wipeTables = (p: string) => {
    zeroRange(p, 0, 34 * 512);
    zeroRange(p, lun.size - 33 * 512, 33 * 512);
    zeroRange(p, lun.partitionOffset + 0x100000, MiB);
  };
  const a = copy('a');
  wipeTables(a);
  const b = copy('b');
  wipeTables(b);
  zeroRange(b, origin + 0x200000, 512);
  const c = copy('c');
  const newManifest = await buildVmfsCore({
    version: reformatAs, name: `${name}-new`, label: `new-ds${reformatAs}`, seed: 90 + version, files: [], luns: [{ scheme: 'gpt', segments: reformatAs === 6 ? 4 : 2 }], hasher: nodeSha256,
    createLun: (_f, size) => new OverwriteFile(c, size),
  });
  return { manifest, original, a, b, c, newManifest, partitionOffset: lun.partitionOffset, origin };
}
