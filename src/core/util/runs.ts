/**
 * Binary search over the sorted start offsets of contiguous runs (volume runs, extent pieces):
 * the index of the last run starting at or before `offset`, i.e. the run containing it when the
 * runs cover the range without gaps. 0 when `offset` lies before the first start (or none).
 */
export function findRun(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
