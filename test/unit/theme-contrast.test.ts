import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contrast, themeColors } from '../../src/app/ui/contrast.js';

/**
 * The design tokens of theme.css meet WCAG AA in both themes: text 4.5:1 on every surface it is
 * drawn on, control edges and the focus ring 3:1 (WCAG 1.4.11), and the map colours that sit side
 * by side stay apart. The ratios are WCAG's formula, checked here against its published examples.
 */
const css = readFileSync(path.resolve(import.meta.dirname, '../../src/app/theme.css'), 'utf8');
const themes = themeColors(css);

describe('contrast formula', () => {
  it('gives the WCAG reference ratios', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#ffffff', '#ffffff')).toBeCloseTo(1, 5);
    // #767676 on white is the classic lightest AA grey (4.54:1).
    expect(contrast('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
  });
});

describe.each(['light', 'dark'] as const)('%s theme tokens', (name) => {
  const t = themes[name];
  const surfaces = ['--bg', '--surface', '--surface-hover', '--selected-bg', '--control-bg'];

  it('declares every colour token for both themes', () => {
    expect(Object.keys(t).length).toBeGreaterThan(25);
    expect(Object.keys(themes.light).sort()).toEqual(Object.keys(themes.dark).sort());
  });

  it.each(['--fg', '--muted', '--link', '--error', '--warn', '--ok'])('%s is AA text on every surface', (fg) => {
    for (const s of surfaces) expect(contrast(t[fg]!, t[s]!), `${fg} on ${s}`).toBeGreaterThanOrEqual(4.5);
  });

  it('text on filled controls and tooltips is AA', () => {
    expect(contrast(t['--accent-fg']!, t['--accent']!)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(t['--ok-strong-fg']!, t['--ok-strong']!)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(t['--tip-fg']!, t['--tip-bg']!)).toBeGreaterThanOrEqual(4.5);
  });

  it('control edges and the focus ring reach 3:1 on the page', () => {
    for (const s of ['--bg', '--surface']) {
      expect(contrast(t['--control-border']!, t[s]!), `--control-border on ${s}`).toBeGreaterThanOrEqual(3);
      expect(contrast(t['--focus']!, t[s]!), `--focus on ${s}`).toBeGreaterThanOrEqual(3);
      expect(contrast(t['--accent']!, t[s]!), `--accent on ${s}`).toBeGreaterThanOrEqual(3);
    }
  });

  it('damage map: partly recovered stands apart from both neighbours', () => {
    expect(contrast(t['--map-partial']!, t['--map-free']!), 'partly recovered vs not in the delta').toBeGreaterThanOrEqual(1.5);
    expect(contrast(t['--map-partial']!, t['--map-recovered']!), 'partly recovered vs recovered').toBeGreaterThanOrEqual(1.4);
    expect(contrast(t['--map-lost']!, t['--map-free']!), 'lost vs not in the delta').toBeGreaterThanOrEqual(1.5);
  });
});
