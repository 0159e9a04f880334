import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSha256 } from '../../src/core/hash/sha256.js';
import { recoveredDisk, pickCandidate, scanForDeltas } from '../../src/core/recovery/index.js';
import { buildDemo, type Demo } from '../../src/core/synth/demo.js';
import { openDatastore } from '../../src/core/vmfs/index.js';
import { demoDiskThroughQemu } from '../helpers/demo-chain.js';
import { makeTempDir, oracleAvailable, run } from '../helpers/tools.js';

/**
 * The built-in demo datastore (src/core/synth/demo.ts), made in memory as the app makes it:
 * debugvmfs must read its VM folder, and our reader + recovery must give the demo's own
 * prediction (base content overlaid by the deleted delta, lost grains from the base).
 */

let demo: Demo;
beforeAll(async () => {
  const t0 = performance.now();
  demo = await buildDemo();
  console.log(`demo built in ${Math.round(performance.now() - t0)} ms, ${demo.image.residentBytes >> 10} KiB of pages, ${demo.image.size} bytes apparent`);
});

async function sha256Of(src: { size: number; read(o: number, n: number): Promise<Uint8Array> }): Promise<string> {
  const h = createSha256();
  for (let off = 0; off < src.size; off += 1 << 20) h.update(await src.read(off, Math.min(1 << 20, src.size - off)));
  return h.digestHex();
}

describe('demo datastore', () => {
  it('is small in memory and predicts a damaged but mostly recoverable delta', () => {
    expect(demo.image.residentBytes).toBeLessThan(16 << 20);
    expect(demo.expected.lostRuns.flatMap((l) => l.kinds)).toContain('table');
    expect(demo.expected.lostRuns.flatMap((l) => l.kinds)).toContain('data');
    expect(demo.expected.recoverableGrains).toBeGreaterThan(1000);
  });

  it('our reader + recovery give the predicted candidate, lost runs and sha256', async () => {
    const ds = await openDatastore([demo.image]);
    const names = (await ds.readdir(demo.vmDir)).map((e: { name: string }) => e.name).filter((n) => n !== '.' && n !== '..').sort();
    expect(names).toEqual(['demo-vm-000002-delta.vmdk', 'demo-vm-000002.vmdk', 'demo-vm-flat.vmdk', 'demo-vm.vmdk', 'demo-vm.vmsd', 'demo-vm.vmx']);
    const r = await scanForDeltas(ds);
    expect(r.candidates[0]!.id).toBe(demo.expected.candidateId);
    const c = pickCandidate(r, demo.expected.candidateId);
    expect(c.parent).toBe(demo.expected.parentPath);
    expect(c.capacityBytes).toBe(demo.expected.capacity);
    const union = (runs: { sector: number; sectors: number }[]) => {
      const out: [number, number][] = [];
      for (const x of [...runs].sort((a, b) => a.sector - b.sector)) {
        const prev = out[out.length - 1];
        if (prev && prev[1] === x.sector) prev[1] += x.sectors;
        else out.push([x.sector, x.sector + x.sectors]);
      }
      return out;
    };
    expect(union(c.lostRuns)).toEqual(union(demo.expected.lostRuns));
    // Adjacent lost runs are one run, with every cause kept in `reasons`.
    expect(c.lostRuns.map((r) => [r.sector, r.sectors])).toEqual(union(c.lostRuns).map(([a, b]) => [a, b - a]));
    for (const r of c.lostRuns) expect(r.reason).toBe(r.reasons.join('; '));
    expect(c.lostRuns.some((r) => r.reasons.length > 1)).toBe(true);
    const { disk } = await recoveredDisk(ds, c, c.parent);
    expect(disk.size).toBe(demo.expected.capacity);
    expect(await sha256Of(disk)).toBe(demo.expected.sha256);
  });
});

describe.skipIf(!oracleAvailable('debugvmfs'))('demo datastore read by debugvmfs', () => {
  it('lists the VM folder and reads the base disk and text files', () => {
    const tmp = makeTempDir('demo-');
    try {
      // The VMFS partition alone, sparse (debugvmfs finds no partition through GPT).
      const lun = demo.manifest.luns[0]!;
      const part = path.join(tmp.dir, 'demo-part.img');
      const fd = openSync(part, 'w');
      try {
        ftruncateSync(fd, lun.partitionLength);
        let pos = 0;
        for (const p of demo.image.parts()) {
          const n = 'bytes' in p ? p.bytes.length : p.zeros;
          const s = Math.max(pos, lun.partitionOffset);
          const e = Math.min(pos + n, lun.partitionOffset + lun.partitionLength);
          if ('bytes' in p && s < e) writeSync(fd, p.bytes, s - pos, e - s, s - lun.partitionOffset);
          pos += n;
        }
      } finally {
        closeSync(fd);
      }
      const ls = run('debugvmfs', [part, 'ls', '-l', demo.vmDir]);
      const listed = new Map<string, number>();
      for (const line of ls.split('\n')) {
        const m = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+ \S+ (.+)$/.exec(line);
        if (m && m[2] !== '.' && m[2] !== '..') listed.set(m[2]!, Number(m[1]));
      }
      const want = demo.manifest.entries.filter((e) => path.posix.dirname(e.path) === demo.vmDir);
      expect([...listed.keys()].sort()).toEqual(want.map((e) => e.name).sort());
      for (const e of want) expect(listed.get(e.name), e.name).toBe(e.size);
      const vmx = run('debugvmfs', [part, 'cat', `${demo.vmDir}/demo-vm.vmx`]);
      expect(vmx).toContain('scsi0:0.fileName = "demo-vm-000002.vmdk"');
      const desc = run('debugvmfs', [part, 'cat', `${demo.vmDir}/demo-vm.vmdk`]);
      expect(desc).toContain('createType="vmfs"');
      const flat = run('sh', ['-c', `debugvmfs '${part}' cat '${demo.vmDir}/demo-vm-flat.vmdk' | sha256sum`]);
      expect(flat.split(' ')[0]).toBe(demo.baseSha256);
    } finally {
      tmp.cleanup();
    }
  });
});

describe.skipIf(!oracleAvailable('qemu-img'))('demo prediction checked by qemu-img', () => {
  it('the pre-revert chain through qemu-img, lost runs from the base, hashes to the predicted sha256', () => {
    const tmp = makeTempDir('demo-qemu-');
    try {
      const { capacity, sha256 } = demo.expected;
      const { disk } = demoDiskThroughQemu(demo, tmp.dir);
      expect(disk.length).toBe(capacity);
      expect(createHash('sha256').update(disk).digest('hex')).toBe(sha256);
    } finally {
      tmp.cleanup();
    }
  });
});
