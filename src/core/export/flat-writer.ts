import { randomCid } from '../vmdk/descriptor.js';
import { exportDescriptorText } from './export-descriptor.js';
import type { DiskWriter, WriterContext } from './disk-writer.js';
import { RawImageWriter } from './raw-writer.js';

/** `disk.vmdk` → `disk-flat.vmdk` (VMware's naming for the data file of a flat disk). */
export function flatDataName(descriptorName: string): string {
  return descriptorName.toLowerCase().endsWith('.vmdk') ? `${descriptorName.slice(0, -5)}-flat.vmdk` : `${descriptorName}-flat.vmdk`;
}

/** monolithicFlat: a text descriptor plus a raw data file (FLAT extent at offset 0; docs/format-notes.md "Hosted sparse (KDMV) and streamOptimized"). */
export async function createFlatWriter(ctx: WriterContext): Promise<DiskWriter> {
  const dataName = flatDataName(ctx.fileName);
  const dataFile = dataName.slice(dataName.lastIndexOf('/') + 1);
  const text = exportDescriptorText({
    createType: 'monolithicFlat',
    capacityBytes: ctx.capacity,
    extentType: 'FLAT',
    extentFile: dataFile,
    cid: randomCid(),
    ...(ctx.ddb ? { ddb: ctx.ddb } : {}),
  });
  const descBytes = new TextEncoder().encode(text);
  const descSink = await ctx.create(ctx.fileName);
  const data = new RawImageWriter(await ctx.create(dataName), ctx.capacity);
  return {
    files: [ctx.fileName, dataName],
    releasesData: true,
    put: (p) => data.put(p),
    async finish() {
      await data.finish();
      await descSink.write(0, descBytes);
      await descSink.close();
    },
    bytesWritten: () => data.bytesWritten() + descBytes.length,
  };
}
