import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBundle } from '../../scripts/cli-bundle.js';
import { makeTempDir, oracleAvailable, run, sha256File } from '../helpers/tools.js';
import { fixtureImage } from '../helpers/vmfs3-fixture.js';

/**
 * The shipped binary (bin/vmfs-rescue.mjs running the compiled bundle in dist-cli/) against the
 * sources (tsx src/cli/main.ts): same arguments, byte-identical stdout (JSON, listings, the sha256
 * last line), equal exit codes, and for failures the same message. Files they write are compared too.
 */
const root = path.resolve(import.meta.dirname, '../..');
const MiB = 1024 * 1024;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawn(cmd: string, args: string[]): Ran {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * MiB });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const compiled = (args: string[]) => spawn(process.execPath, [path.join(root, 'bin/vmfs-rescue.mjs'), ...args]);
const sources = (args: string[]) => spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'src/cli/main.ts'), ...args]);

/**
 * Runs both with the same arguments. With `out` (an output file), each run writes the same path,
 * which is then renamed to OUT.bin / OUT.src, so even a message naming the path is comparable.
 */
function both(args: string[], out?: string): { bin: Ran; src: Ran } {
  const bin = compiled(args);
  if (out) renameSync(out, `${out}.bin`);
  const src = sources(args);
  if (out) renameSync(out, `${out}.src`);
  expect({ code: bin.code, stdout: bin.stdout }).toEqual({ code: src.code, stdout: src.stdout });
  return { bin, src };
}

/** A failure must say the same thing both ways (progress lines aside, stderr is only the message). */
function bothFail(args: string[], code: number): void {
  const { bin, src } = both(args);
  expect(bin.code).toBe(code);
  expect(bin.stderr).toBe(src.stderr);
  expect(bin.stderr).toMatch(/^vmfs-rescue: /);
}

beforeAll(() => {
  ensureCliBundle();
}, 300_000);

describe('compiled CLI', () => {
  it('prints package.json version and the help like the sources', () => {
    const { bin } = both(['--version']);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(bin.stdout).toBe(`${pkg.version}\n`);
    expect(bin.code).toBe(0);
    expect(both(['--help']).bin.stdout).toMatch(/^vmfs-rescue — /);
    expect(both([]).bin.code).toBe(1);
  });

  it('fails like the sources: unknown command, missing file, not a VMFS', () => {
    bothFail(['frobnicate'], 1);
    bothFail(['info', '--image', path.join(root, 'no-such-dump.img')], 1);
    bothFail(['info', '--image', path.join(root, 'package.json')], 2);
    bothFail(['vmdk', 'info', path.join(root, 'package.json')], 2);
  });
});

describe('bin/vmfs-rescue.mjs without its bundle', () => {
  it('says to run npm run build:cli and exits 1', () => {
    // A copy of the bin in a tree without dist-cli/, as after `npm install --ignore-scripts`.
    const { dir, cleanup } = makeTempDir('vmfs-rescue-cli-nobundle-');
    try {
      mkdirSync(path.join(dir, 'bin'));
      copyFileSync(path.join(root, 'bin/vmfs-rescue.mjs'), path.join(dir, 'bin/vmfs-rescue.mjs'));
      const r = spawn(process.execPath, [path.join(dir, 'bin/vmfs-rescue.mjs'), '--version']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('npm run build:cli');
    } finally {
      cleanup();
    }
  });
});

describe('compiled CLI on the real VMFS3 fixture', () => {
  let img = '';
  let dir = '';
  let cleanup = () => {};
  beforeAll(async () => {
    img = await fixtureImage();
    ({ dir, cleanup } = makeTempDir('vmfs-rescue-cli-compiled-'));
  }, 300_000);
  afterAll(() => cleanup());

  it('info, ls -l, ls --deleted, map and scan give the same JSON', () => {
    const info = both(['info', '--image', img, '--json']).bin;
    expect(info.code).toBe(0);
    expect((JSON.parse(info.stdout) as { label: string }).label).toBe('toto');
    expect(both(['info', '--image', img]).bin.code).toBe(0);
    const ls = both(['ls', '--image', img, '/', '-l', '--json']).bin;
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.stdout) as { name: string }[]).map((e) => e.name)).toContain('thick-flat.vmdk');
    expect(both(['ls', '--image', img, '--deleted', '--json']).bin.code).toBe(0);
    expect(both(['map', '--image', img, '--json']).bin.code).toBe(0);
    expect(both(['scan', '--image', img, '--json']).bin.code).toBe(0);
  });

  it('cat writes the same bytes and prints their sha256 last', () => {
    // thick-flat.vmdk: 200 MiB in non-contiguous blocks.
    const out = path.join(dir, 'thick-flat.vmdk');
    const { bin } = both(['cat', '--image', img, '/thick-flat.vmdk', '--out', out], out);
    expect(bin.code).toBe(0);
    const sha = sha256File(`${out}.bin`);
    expect(bin.stdout.trimEnd().split('\n').at(-1)).toBe(sha);
    expect(sha256File(`${out}.src`)).toBe(sha);
  });
});

const haveQemu = oracleAvailable('qemu-img', 'qemu-io');

describe.skipIf(!haveQemu)('compiled CLI on a qemu-made chain', () => {
  let dir = '';
  let cleanup = () => {};
  const p = (name: string) => path.join(dir, name);
  beforeAll(() => {
    ({ dir, cleanup } = makeTempDir('vmfs-rescue-cli-compiled-chain-'));
    // A flat base and a hosted sparse delta (64 KiB grains) over it, each with some data written.
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', p('base.vmdk'), '16M']);
    run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x5a 0 4M', '-c', 'write -P 0x33 9M 1M', p('base.vmdk')]);
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', p('base.vmdk'), '-F', 'vmdk', p('top.vmdk')]);
    run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0xc1 1M 64k', '-c', 'write -z 9M 128k', '-c', 'write -P 0x7e 15M 1M', p('top.vmdk')]);
  });
  afterAll(() => cleanup());

  it('vmdk info and map give the same JSON', () => {
    const info = both(['vmdk', 'info', p('top.vmdk'), '--json']).bin;
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toBeTruthy();
    expect(both(['vmdk', 'map', p('top.vmdk'), '--json']).bin.code).toBe(0);
  });

  it('vmdk export writes what qemu-img convert writes, with the same sha256 line', () => {
    const ref = p('ref.raw');
    run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', p('top.vmdk'), ref]);
    const refSha = sha256File(ref);
    const out = p('ours.raw');
    const { bin } = both(['vmdk', 'export', p('top.vmdk'), '--out', out, '--format', 'raw'], out);
    expect(bin.code).toBe(0);
    expect(bin.stdout.trimEnd().split('\n').at(-1)).toBe(refSha);
    expect(sha256File(`${out}.bin`)).toBe(refSha);
    expect(sha256File(`${out}.src`)).toBe(refSha);
  });
});
