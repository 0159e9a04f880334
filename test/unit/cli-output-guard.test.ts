import { linkSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSparseFixtures, type buildSparseChain } from '../helpers/sparse-recovery-dump.js';
import { main } from '../../src/cli/main.js';
import { makeTempDir, sha256File } from '../helpers/tools.js';

/**
 * Outputs aimed at an input (the same path, a symlink, a hard link, another spelling of the path)
 * are refused with exit 1 before anything is written: every input is byte-identical afterwards
 * and no file (final or temporary) appears in the folders involved.
 */
const MiB = 1024 * 1024;

/** The CLI in-process (the same main() the binary runs; spawning tsx for each of ~20 commands is slow). */
async function runCli(args: string[], opts: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const here = process.cwd();
  if (opts.cwd) process.chdir(opts.cwd);
  try {
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), errIsTTY: false });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    process.chdir(here);
  }
}

describe('CLI outputs aimed at inputs', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let dump: string;
  let candidate: string;
  let chain: ReturnType<typeof buildSparseChain>;
  let out: string; // a folder for outputs and for links to the inputs
  let n = 0;

  beforeAll(async () => {
    tmp = makeTempDir('cli-guard-');
    ({ dump, candidateId: candidate, chain, out } = await buildSparseFixtures(tmp.dir, 64 * MiB, 21));
  }, 120_000);
  afterAll(() => tmp?.cleanup());

  const listing = () => [tmp.dir, path.dirname(dump), path.dirname(chain.top), out].map((d) => readdirSync(d).sort());
  const link = (kind: 'symlink' | 'hard', target: string, name = `link${n++}`) => {
    const p = path.join(out, name);
    if (kind === 'symlink') symlinkSync(target, p);
    else linkSync(target, p);
    return p;
  };

  /** Runs the command and checks it was refused, naming the output and the input, with nothing written. */
  // Each input's hash as built: every refused command must leave it so.
  const original = new Map<string, string>();
  const hashAsBuilt = (p: string) => original.get(p) ?? original.set(p, sha256File(p)).get(p)!;

  async function refused(args: string[], inputs: string[], mentions: string[], cwd?: string): Promise<void> {
    const before = inputs.map(hashAsBuilt);
    const files = listing();
    const r = await runCli(args, cwd ? { cwd } : {});
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/refusing to write|are the same file/);
    for (const m of mentions) expect(r.stderr).toContain(m);
    expect(inputs.map(sha256File)).toEqual(before);
    expect(listing()).toEqual(files);
  }

  it('cat: --out the dump itself, a symlink to it, a hard link to it, another spelling of it', async () => {
    const cat = (o: string) => ['cat', '--image', dump, '/vm1/vm1.vmdk', '--out', o];
    await refused(cat(dump), [dump], [dump]);
    const sym = link('symlink', dump);
    await refused(cat(sym), [dump], [sym, dump]);
    const hard = link('hard', dump);
    await refused(cat(hard), [dump], [hard, dump, 'hard link']);
    const rel = path.join('ds', '..', 'vm', '..', 'ds', path.basename(dump));
    await refused(['cat', '--image', path.join('.', 'ds', path.basename(dump)), '/vm1/vm1.vmdk', '--out', rel], [dump], [rel], tmp.dir);
    // The control: the same command to a fresh name works.
    const ok = await runCli(cat(path.join(out, 'vm1.vmdk')));
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('recover raw, flat (its data file), delta (descriptor and data file) and --report aimed at the dump', async () => {
    const rec = (o: string, format: string, ...extra: string[]) => ['recover', '--image', dump, '--candidate', candidate, '--out', o, '--format', format, ...extra];
    await refused(rec(dump, 'raw'), [dump], [dump]);
    link('hard', dump, 'h-flat.vmdk');
    await refused(rec(path.join(out, 'h.vmdk'), 'flat'), [dump], [path.join(out, 'h-flat.vmdk'), dump]);
    await refused(rec(link('symlink', dump), 'delta'), [dump], [dump]);
    // The delta's data file name is known once the candidate is: still refused before writing.
    link('symlink', dump, 'p-delta.vmdk');
    await refused(rec(path.join(out, 'p.vmdk'), 'delta', '--parent', '/vm1/vm1.vmdk'), [dump], [path.join(out, 'p-delta.vmdk'), dump]);
    const rel = path.join('out', '..', 'ds', path.basename(dump));
    await refused(['recover', '--image', dump, '--candidate', candidate, '--out', path.join(out, 'r.img'), '--format', 'raw', '--report', rel], [dump], ['--report', rel], tmp.dir);
    await refused(rec(path.join(out, 'same.img'), 'raw', '--report', path.join(out, '.', 'same.img')), [dump], ['same.img']);
    const ok = await runCli(rec(path.join(out, 'r.img'), 'raw', '--report', path.join(out, 'r.json')));
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('vmdk export aimed at the top descriptor, its extent, the parent descriptor and the parent extent', async () => {
    const inputs = [chain.top, chain.topExtent, chain.parent, chain.parentExtent];
    const exp = (o: string, format = 'raw') => ['vmdk', 'export', chain.top, '--out', o, '--format', format];
    await refused(exp(chain.top), inputs, [chain.top]);
    await refused(exp(link('symlink', chain.topExtent)), inputs, [chain.topExtent]);
    await refused(exp(link('hard', chain.parentExtent), 'sparse'), inputs, [chain.parentExtent, 'hard link']);
    const rel = path.join('out', '..', 'vm', '.', path.basename(chain.parent));
    await refused(['vmdk', 'export', chain.top, '--out', rel, '--format', 'stream'], inputs, [chain.parent], tmp.dir);
    link('hard', chain.parentExtent, 'q-flat.vmdk');
    await refused(exp(path.join(out, 'q.vmdk'), 'flat'), inputs, [path.join(out, 'q-flat.vmdk'), chain.parentExtent]);
    const ok = await runCli(exp(path.join(out, 'fresh.vmdk'), 'flat'));
    expect(ok.code, ok.stderr).toBe(0);
  });
});
