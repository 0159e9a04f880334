/**
 * State of the hex view: which part of a byte space (the datastore's logical volume) is on screen,
 * and a bounded cache of the pages read for it. Only pages under visible rows are read.
 */

import { oneLine } from './errors.js';

export const HEX_ROW = 16;
/** Bytes asked of the reader per call. */
export const HEX_PAGE = 4096;
/** Pages kept (LRU): 256 KiB. */
const MAX_PAGES = 64;

export type ByteReader = (offset: number, length: number) => Promise<Uint8Array>;

/**
 * Parses what the user typed in "go to": `0x1f00` (hex) or `7936` (decimal), as a byte offset or,
 * with `unit` 'block', a block number. Null when it is not a number of 0 or more.
 */
export function parseJump(text: string, unit: 'offset' | 'block', blockSize: number): number | null {
  const t = text.trim().replace(/_/g, '');
  let n: number;
  if (/^0x[0-9a-f]+$/i.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^[0-9]+$/.test(t)) n = parseInt(t, 10);
  else return null;
  if (unit === 'block') n *= blockSize;
  return Number.isSafeInteger(n) ? n : null;
}

export const hex = (n: number, width = 0): string => n.toString(16).padStart(width, '0');

export class HexViewState {
  /** Size of the byte space (0: nothing to show). */
  size = $state(0);
  blockSize = $state(1);
  /** Offset of the first row on screen (a multiple of HEX_ROW). */
  top = $state(0);
  rows = $state(24);
  /** The offset the view was opened at (highlighted). */
  mark = $state<number | null>(null);
  /** What is shown, in words ("block 307 of /vm1/vm1-flat.vmdk"). */
  label = $state('');
  error = $state<string | null>(null);
  /** Bumped when a page arrives, so rows re-render. */
  loaded = $state(0);
  /** Bumped by open(): the mounted view scrolls itself into sight and takes the focus. */
  focusRequests = $state(0);

  private pages = new Map<number, Uint8Array>();
  private pending = new Map<number, Promise<void>>();
  /** Changes on reset: answers for an older byte space are dropped. */
  private generation = 0;

  constructor(private reader: ByteReader | null = null) {}

  /** A new byte space (another dump was opened): forget everything. */
  reset(reader: ByteReader | null, size: number, blockSize: number): void {
    this.reader = reader;
    this.size = size;
    this.blockSize = Math.max(1, blockSize);
    this.pages.clear();
    this.pending.clear();
    this.generation++;
    this.top = 0;
    this.mark = null;
    this.label = '';
    this.error = null;
  }

  get lastTop(): number {
    const lastRow = Math.max(0, Math.ceil(this.size / HEX_ROW) - this.rows);
    return lastRow * HEX_ROW;
  }

  /** Scrolls so `offset` is on the first row (clamped). */
  scrollTo(offset: number): void {
    const o = Math.max(0, Math.min(this.lastTop, Math.floor(offset / HEX_ROW) * HEX_ROW));
    this.top = o;
  }

  scrollRows(n: number): void {
    this.scrollTo(this.top + n * HEX_ROW);
  }

  /** Opens the view at `offset` (highlighted), a few rows below the top. */
  show(offset: number, label: string): void {
    this.error = null;
    this.label = label;
    this.mark = offset < this.size ? offset : null;
    this.scrollTo(offset);
  }

  /**
   * Opens the view at `offset` and asks the mounted view to take the focus: how the allocation map
   * and the file browser show bytes without being the view's parent.
   */
  open(offset: number, label: string): void {
    this.show(offset, label);
    this.focusRequests++;
  }

  /** Bytes of row `offset` (up to 16; fewer at the end), or null while its page is read. */
  row(offset: number): Uint8Array | null {
    const p = Math.floor(offset / HEX_PAGE);
    const page = this.pages.get(p);
    if (!page) return null;
    this.pages.delete(p); // LRU: touch
    this.pages.set(p, page);
    const at = offset - p * HEX_PAGE;
    return page.subarray(at, Math.min(page.length, at + HEX_ROW));
  }

  /** Reads the pages under rows [top, top + rows) that are not cached yet. */
  async ensureVisible(): Promise<void> {
    const reader = this.reader;
    if (!reader || this.size === 0) return;
    const gen = this.generation;
    const first = Math.floor(this.top / HEX_PAGE);
    const last = Math.floor(Math.min(this.size - 1, this.top + this.rows * HEX_ROW - 1) / HEX_PAGE);
    const waits: Promise<void>[] = [];
    for (let p = first; p <= last; p++) {
      if (this.pages.has(p)) continue;
      let w = this.pending.get(p);
      if (!w) {
        const len = Math.min(HEX_PAGE, this.size - p * HEX_PAGE);
        w = reader(p * HEX_PAGE, len).then(
          (bytes) => {
            if (gen !== this.generation) return;
            this.pages.set(p, bytes);
            while (this.pages.size > MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
            this.loaded++;
          },
          (e: unknown) => {
            if (gen === this.generation) this.error = oneLine(e);
          },
        );
        w.finally(() => this.pending.delete(p));
        this.pending.set(p, w);
      }
      waits.push(w);
    }
    await Promise.all(waits);
  }
}

/** The hex view of the open datastore's logical volume: DatastoreView mounts it; the allocation map and the file browser open() it. */
export const volumeHex = new HexViewState();
