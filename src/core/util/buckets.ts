/** Adds one to bucket floor(i / per) of `arr` for every item i in [first, end) (a run at a time, not item by item). */
export function addToBuckets(arr: Uint32Array, per: number, first: number, end: number): void {
  for (let s = first; s < end; ) {
    const b = Math.floor(s / per);
    const stop = Math.min(end, (b + 1) * per);
    arr[b]! += stop - s;
    s = stop;
  }
}
