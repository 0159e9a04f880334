import { describe, expect, it } from 'vitest';
import { CancelledError, CidMismatchError, CorruptError, MissingFileError, OutOfRangeError, UnsupportedError, UserError } from '../../src/core/errors.js';
import { TruncatedDumpError, VolumeHoleError } from '../../src/core/vmfs/lvm.js';
import { errName, firstLine, nextStep, oneLine } from '../../src/app/state/errors.js';

/** As an error arrives from a worker: a plain Error carrying the class name (src/workers/common.ts). */
const fromWorker = (e: Error): Error => Object.assign(new Error(e.message), { name: e.name });
const dom = (name: string, message: string): Error => Object.assign(new Error(message), { name });

describe('app error lines: what happened, then what to do', () => {
  it('keeps the core message first and in one line', () => {
    const e = fromWorker(new CorruptError('lun0.img: bad FS3 magic 0x12345678 at 0x200000\nsecond line'));
    const line = oneLine(e);
    expect(line.startsWith('lun0.img: bad FS3 magic 0x12345678 at 0x200000: ')).toBe(true);
    expect(line).not.toContain('\n');
    expect(firstLine(e)).toBe('lun0.img: bad FS3 magic 0x12345678 at 0x200000');
  });

  it('a dump cut short says so and what can still be read, not "pick the other LUNs"', () => {
    const e = fromWorker(new TruncatedDumpError('vol', 0x2100600, { dump: 'lun0.img', cutAt: 0x3300600, missingBytes: 1234, volumeOffset: 0x2100600 }));
    expect(errName(e)).toBe('TruncatedDumpError');
    const line = oneLine(e);
    expect(line).toMatch(/^lun0\.img ends 1234 bytes before the volume does \(cut at offset 0x3300600\)/);
    expect(line).toContain('copy the LUN again in full');
    expect(line).not.toContain('pick the other LUN dumps');
  });

  it('a missing LUN of a spanned volume asks for the other dumps', () => {
    const e = fromWorker(new VolumeHoleError('vol', 0x40000000, 'extent 2 (LUN naa.600)'));
    expect(errName(e)).toBe('VolumeHoleError');
    const line = oneLine(e);
    expect(line).toContain('pick the other LUN dumps of this volume too');
    expect(line).not.toContain('--image'); // the CLI's hint is not the app's
    expect(line).toContain('extent 2 (LUN naa.600)');
  });

  it('a file without VMFS points at the right kind of file', () => {
    const line = oneLine(fromWorker(new CorruptError('not-a-lun.img: no VMFS found (no GPT/MBR VMFS partition)')));
    expect(line).toBe('not-a-lun.img: no VMFS found (no GPT/MBR VMFS partition): pick the raw dump of a whole datastore LUN or of its VMFS partition (for .vmdk files, use Open VMDK files)');
  });

  it('a missing parent asks for the parent disk, a missing extent for the extent files', () => {
    const parent = fromWorker(new MissingFileError('base.vmdk', 'missing parent base.vmdk ("base.vmdk" referenced by vm-000001.vmdk)'));
    expect(oneLine(parent)).toMatch(/referenced by vm-000001\.vmdk\): pick the parent disk/);
    const extent = fromWorker(new MissingFileError('vm-flat.vmdk', 'missing extent vm-flat.vmdk ("vm-flat.vmdk" referenced by vm.vmdk)'));
    expect(oneLine(extent)).toContain(': pick the extent files');
    expect(oneLine(fromWorker(new MissingFileError('x.bin')))).toContain('missing file: x.bin: pick that file too');
  });

  it('a CID mismatch names the values and offers the app button, not the CLI flag', () => {
    const line = oneLine(fromWorker(new CidMismatchError('child.vmdk', 'base.vmdk', '0badc1d0', '11223344')));
    expect(line).toContain('CID mismatch: child.vmdk has parentCID=0badc1d0 but its parent base.vmdk has CID=11223344');
    expect(line).not.toContain('--ignore-cid');
    expect(line).toContain('"Open anyway"');
  });

  it('each class gets its own next step', () => {
    const steps = [
      nextStep(fromWorker(new OutOfRangeError('read past the end of a.img'))),
      nextStep(fromWorker(new CorruptError('x'))),
      nextStep(fromWorker(new UnsupportedError('x'))),
      nextStep(fromWorker(new UserError('x'))),
      nextStep(dom('InternalError', 'internal error: boom')),
      nextStep(dom('NotAllowedError', 'denied')),
      nextStep(dom('SecurityError', 'no gesture')),
      nextStep(dom('QuotaExceededError', 'full')),
      nextStep(dom('NotReadableError', 'gone')),
      nextStep(dom('TypeError', 'x is undefined')),
    ];
    for (const s of steps) expect(s).toMatch(/\S/);
    expect(new Set(steps).size).toBe(steps.length);
    expect(nextStep(dom('OutOfRangeError', 'x'))).toContain('truncated');
    expect(nextStep(dom('QuotaExceededError', 'x'))).toContain('storage is full');
    expect(nextStep(dom('SecurityError', 'x'))).toContain('click');
  });

  it('a cancel gets no advice; a message that already says what to do is left alone', () => {
    expect(nextStep(fromWorker(new CancelledError()))).toBeNull();
    expect(oneLine(fromWorker(new CancelledError()))).toBe('cancelled');
    const already = fromWorker(new UserError('this export needs a second file (vm-flat.vmdk); choose a folder as the destination instead of a single file'));
    expect(oneLine(already)).toBe(already.message);
    const pick = fromWorker(new UserError('delta file names collide with the parent base.vmdk: pick another name'));
    expect(oneLine(pick)).toBe(pick.message);
  });

  it('takes strings and odd values too', () => {
    expect(oneLine('plain text')).toBe('plain text: try again; if it fails again, reload the page');
    expect(oneLine(new Error(''))).toMatch(/^unknown error: /);
    expect(errName(null)).toBe('');
  });
});
