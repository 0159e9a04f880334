import { tick } from 'svelte';
import { ui } from '../state/ui.svelte.js';

/**
 * Shows a result where the user looks: switches to the step view that holds `node`, scrolls it
 * into view inside its scrolling pane and moves the focus to it (tabindex -1 if it is not
 * focusable itself), each time `key` changes to a value other than null/false/undefined. Used on
 * every area an action opens (a chain diagram, scan results, a candidate, the look inside, an
 * export result), so a click never "does nothing". A result of a workspace that is not shown (the
 * user went back to the open page) waits there: it does not pull the user away.
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
    frame = requestAnimationFrame(() => void revealNow(node));
  };
  show(key);
  return { update: show, destroy: () => cancelAnimationFrame(frame) };
}

/** The step view (data-view-step) holding `node`, when it is hidden inside the shown workspace. */
function hiddenStep(node: HTMLElement): string | null {
  if (node.closest('[data-workspace][hidden]')) return null;
  const view = node.closest<HTMLElement>('[data-view-step]');
  return view?.hidden ? (view.dataset.viewStep ?? null) : null;
}

export async function revealNow(node: HTMLElement): Promise<void> {
  if (!node.isConnected || node.closest('[data-workspace][hidden]')) return;
  const step = hiddenStep(node);
  if (step) {
    ui.showStep(step);
    await tick();
    await new Promise((r) => requestAnimationFrame(r));
    if (!node.isConnected) return;
  }
  if (!node.matches('a[href], button, input, select, textarea, [tabindex]')) node.tabIndex = -1;
  node.focus({ preventScroll: true });
  // Instant, not smooth: the result must be in view at once (and for reduced-motion users). The
  // page does not scroll, so this moves only the pane that holds the node; an area that shows
  // whole already stays where it is, another comes to the top of its pane (it may still grow).
  const pane = scrollParent(node);
  const r = node.getBoundingClientRect();
  const p = pane?.getBoundingClientRect() ?? { top: 0, bottom: innerHeight };
  if (r.top < p.top || r.bottom > p.bottom) node.scrollIntoView({ block: 'start' });
}

/** The nearest ancestor that scrolls vertically. */
function scrollParent(node: HTMLElement): HTMLElement | null {
  for (let p = node.parentElement; p; p = p.parentElement) {
    const o = getComputedStyle(p).overflowY;
    if ((o === 'auto' || o === 'scroll') && p.scrollHeight > p.clientHeight) return p;
  }
  return null;
}
