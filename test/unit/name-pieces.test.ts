import { describe, expect, it } from 'vitest';
import { hashPieces, namePieces } from '../../src/app/ui/names.js';

/** Where the app lets long names and hashes wrap: only after separators, never inside a word. */
describe('namePieces', () => {
  it('cuts after . _ - / \\ : and keeps every character', () => {
    expect(namePieces('demo-vm-000002.vmdk')).toEqual(['demo-', 'vm-', '000002.', 'vmdk']);
    expect(namePieces('/vmfs/volumes/eager_zeroed-thick-flat.vmdk')).toEqual(['/', 'vmfs/', 'volumes/', 'eager_', 'zeroed-', 'thick-', 'flat.', 'vmdk']);
    expect(namePieces('C:\\VMs\\a.vmx')).toEqual(['C:\\', 'VMs\\', 'a.', 'vmx']);
  });

  it('keeps a run of separators together and a name without one whole', () => {
    expect(namePieces('a..b--c')).toEqual(['a..', 'b--', 'c']);
    expect(namePieces('.fbb.sf')).toEqual(['.', 'fbb.', 'sf']);
    expect(namePieces('thick')).toEqual(['thick']);
    expect(namePieces('')).toEqual(['']);
  });

  it('never cuts inside a word: every piece but the last ends with a separator', () => {
    for (const name of ['vm1-000001-sesparse.vmdk', 'x_y.z/w', 'Windows Server 2019.vmx']) {
      const p = namePieces(name);
      expect(p.join('')).toBe(name);
      for (const piece of p.slice(0, -1)) expect(piece).toMatch(/[._\-/\\:]$/);
    }
  });
});

describe('hashPieces', () => {
  it('groups a SHA-256 in eight groups of eight digits', () => {
    const h = 'a'.repeat(32) + 'b'.repeat(32);
    const p = hashPieces(h);
    expect(p).toHaveLength(8);
    expect(p.every((x) => x.length === 8)).toBe(true);
    expect(p.join('')).toBe(h);
  });
});
