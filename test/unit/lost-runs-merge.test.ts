import { describe, expect, it } from 'vitest';
import { appendRun } from '../../src/core/recovery/damage-layer.js';

type Run = { sector: number; sectors: number; reason: string; reasons: string[] };

describe('lost runs: adjacent runs merged with their reasons', () => {
  it('adjacent pieces are one run whatever their causes; a gap starts a new run', () => {
    const runs: Run[] = [];
    appendRun(runs, 0, 1024, 'grain table 1 lost: block reused');
    appendRun(runs, 1024, 512, 'grain data lost: block reused');
    appendRun(runs, 1536, 512, 'grain table 1 lost: block reused');
    appendRun(runs, 4096, 512, 'beyond end of dump');
    expect(runs).toEqual([
      { sector: 0, sectors: 4, reasons: ['grain table 1 lost: block reused', 'grain data lost: block reused'], reason: 'grain table 1 lost: block reused; grain data lost: block reused' },
      { sector: 8, sectors: 1, reasons: ['beyond end of dump'], reason: 'beyond end of dump' },
    ]);
  });

  it('many per-grain reasons are bounded, and a cause of another kind after them stays listed', () => {
    const runs: Run[] = [];
    for (let i = 0; i < 100; i++) appendRun(runs, i * 512, 512, `grain data lost: delta file offset 0x${(0x1000 + i * 512).toString(16)}: beyond end of dump`);
    appendRun(runs, 100 * 512, 512, 'grain table 3 lost: beyond end of dump');
    expect(runs).toHaveLength(1);
    const r = runs[0]!;
    expect(r.sectors).toBe(101);
    expect(r.reasons.length).toBeLessThanOrEqual(33);
    expect(r.reasons).toContain('grain table 3 lost: beyond end of dump');
    expect(r.reasons.at(-1)).toMatch(/^and other reasons/);
    expect(r.reason).toMatch(/grain table/);
  });
});
