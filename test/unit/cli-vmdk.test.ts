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

  it('export copies the chain adapter, geometry and hardware version into the new descriptor', () => {
    const raw = path.join(tmp.dir, 'hw-flat.img');
    writeFileSync(raw, pattern(CAP, 3));
    const desc = path.join(tmp.dir, 'hw.vmdk');
    writeFileSync(
      desc,
      `# Disk DescriptorFile\nversion=1\nCID=0badc0de\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW ${CAP / 512} FLAT "hw-flat.img" 0\n\n#DDB\n` +
        'ddb.adapterType = "pvscsi"\nddb.geometry.cylinders = "8"\nddb.geometry.heads = "64"\nddb.geometry.sectors = "32"\n' +
        'ddb.virtualHWVersion = "19"\nddb.uuid = "60 00 C2 91 aa bb"\nddb.longContentID = "00112233445566778899aabbccddeeff"\n',
    );
    for (const format of ['flat', 'sparse', 'stream'] as const) {
      const out = path.join(tmp.dir, `hw-${format}.vmdk`);
      const r = runCli(['vmdk', 'export', desc, '--out', out, '--format', format]);
      expect(r.code, r.stderr).toBe(0);
      const b = readFileSync(out);
      // flat: the descriptor file; sparse/stream: the embedded descriptor at sector 1 (NUL padded).
      const text = format === 'flat' ? b.toString('utf8') : b.subarray(512, 512 * 21).toString('latin1').split('\0')[0]!;
      const ddb = Object.fromEntries([...text.matchAll(/^ddb\.(\S+) = "([^"]*)"$/gm)].map((m) => [m[1], m[2]]));
      expect(ddb, format).toEqual({ adapterType: 'pvscsi', 'geometry.cylinders': '8', 'geometry.heads': '64', 'geometry.sectors': '32', virtualHWVersion: '19' });
      expect(lastLine(r.stdout)).toBe(sha(pattern(CAP, 3)));
    }
  });

  it('exit codes: 1 for usage and user errors, 2 for corrupt input', () => {
    expect(runCli(['vmdk', 'info', path.join(tmp.dir, 'nope.vmdk')]).code).toBe(1);
    const g = runCli(['vmdk', 'info', path.join(tmp.dir, 'garbage.vmdk')]);
    expect(g.code).toBe(2);
    // The error in one line and what to do next in another: no stack trace.
    const lines = g.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^vmfs-rescue: .*garbage\.vmdk: /);
    expect(lines[1]).toMatch(/^vmfs-rescue: what to do next: /);
    expect(runCli(['vmdk', 'info', disk, '--bogus']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--out', path.join(tmp.dir, 'x.img'), '--format', 'qcow2']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--format', 'raw']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--out', path.join(tmp.dir, 'no-such-dir', 'x.img'), '--format', 'raw']).code).toBe(1);
    expect(runCli(['vmdk', 'export', disk, '--out', disk, '--format', 'sparse']).code).toBe(1);
    expect(statSync(disk).size).toBeGreaterThan(0);
    expect(runCli(['vmdk', 'frobnicate']).code).toBe(1);
  });
});
