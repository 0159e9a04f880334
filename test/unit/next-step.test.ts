import { describe, expect, it } from 'vitest';
import { CancelledError, CidMismatchError, CorruptError, MissingFileError, OutOfRangeError, UnsupportedError, UserError, type RescueError } from '../../src/core/errors.js';
import { rescueNextStep } from '../../src/core/next-step.js';
import { TruncatedDumpError, VolumeHoleError } from '../../src/core/vmfs/lvm.js';
import { reportError } from '../../src/cli/main.js';

const truncated = () => new TruncatedDumpError('vol', 0x2100600, { dump: 'lun0.img', cutAt: 0x3300600, missingBytes: 1234, volumeOffset: 0x2100600 });
const classes: RescueError[] = [
  new VolumeHoleError('vol', 0x40000000, 'extent 2 (LUN naa.600)'),
  truncated(),
  new MissingFileError('base.vmdk', 'missing parent base.vmdk ("base.vmdk" referenced by vm-000001.vmdk)'),
  new MissingFileError('vm-flat.vmdk', 'missing extent vm-flat.vmdk'),
  new MissingFileError('x.bin'),
  new OutOfRangeError('read past the end of a.img'),
  new CorruptError('not-a-lun.img: no VMFS found'),
  new CorruptError('bad FS3 magic'),
  new UnsupportedError('RDM'),
  new UserError('no candidate'),
];

/** The CLI's stderr lines and exit code for an error. */
function cli(e: unknown): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = reportError(e, { out: () => {}, err: (l) => lines.push(l), errIsTTY: false });
  return { code, lines };
}

describe('what to do next, per error class', () => {
  it('every RescueError class has a next step in the app and on the command line, each in its own words', () => {
    for (const e of classes) {
      const app = rescueNextStep(e.name, e.message, 'app');
      const line = rescueNextStep(e.name, e.message, 'cli');
      expect(app, e.name).toMatch(/\S/);
      expect(line, e.name).toMatch(/\S/);
      expect(app, e.name).not.toMatch(/--\w/);
      expect(line, e.name).not.toMatch(/\b(pick|click|press)\b/);
    }
    expect(rescueNextStep('CancelledError', 'cancelled', 'cli')).toBeNull();
    expect(rescueNextStep('TypeError', 'x', 'cli')).toBeUndefined();
  });

  it('a single dump cut short gets its own advice (exit 2), not the spanned volume\'s "other LUN dumps"', () => {
    const { code, lines } = cli(truncated());
    expect(code).toBe(2);
    expect(lines[0]).toMatch(/^vmfs-rescue: lun0\.img ends 1234 bytes before the volume does/);
    expect(lines[1]).toMatch(/^vmfs-rescue: what to do next: the dump file is shorter than the volume .*copy the LUN again in full/);
    expect(lines.join('\n')).not.toMatch(/other LUN|every LUN|--image/);
    const hole = cli(new VolumeHoleError('vol', 0x40000000, 'extent 2 (LUN naa.600)'));
    expect(hole.code).toBe(1);
    expect(hole.lines.join('\n')).toMatch(/another --image/);
  });

  it('the CLI prints the step after the message, and none where the message already says it or for a cancel', () => {
    expect(cli(new UnsupportedError('x.vmdk: encrypted disk')).lines).toEqual(['vmfs-rescue: x.vmdk: encrypted disk', 'vmfs-rescue: what to do next: vmfs-rescue cannot read it: try another file or candidate, or copy the data out with VMware tools first']);
    expect(cli(new CidMismatchError('c.vmdk', 'b.vmdk', '1', '2')).lines).toHaveLength(1);
    expect(cli(new UserError('usage: scan --image DUMP')).lines).toHaveLength(1);
    expect(cli(new CancelledError()).lines).toHaveLength(1);
    const internal = cli(new TypeError('x is undefined'));
    expect(internal.code).toBe(2);
    expect(internal.lines.at(-1)).toMatch(/what to do next: this is a bug/);
  });
});
