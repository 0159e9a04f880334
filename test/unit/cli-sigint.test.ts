import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSparseFixtures, type buildSparseChain } from '../helpers/sparse-recovery-dump.js';
import { CLI_BIN, ensureCliBundle } from '../../scripts/cli-bundle.js';
import { buildVmfs } from '../builders/vmfs/index.js';
import { makeTempDir, sha256File } from '../helpers/tools.js';

/**
 * SIGINT for real: the CLI runs as its own process on disks big enough (2 GiB, sparse: they cost
 * no disk) to be half-way when the signal lands, sent as soon as stderr shows the phase named.
 * It must exit 130, leave no temporary file, and leave each destination as it was (absent, or
 * its old content).
 *
 * The process is the shipped binary (bin/vmfs-rescue.mjs running the compiled bundle in one
 * process), as `npm run cli` and `npx vmfs-rescue` run it. Not `tsx src/cli/main.ts`: tsx's
 * launcher relays signals to a child of its own and SIGKILLs it when it does not acknowledge
 * within ~30 ms, which a loaded machine cannot promise.
 */
const GiB = 2 ** 30;

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the CLI and sends one SIGINT when a stderr line starts with `phase` (fails if it never does). */
function interruptAt(args: string[], phase: string): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr += s;
      if (!sent && stderr.split('\n').some((l) => l.startsWith(`${phase}:`))) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (!sent) reject(new Error(`no '${phase}:' progress before the command ended (${code}): ${stderr}`));
      else resolve({ code, signal, stderr });
    });
  });
}

describe('CLI interrupted by SIGINT', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let dump: string;
  let candidate: string;
  let chain: ReturnType<typeof buildSparseChain>;
  let out: string;

  beforeAll(async () => {
    ensureCliBundle();
    tmp = makeTempDir('cli-sigint-');
    ({ dump, candidateId: candidate, chain, out } = await buildSparseFixtures(tmp.dir, 2 * GiB, 31));
  });
  afterAll(() => tmp?.cleanup());

  /** Pre-existing destinations (name → content) or absent ones (name → null); checked after the run. */
  async function check(args: (o: (name: string) => string) => string[], phase: string, dests: Record<string, string | null>): Promise<void> {
    const o = (name: string) => path.join(out, name);
    for (const [name, content] of Object.entries(dests)) if (content !== null) writeFileSync(o(name), content);
    const before = Object.fromEntries(Object.entries(dests).map(([name, content]) => [name, content === null ? null : sha256File(o(name))]));
    const listing = readdirSync(out).sort();
    const r = await interruptAt(args(o), phase);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('interrupted');
    expect(readdirSync(out).sort()).toEqual(listing); // no temporary file, nothing new
    for (const [name, h] of Object.entries(before)) {
      if (h === null) expect(existsSync(o(name))).toBe(false);
      else expect(sha256File(o(name))).toBe(h);
    }
  }

  it('cat: no temporary file; the destination absent, or with its old content', async () => {
    await check((o) => ['cat', '--image', dump, '/vm1/vm1-flat.vmdk', '--out', o('cat-new.img')], 'copy', { 'cat-new.img': null });
    await check((o) => ['cat', '--image', dump, '/vm1/vm1-flat.vmdk', '--out', o('cat-old.img')], 'copy', { 'cat-old.img': 'old content\n' });
  });

  it('recover raw during the export and during the verify pass; --report too', async () => {
    const rec = (o: (n: string) => string, name: string) => ['recover', '--image', dump, '--candidate', candidate, '--out', o(name), '--format', 'raw', '--report', o(`${name}.json`)];
    await check((o) => rec(o, 'r1.img'), 'export', { 'r1.img': 'old disk', 'r1.img.json': '{"old":true}\n' });
    await check((o) => rec(o, 'r2.img'), 'verify', { 'r2.img': null, 'r2.img.json': null });
  });

  it('recover --format delta: the pair (descriptor and data file) as it was while the disk is hashed', async () => {
    const args = (o: (n: string) => string) => ['recover', '--image', dump, '--candidate', candidate, '--out', o('d.vmdk'), '--format', 'delta', '--parent', '/vm1/vm1.vmdk'];
    await check(args, 'hash', { 'd.vmdk': 'old descriptor', 'd-delta.vmdk': null });
  });

  it('vmdk export flat during the export and during the verify pass', async () => {
    const exp = (o: (n: string) => string, name: string) => ['vmdk', 'export', chain.top, '--out', o(name), '--format', 'flat'];
    await check((o) => exp(o, 'e1.vmdk'), 'export', { 'e1.vmdk': null, 'e1-flat.vmdk': null });
    await check((o) => exp(o, 'e2.vmdk'), 'verify', { 'e2.vmdk': 'old descriptor', 'e2-flat.vmdk': 'old data' });
  });
});

describe('scan interrupted by SIGINT', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let dump: string;

  beforeAll(async () => {
    ensureCliBundle();
    tmp = makeTempDir('cli-sigint-scan-');
    // 100 GiB of free blocks (sparse: ~1 MiB on disk): the carve reads 100 000 block heads, seconds of
    // work done in synchronous page-cache reads, during which the signal must still be seen.
    const m = await buildVmfs({ version: 5, dir: tmp.dir, name: 'free', label: 'all-free', seed: 41, luns: [{ scheme: 'gpt', segments: 400 }], files: [] });
    dump = m.luns[0]!.path;
  });
  afterAll(() => tmp?.cleanup());

  it('scan: SIGINT during the free-space carve exits 130', async () => {
    const r = await interruptAt(['scan', '--image', dump, '--json'], 'carve free space');
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('interrupted');
  });
});
