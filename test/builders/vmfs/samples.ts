import { MiB, SEGMENT } from '../../../src/core/synth/vmfs/geometry.js';
import type { BlockSpec, BuildOptions, FileSpec, LunSpec } from './vmfs-builder.js';

/**
 * Standard synthetic datastores used by the oracle tests, the reader tests and the bench.
 * Sizes are apparent: data blocks hold at most 64 KiB of real bytes.
 */

const range = (from: number, to: number, f: (i: number) => BlockSpec): BlockSpec[] =>
  Array.from({ length: to - from }, (_, k) => f(from + k));

/** VMFS5: several VMs, resident/sub-block/thin/thick files, pointer blocks with TBZ blocks, symlink, RDM. */
export function vmfs5Files(): FileSpec[] {
  return [
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 2900 },
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: 512 },
    { path: '/vm1/vm1.nvram', kind: 'subblock', size: 8192 },
    // thick (eager): every block allocated, data in a few, blocks deliberately not contiguous
    {
      path: '/vm1/vm1-flat.vmdk', kind: 'blocks', size: 64 * MiB,
      blocks: range(0, 64, (i) => ({ index: i, content: i === 0 || i === 17 || i === 63 ? 'data' : 'zero', at: i < 8 ? 300 + (7 - i) : undefined })),
    },
    { path: '/vm2/vm2.vmdk', kind: 'resident', size: 480 },
    { path: '/vm2/vm2.log', kind: 'resident', size: 1024 },
    // thin: holes in the middle, a partial last block
    {
      path: '/vm2/vm2-flat.vmdk', kind: 'blocks', size: 40 * MiB + 12345,
      blocks: [
        { index: 0, content: 'data' },
        { index: 5, content: 'data', dataLength: MiB },
        { index: 39, content: 'data' },
        { index: 40, content: 'data' },
      ],
    },
    { path: '/vm2/vm2-rdm.vmdk', kind: 'rdm', size: 10 * 1024 * MiB },
    // > 256 blocks: pointer blocks; zeroedthick-like: 300 TBZ blocks (some with stale bytes), a
    // hole where a whole PB is missing, and data blocks far apart
    {
      path: '/vm3/vm3-flat.vmdk', kind: 'blocks', size: 2304 * MiB,
      blocks: [
        { index: 0, content: 'data' },
        ...range(1, 301, (i) => ({ index: i, content: 'tbz' as const, garbage: i % 50 === 1 })),
        { index: 700, content: 'data' },
        { index: 1023, content: 'data' },
        { index: 2100, content: 'data' },
        { index: 2303, content: 'data', dataLength: 4096 },
      ],
    },
    { path: '/vm3/vm3.vmdk', kind: 'resident', size: 600 },
    { path: '/iso/tools.bin', kind: 'blocks', size: 2 * MiB + 777, blocks: range(0, 3, (i) => ({ index: i, content: 'data' as const, dataLength: MiB })) },
    { path: '/link-to-vm1', kind: 'symlink', target: '/vm1/vm1.vmx' },
    { path: '/empty', kind: 'dir' },
  ];
}

/** VMFS6: SFB and LFB disks, pointer blocks as sub-blocks, double indirection, a hashed dir with many entries. */
export function vmfs6Files(): FileSpec[] {
  const many: FileSpec[] = Array.from({ length: 40 }, (_, i) => ({
    path: `/many/file-${String(i).padStart(2, '0')}.txt`, kind: 'resident' as const, size: 100 + i * 20,
  }));
  return [
    { path: '/vm1/vm1.vmx', kind: 'subblock', size: 3000 },
    { path: '/vm1/vm1.vmdk', kind: 'resident', size: 520 },
    // thick on large file blocks: 2 × 512 MiB
    {
      path: '/vm1/vm1-flat.vmdk', kind: 'lfb', size: 1024 * MiB,
      data: [{ offset: 0, length: 65536 }, { offset: 300 * MiB + 5, length: 1000 }, { offset: 600 * MiB, length: 4096 }],
    },
    { path: '/vm2/vm2.vmdk', kind: 'resident', size: 500 },
    // thin on small file blocks; holes only after the last block (see the debugvmfs6 note)
    {
      path: '/vm2/vm2-flat.vmdk', kind: 'blocks', size: 48 * MiB,
      blocks: [{ index: 0, content: 'data' }, { index: 1, content: 'zero' }, { index: 2, content: 'data', dataLength: MiB }],
    },
    // > 320 blocks: pointer blocks (64 KiB sub-blocks of u64), TBZ blocks with stale bytes, holes
    {
      path: '/vm3/vm3-flat.vmdk', kind: 'blocks', size: 600 * MiB,
      blocks: [
        { index: 0, content: 'data' },
        ...range(10, 210, (i) => ({ index: i, content: 'tbz' as const, garbage: i % 40 === 10 })),
        { index: 333, content: 'data' },
        { index: 599, content: 'data' },
      ],
    },
    // double indirection (ZLA 4304)
    {
      path: '/vm4/vm4-flat.vmdk', kind: 'blocks', size: 700 * MiB, addressing: 'double',
      blocks: [{ index: 0, content: 'data' }, { index: 650, content: 'data' }],
    },
    ...many,
    { path: '/link-to-vm1', kind: 'symlink', target: '/vm1/vm1.vmx' },
  ];
}

/** Files of the spanned VMFS5 volume: data on both extents (extent 1 starts at block 1024). */
export function spannedFiles(): FileSpec[] {
  return [
    { path: '/span/small.txt', kind: 'subblock', size: 5000 },
    {
      path: '/span/big-flat.vmdk', kind: 'blocks', size: 600 * MiB,
      blocks: [
        { index: 0, content: 'data', at: 100 },
        { index: 1, content: 'data', at: 1500 },
        { index: 300, content: 'data', at: 2000 },
        { index: 599, content: 'data', at: 1023, dataLength: MiB },
        { index: 598, content: 'data', at: 1024, dataLength: MiB },
      ],
    },
    { path: '/span/note.txt', kind: 'resident', size: 700 },
  ];
}

export function standardBuild(kind: 'vmfs5' | 'vmfs6' | 'span5' | 'span6', dir: string, luns?: LunSpec[]): BuildOptions {
  switch (kind) {
    case 'vmfs5':
      return { version: 5, dir, name: 'vmfs5', label: 'synth-ds5', seed: 5, files: vmfs5Files(), luns: luns ?? [{ scheme: 'gpt', segments: 12 }] };
    case 'vmfs6':
      return { version: 6, dir, name: 'vmfs6', label: 'synth-ds6', seed: 6, files: vmfs6Files(), luns: luns ?? [{ scheme: 'gpt', segments: 16 }] };
    case 'span5':
      return {
        version: 5, dir, name: 'span5', label: 'span-ds5', seed: 55, files: spannedFiles(),
        luns: luns ?? [{ scheme: 'gpt', segments: 4 }, { scheme: 'gpt', segments: 5 }],
      };
    case 'span6':
      return {
        version: 6, dir, name: 'span6', label: 'span-ds6', seed: 66, files: spannedFiles(),
        luns: luns ?? [{ scheme: 'gpt', segments: 4 }, { scheme: 'gpt', segments: 5 }],
      };
  }
}

export { SEGMENT };
