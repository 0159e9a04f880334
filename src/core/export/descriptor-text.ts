import { UnsupportedError } from '../errors.js';
import { SECTOR } from '../util/struct.js';

/** What an exported descriptor says; the text follows vmdk-format.md §2.7 / §7.1 (qemu- and libvmdk-proof). */
export interface DescriptorSpec {
  createType: 'monolithicFlat' | 'monolithicSparse' | 'streamOptimized' | 'vmfs';
  capacityBytes: number;
  extentType: 'FLAT' | 'SPARSE' | 'VMFS';
  extentFile: string;
  cid: string;
  /** Extra `ddb.*` entries (e.g. copied from the source base descriptor); keys without the `ddb.` prefix. */
  ddb?: Record<string, string>;
}

/** A fresh random content ID, 8 lower-case hex digits (never ffffffff/fffffffe, which mean "none"/"unknown"). */
export function randomCid(): string {
  const v = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(v);
    if (v[0]! < 0xfffffffe) return v[0]!.toString(16).padStart(8, '0');
  }
}

function quoteSafe(name: string): string {
  if (/["\r\n]/.test(name)) throw new UnsupportedError(`cannot write a descriptor naming ${JSON.stringify(name)}: quotes and newlines are not allowed in extent file names`);
  return name;
}

export function descriptorText(d: DescriptorSpec): string {
  if (d.capacityBytes % SECTOR !== 0) throw new UnsupportedError(`capacity ${d.capacityBytes} is not a whole number of sectors`);
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
  // FLAT needs its sector offset, VMFS must not have one (qemu, §2.7).
  const offset = d.extentType === 'FLAT' ? ' 0' : '';
  const lines = [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    `CID=${d.cid}`,
    'parentCID=ffffffff',
    `createType="${d.createType}"`,
    '',
    '# Extent description',
    `RW ${sectors} ${d.extentType} "${quoteSafe(d.extentFile)}"${offset}`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    ...Object.entries(ddb).map(([k, v]) => `ddb.${k} = "${v.replace(/["\r\n]/g, '')}"`),
    '',
  ];
  return lines.join('\n');
}
