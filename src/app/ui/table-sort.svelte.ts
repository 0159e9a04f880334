/** The sort of a table: which column, which way; `aria(k)` is the header's aria-sort. */
export class TableSort<K extends string> {
  key = $state<K | null>(null);
  dir = $state<1 | -1>(1);

  constructor(key: K | null = null, dir: 1 | -1 = 1) {
    this.key = key;
    this.dir = dir;
  }

  toggle(k: K): void {
    if (this.key === k) this.dir = this.dir === 1 ? -1 : 1;
    else {
      this.key = k;
      this.dir = 1;
    }
  }

  aria(k: K): 'ascending' | 'descending' | 'none' {
    return this.key !== k ? 'none' : this.dir === 1 ? 'ascending' : 'descending';
  }

  /** Sorts a copy of `rows` by `value` of the chosen column (stable; null last). */
  apply<R>(rows: R[], value: (r: R, k: K) => string | number | null): R[] {
    const k = this.key;
    if (k === null) return rows;
    const d = this.dir;
    return rows
      .map((r, i) => ({ r, i, v: value(r, k) }))
      .sort((a, b) => {
        if (a.v === null || b.v === null) return a.v === b.v ? a.i - b.i : a.v === null ? 1 : -1;
        const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : String(a.v).localeCompare(String(b.v), undefined, { numeric: true });
        return c !== 0 ? c * d : a.i - b.i;
      })
      .map((x) => x.r);
  }
}
