/**
 * Shows a result where the user looks: scrolls `node` into view inside its scrolling pane and moves
 * the focus to it (tabindex -1 if it is not focusable itself), each time `key` changes to a value
 * other than null/false/undefined. Used on every area an action opens (a chain diagram, scan
 * results, a candidate, the look inside, an export result), so a click never "does nothing".
 */
export function reveal(node: HTMLElement, key: unknown): { update(key: unknown): void; destroy(): void } {
  let last: unknown = undefined;
  let frame = 0;
  const show = (k: unknown) => {
    if (k === null || k === false || k === undefined || k === last) {
      last = k;
      return;
    }
    last = k;
    cancelAnimationFrame(frame);
    // A frame later: the area has its final size once the content that came with it rendered.
    frame = requestAnimationFrame(() => revealNow(node));
  };
  show(key);
  return { update: show, destroy: () => cancelAnimationFrame(frame) };
}

export function revealNow(node: HTMLElement): void {
  if (!node.isConnected) return;
  if (!node.matches('a[href], button, input, select, textarea, [tabindex]')) node.tabIndex = -1;
  node.focus({ preventScroll: true });
  // Instant, not smooth: the result must be in view at once (and for reduced-motion users).
  node.scrollIntoView({ block: node.offsetHeight > innerHeight * 0.6 ? 'start' : 'nearest' });
}
