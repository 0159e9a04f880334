import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

/** The CLI's plain-language messages for everyday mistakes: no raw errno codes, a header on `ls -l`. */
function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), errIsTTY: false }, out, err };
}

const dir = mkdtempSync(path.join(tmpdir(), 'cli-messages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CLI messages', () => {
  it('a missing dump is named, with what went wrong in words, exit 1', async () => {
    const c = capture();
    const missing = path.join(dir, 'nope.img');
    expect(await main(['info', '--image', missing], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain(`cannot open --image ${missing}: no such file`);
    expect(c.err.join('\n')).not.toMatch(/ENOENT/);
  });

  it('a folder given as a dump says so, exit 1', async () => {
    const c = capture();
    expect(await main(['info', '--image', dir], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/folder/);
    expect(c.err.join('\n')).not.toMatch(/EISDIR/);
  });
});

describe('CLI listings on the real VMFS3 fixture', () => {
  it('ls -l starts with a header naming the time it shows; the rows follow it', async () => {
    const { fixtureImage } = await import('../helpers/vmfs3-fixture.js');
    const img = await fixtureImage();
    const c = capture();
    expect(await main(['ls', '--image', img, '-l', '/'], c.io)).toBe(0);
    expect(c.out[0]).toMatch(/^mode\s+size\s+allocated\s+fd-address\s+mtime-utc\s+name$/);
    expect(c.out.length).toBeGreaterThan(1);
    for (const row of c.out.slice(1)) expect(row).toMatch(/^[-dlrs][-rwx]{9}\s+\d+\s+\d+\s+<0x[0-9a-f]+>/);
  });

  it('ls --deleted says so when nothing is found', async () => {
    const { fixtureImage } = await import('../helpers/vmfs3-fixture.js');
    const img = await fixtureImage();
    const json = capture();
    expect(await main(['ls', '--image', img, '--deleted', '--json'], json.io)).toBe(0);
    const found = JSON.parse(json.out.join('\n')) as unknown[];
    const c = capture();
    expect(await main(['ls', '--image', img, '--deleted'], c.io)).toBe(0);
    // The ESX-written fixture holds no freed FD and no text remnant (the JSON list is empty).
    expect(found).toEqual([]);
    expect(c.out).toEqual(['no deleted file, orphan file descriptor or text remnant found']);
  });
});

describe('recover with a candidate id that cannot exist', () => {
  it('is refused at once, before any scan progress, with what ids look like', async () => {
    const { fixtureImage } = await import('../helpers/vmfs3-fixture.js');
    const img = await fixtureImage();
    for (const [id, why] of [
      ['foo', /candidate ids are delta-<block>/],
      ['delta-5', /no snapshot delta header starts block 5/],
      ['delta-99999999', /past the end of the volume/],
    ] as const) {
      const c = capture();
      expect(await main(['recover', '--image', img, '--candidate', id, '--out', path.join(dir, 'never.img'), '--format', 'raw'], c.io), id).toBe(1);
      expect(c.err.join('\n'), id).toMatch(why);
      expect(c.err.join('\n'), id).not.toMatch(/carve free space|freed file descriptors/);
    }
  });
});
