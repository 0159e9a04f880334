import { UnsupportedError } from '../errors.js';
import { SECTOR } from '../util/struct.js';
import { NO_PARENT_CID, serializeDescriptor } from '../vmdk/descriptor.js';

/** What an exported descriptor says; the text is serializeDescriptor's (docs/format-notes.md "VMDK text descriptor"). */
export interface DescriptorSpec {
  createType: 'monolithicFlat' | 'monolithicSparse' | 'streamOptimized' | 'vmfs';
  capacityBytes: number;
  extentType: 'FLAT' | 'SPARSE' | 'VMFS';
  extentFile: string;
  cid: string;
  /** Extra `ddb.*` entries (e.g. copied from the source chain); keys without the `ddb.` prefix. */
  ddb?: Record<string, string>;
}

/**
 * The descriptor of an exported (standalone, parentless) disk: default DDB entries, which
 * `spec.ddb` overrides. Values lose quotes and line breaks rather than failing the export.
 */
export function exportDescriptorText(d: DescriptorSpec): string {
  if (d.capacityBytes % SECTOR !== 0) throw new UnsupportedError(`capacity ${d.capacityBytes} is not a whole number of sectors`);
  // qemu reads the extent name up to the next quote (docs/format-notes.md "VMDK text descriptor"): a name with one cannot be written.
  if (/["\r\n]/.test(d.extentFile)) {
    throw new UnsupportedError(`cannot write a descriptor naming ${JSON.stringify(d.extentFile)}: quotes and newlines are not allowed in extent file names`);
  }
  const sectors = d.capacityBytes / SECTOR;
  // Legacy SCSI geometry; VMware caps cylinders at 65535 in descriptors it writes.
  const cylinders = Math.min(65535, Math.max(1, Math.floor(sectors / (255 * 63))));
  const ddb: Record<string, string> = {
    adapterType: 'lsilogic',
    'geometry.cylinders': String(cylinders),
    'geometry.heads': '255',
    'geometry.sectors': '63',
    virtualHWVersion: '4',
    ...d.ddb,
  };
  for (const k of Object.keys(ddb)) ddb[k] = ddb[k]!.replace(/["\r\n\0]/g, '');
  return serializeDescriptor({
    version: 1,
    encoding: 'UTF-8',
    cid: d.cid,
    parentCid: NO_PARENT_CID,
    createType: d.createType,
    parentFileNameHint: null,
    extents: [{ access: 'RW', sectors, type: d.extentType, fileName: d.extentFile, offset: 0 }],
    ddb,
    header: {},
  });
}
