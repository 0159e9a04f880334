import AxeBuilder from '@axe-core/playwright';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect, type Page, type TestInfo } from '@playwright/test';

/** Checks every view of the app gets: accessibility (axe), words kept whole, the page fits, a screenshot. */

/** Where the screenshots of each view go (kept with the test results: CI keeps test-results/). */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-results/screenshots');

/** axe-core with the WCAG 2.1 A/AA rules: the serious and critical violations, as readable lines. */
export async function axeSerious(page: Page, rules?: string[]): Promise<string[]> {
  const b = new AxeBuilder({ page });
  const r = await (rules ? b.withRules(rules) : b.withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')})`);
}

/**
 * Words that the layout broke across lines inside a word: each visible text node is cut into
 * pieces at white space and after the separators a name may wrap at (. _ - / \ : , ; and
 * brackets); a piece whose glyphs lie on more than one line was broken mid-word.
 */
export async function midWordBreaks(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    const skip = new Set(['SCRIPT', 'STYLE', 'OPTION', 'TEXTAREA', 'NOSCRIPT']);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let n = walker.nextNode() as Text | null; n; n = walker.nextNode() as Text | null) {
      const el = n.parentElement;
      if (!el || skip.has(el.tagName) || !n.data.trim() || el.getClientRects().length === 0) continue;
      if (el.closest('[hidden], [aria-hidden="true"] canvas')) continue;
      const re = /[^\s._\-/\\:,;()[\]]+[._\-/\\:,;()[\]]*/g;
      for (let m = re.exec(n.data); m; m = re.exec(n.data)) {
        if (m[0].length < 2) continue;
        range.setStart(n, m.index);
        range.setEnd(n, m.index + m[0].length);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5);
        if (rects.length < 2) continue;
        const tops = rects.map((r) => r.top).sort((a, b) => a - b);
        if (tops.at(-1)! - tops[0]! > rects[0]!.height / 2) bad.push(`"${m[0]}" in <${el.tagName.toLowerCase()}> "${n.data.trim().slice(0, 60)}"`);
      }
    }
    return bad;
  });
}

/**
 * The page itself never scrolls (its panes do), in either direction: the scrolling element is no
 * taller or wider than the window, a scroll request leaves it where it was, and the view shown
 * lies inside the window.
 */
export async function pageFits(page: Page): Promise<void> {
  const s = await page.evaluate(() => {
    const se = document.scrollingElement ?? document.documentElement;
    se.scrollTop = 10_000;
    se.scrollLeft = 10_000;
    const moved = { top: se.scrollTop, left: se.scrollLeft };
    se.scrollTop = 0;
    se.scrollLeft = 0;
    const view = [...document.querySelectorAll<HTMLElement>('.view, [data-workspace="open"] .pane')].find((v) => v.getClientRects().length > 0);
    const r = view?.getBoundingClientRect();
    return { w: se.scrollWidth, h: se.scrollHeight, vw: innerWidth, vh: innerHeight, moved, view: r ? { bottom: r.bottom, right: r.right } : null };
  });
  expect(s.w, 'page width').toBeLessThanOrEqual(s.vw);
  expect(s.h, 'page height').toBeLessThanOrEqual(s.vh);
  expect(s.moved, 'the page does not scroll').toEqual({ top: 0, left: 0 });
  expect(s.view, 'a view is shown').not.toBeNull();
  expect(s.view!.bottom, 'the view ends inside the window').toBeLessThanOrEqual(s.vh);
  expect(s.view!.right, 'the view ends inside the window').toBeLessThanOrEqual(s.vw);
}

/**
 * A pane of the view scrolls on its own: its content is taller than it, scrolling moves it, and
 * the page stays put. The pane is scrolled back to where it was.
 */
export async function expectPaneScrolls(page: Page, testid: string): Promise<void> {
  const r = await page.getByTestId(testid).evaluate((el) => {
    const before = el.scrollTop;
    el.scrollTop = before + 200;
    const after = el.scrollTop;
    el.scrollTop = before;
    const se = document.scrollingElement ?? document.documentElement;
    return { tall: el.scrollHeight > el.clientHeight, moved: after !== before, overflowY: getComputedStyle(el).overflowY, pageY: se.scrollTop, bottom: el.getBoundingClientRect().bottom, vh: innerHeight };
  });
  expect(r.overflowY, `${testid} scrolls`).toMatch(/auto|scroll/);
  expect(r.tall, `${testid}: content taller than the pane`).toBe(true);
  expect(r.moved, `${testid}: scrolling moves the pane`).toBe(true);
  expect(r.pageY, 'the page did not scroll').toBe(0);
  expect(r.bottom, `${testid} ends inside the window`).toBeLessThanOrEqual(r.vh);
}

/** All the per-view checks, then a screenshot named `${prefix}-${name}.png`. */
export async function checkView(page: Page, info: TestInfo, prefix: string, name: string, opts: { axeRules?: string[] } = {}): Promise<void> {
  const t0 = Date.now();
  await pageFits(page);
  expect(await midWordBreaks(page), `${name}: words broken across lines`).toEqual([]);
  expect(await axeSerious(page, opts.axeRules), `${name}: axe serious/critical violations`).toEqual([]);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${prefix}-${name}.png`);
  await page.screenshot({ path: file });
  await info.attach(`${prefix}-${name}`, { path: file, contentType: 'image/png' });
  console.log(`${prefix}-${name}: checked in ${Date.now() - t0} ms`);
}

/** The result of an action: shown inside the viewport, and the keyboard focus on it. */
export async function expectShownAndFocused(page: Page, testid: string, what = testid): Promise<void> {
  const el = page.getByTestId(testid);
  await expect(el, `${what} in the viewport`).toBeInViewport();
  await expect(el, `${what} focused`).toBeFocused();
}
