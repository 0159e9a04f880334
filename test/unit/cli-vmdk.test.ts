import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDisk } from '../../src/core/export/export-disk.js';
import { NodeExportTarget } from '../../src/platform/node/export-target.js';
import { makeTempDir, runCli } from '../helpers/tools.js';
import { memChain, memLayer, modelBytes, pattern, type MemRun } from '../helpers/mem-layer.js';

const MiB = 1024 * 1024;
const CAP = 8 * MiB;
const runs: MemRun[] = [
  { offset: 0, bytes: pattern(100 * 1024, 1) },
  { offset: 3 * MiB, zero: 64 * 1024 },
  { offset: CAP - 512, bytes: pattern(512, 2) },
];
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const lastLine = (s: string) => s.trimEnd().split('\n').at(-1);

describe('vmfs-rescue vmdk CLI', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let disk: string;
  const expected = sha(modelBytes(CAP, [runs]));

  beforeAll(async () => {
    tmp = makeTempDir('cli-vmdk-');
    // Input made by our sparse writer (checked against qemu in test/oracle/export-qemu.test.ts).
    await exportDisk(memChain([memLayer(CAP, runs)]), new NodeExportTarget(tmp.dir), { format: 'sparse', fileName: 'in.vmdk', verify: false });
    disk = path.join(tmp.dir, 'in.vmdk');
    writeFileSync(path.join(tmp.dir, 'garbage.vmdk'), pattern(4096, 7));
  });
  afterAll(() => tmp?.cleanup());

  it('info --json gives the top link and the chain', () => {
    const r = runCli(['vmdk', 'info', disk, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ createType: 'monolithicSparse', format: 'hostedSparse', capacityBytes: CAP, grainSizeBytes: 65536, parentCid: null, parentHint: null });
    expect(j.cid).toMatch(/^[0-9a-f]{8}$/);
    expect(j.allocatedBytes).toBe(3 * 65536); // 100 KiB touches 2 grains, plus the last grain
    expect(j.extents).toHaveLength(1);
    expect(j.chain).toHaveLength(1);
    expect(j.chain[0]).toMatchObject({ path: disk, capacityBytes: CAP, cidOk: null });
    const h = runCli(['vmdk', 'info', disk]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('monolithicSparse');
  });

  it('map --json lists contiguous runs of allocated / zero / parent', () => {
    const r = runCli(['vmdk', 'map', disk, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { capacityBytes: number; runs: { offset: number; length: number; kind: string }[]; resolved: { kind: string }[] };
    expect(j.capacityBytes).toBe(CAP);
    let pos = 0;
    for (const run of j.runs) {
      expect(['allocated', 'zero', 'parent']).toContain(run.kind);
      expect(run.offset).toBe(pos);
      pos += run.length;
    }
    expect(pos).toBe(CAP);
    expect(j.runs[0]).toEqual({ offset: 0, length: 65536 * 2, kind: 'allocated' });
    expect(j.runs.at(-1)).toEqual({ offset: CAP - 65536, length: 65536, kind: 'allocated' });
    expect(j.resolved.length).toBeGreaterThan(0);
  });

  it('export prints the sha256 of the logical disk as the last stdout line', () => {
    for (const [format, extra] of [
      ['raw', []],
      ['stream', ['--no-verify']],
    ] as const) {
      const out = path.join(tmp.dir, `out-${format}.img`);
      const r = runCli(['vmdk', 'export', disk, '--out', out, '--format', format, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expect(lastLine(r.stdout)).toBe(expected);
      if (format === 'raw') {
        expect(statSync(out).size).toBe(CAP);
        expect(sha(readFileSync(out))).toBe(expected);
      }
    }
  });

  it('exit codes: 1 for usage and user errors, 2 for corrupt input', () => {
    expect(runCli(['vmdk', 'info', path.join(tmp.dir, 'nope.vmdk')]).code).toBe(1);
    const g = runCli(['vmdk', 'info', path.join(tmp.dir, 'garbage.vmdk')]);
    expect(g.code).toBe(2);
    expect(g.stderr.trim().split('\n')).toHaveLength(1);
    expect(runCli(['vmdk', 'info', disk, '--bogus']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--out', path.join(tmp.dir, 'x.img'), '--format', 'qcow2']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--format', 'raw']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--out', path.join(tmp.dir, 'no-such-dir', 'x.img'), '--format', 'raw']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--out', disk, '--format', 'sparse']).code).toBe(1);
    expect(statSync(disk).size).toBeGreaterThan(0);
    expect(runCli(['vmdk', 'frobnicate']).code).toBe(1);
  });
});
