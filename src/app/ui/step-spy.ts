/**
 * The workflow step the user is at: of the areas marked data-flow inside the scrolling pane, the
 * last one whose top is above the middle of the pane (the bottom one once scrolled to the end).
 */
export function currentStep(pane: HTMLElement): string | null {
  const areas = [...pane.querySelectorAll<HTMLElement>('[data-flow]')];
  if (areas.length === 0) return null;
  const top = pane.getBoundingClientRect().top;
  const line = top + pane.clientHeight / 2;
  if (pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 2) {
    // At the end: the last area that shows at all.
    const seen = areas.filter((a) => a.getBoundingClientRect().top < top + pane.clientHeight);
    return (seen.at(-1) ?? areas[0]!).dataset.flow ?? null;
  }
  let at = areas[0]!;
  for (const a of areas) if (a.getBoundingClientRect().top <= line) at = a;
  return at.dataset.flow ?? null;
}
