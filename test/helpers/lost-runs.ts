/** Lost runs as merged sector ranges [start, end): tests compare coverage apart from the causes. */
export function union(runs: readonly { sector: number; sectors: number }[]): [number, number][] {
  const out: [number, number][] = [];
  for (const r of [...runs].sort((a, b) => a.sector - b.sector)) {
    const prev = out[out.length - 1];
    if (prev && prev[1] === r.sector) prev[1] += r.sectors;
    else out.push([r.sector, r.sector + r.sectors]);
  }
  return out;
}
