/**
 * Resizable table columns: a handle at the right edge of every header cell but the last, dragged
 * with the pointer or moved with the arrow keys (16 px a press; Home: back to the start width).
 * The first resize freezes every column at its current width and switches the table to fixed
 * layout, so one column grows or shrinks without the others reflowing. Names in the cells
 * (components/Name.svelte) then wrap at their separators or end in an ellipsis.
 */
const MIN = 48;
const MAX = 1200;

export function resizableColumns(table: HTMLTableElement): { destroy(): void } {
  const heads = [...table.querySelectorAll<HTMLTableCellElement>(':scope > thead > tr > th')];
  const cleanups: (() => void)[] = [];
  const freeze = () => {
    if (table.style.tableLayout === 'fixed') return;
    const widths = heads.map((th) => th.getBoundingClientRect().width);
    heads.forEach((th, i) => (th.style.width = `${Math.round(widths[i]!)}px`));
    table.style.width = `${Math.round(widths.reduce((a, b) => a + b, 0))}px`;
    table.style.tableLayout = 'fixed';
  };
  const setWidth = (th: HTMLTableCellElement, handle: HTMLElement, w: number) => {
    freeze();
    const old = th.getBoundingClientRect().width;
    const nw = Math.round(Math.max(MIN, Math.min(MAX, w)));
    th.style.width = `${nw}px`;
    table.style.width = `${Math.round(parseFloat(table.style.width) + nw - old)}px`;
    handle.setAttribute('aria-valuenow', String(nw));
  };
  heads.slice(0, -1).forEach((th) => {
    const label = (th.textContent ?? '').trim() || 'column';
    const handle = document.createElement('span');
    handle.className = 'col-resize';
    handle.tabIndex = 0;
    handle.setAttribute('role', 'separator');
    handle.setAttribute('aria-orientation', 'vertical');
    handle.setAttribute('aria-label', `Resize the ${label} column`);
    handle.setAttribute('aria-valuemin', String(MIN));
    handle.setAttribute('aria-valuemax', String(MAX));
    handle.setAttribute('aria-valuenow', String(Math.round(th.getBoundingClientRect().width)));
    handle.dataset.testid = 'col-resize';
    let start = 0;
    let startW = 0;
    const startWidth = { w: 0 };
    const move = (e: PointerEvent) => setWidth(th, handle, startW + e.clientX - start);
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    const down = (e: PointerEvent) => {
      e.preventDefault();
      e.stopPropagation();
      start = e.clientX;
      startW = th.getBoundingClientRect().width;
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', up);
    };
    const key = (e: KeyboardEvent) => {
      const w = th.getBoundingClientRect().width;
      if (!startWidth.w) startWidth.w = w;
      if (e.key === 'ArrowRight') setWidth(th, handle, w + 16);
      else if (e.key === 'ArrowLeft') setWidth(th, handle, w - 16);
      else if (e.key === 'Home') setWidth(th, handle, startWidth.w);
      else return;
      e.preventDefault();
    };
    const click = (e: Event) => e.stopPropagation(); // not a sort click
    handle.addEventListener('pointerdown', down);
    handle.addEventListener('keydown', key);
    handle.addEventListener('click', click);
    th.append(handle);
    cleanups.push(() => {
      up();
      handle.remove();
    });
  });
  return { destroy: () => cleanups.forEach((c) => c()) };
}
