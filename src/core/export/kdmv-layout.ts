import { SECTOR } from '../util/struct.js';
import { randomCid } from '../vmdk/descriptor.js';
import type { WriterContext } from './disk-writer.js';
import { exportDescriptorText, type DescriptorSpec } from './export-descriptor.js';

/** What the KDMV writers choose (the header itself is vmdk/formats/kdmv-header.ts). */
export const GRAIN_SECTORS = 128; // 64 KiB grains
export const GTES_PER_GT = 512;
export const DESCRIPTOR_SECTORS = 20;

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
export const roundUp = (a: number, b: number): number => Math.ceil(a / b) * b;

/** Descriptor text padded with NULs to `sectors` sectors (the reader stops at the first NUL). */
export function descriptorSectors(text: string, sectors: number, name: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length >= sectors * SECTOR) throw new RangeError(`${name}: descriptor of ${bytes.length} bytes does not fit in ${sectors} sectors`);
  const out = new Uint8Array(sectors * SECTOR);
  out.set(bytes);
  return out;
}

/** The embedded descriptor sectors of a single-file KDMV export (its SPARSE extent names the file itself). */
export function embeddedDescriptor(ctx: WriterContext, createType: DescriptorSpec['createType']): Uint8Array {
  const text = exportDescriptorText({
    createType,
    capacityBytes: ctx.capacity,
    extentType: 'SPARSE',
    extentFile: ctx.fileName.slice(ctx.fileName.lastIndexOf('/') + 1),
    cid: randomCid(),
    ...(ctx.ddb ? { ddb: ctx.ddb } : {}),
  });
  return descriptorSectors(text, DESCRIPTOR_SECTORS, ctx.fileName);
}
