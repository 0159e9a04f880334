import { CorruptError } from '../../errors.js';

/** One data run: `length` clusters at virtual cluster `vcn`, stored at `lcn`, or a hole (lcn null). */
export interface DataRun {
  vcn: number;
  length: number;
  lcn: number | null;
}

/** Runs per attribute are bounded so a corrupt list cannot make us build a huge table. */
export const MAX_RUNS = 1 << 20;

/**
 * Decodes mapping pairs: a header byte (low nibble = bytes of length, high nibble = bytes of the
 * LCN delta), the unsigned length, then the delta signed and relative to the previous run's LCN.
 * A delta of zero bytes is a sparse run. A zero header ends the list. Every LCN must lie inside the
 * volume (`totalClusters`).
 */
export function decodeRuns(b: Uint8Array, startVcn: number, totalClusters: number, what: string, out: DataRun[] = []): DataRun[] {
  let pos = 0;
  let vcn = startVcn;
  let lcn = 0;
  while (pos < b.length) {
    const head = b[pos]!;
    if (head === 0) return out;
    const lenBytes = head & 0x0f;
    const offBytes = head >> 4;
    if (lenBytes === 0 || lenBytes > 8 || offBytes > 8 || pos + 1 + lenBytes + offBytes > b.length) {
      throw new CorruptError(`${what}: bad runlist header 0x${head.toString(16)} at byte ${pos}`);
    }
    let length = 0;
    for (let i = lenBytes - 1; i >= 0; i--) length = length * 256 + b[pos + 1 + i]!;
    if (length === 0 || length > totalClusters) throw new CorruptError(`${what}: run length ${length} at VCN ${vcn} is out of range`);
    let runLcn: number | null = null;
    if (offBytes > 0) {
      let delta = 0;
      const at = pos + 1 + lenBytes;
      for (let i = offBytes - 1; i >= 0; i--) delta = delta * 256 + b[at + i]!;
      if (b[at + offBytes - 1]! & 0x80) delta -= 2 ** (8 * offBytes); // sign-extend
      lcn += delta;
      if (!Number.isSafeInteger(lcn) || lcn < 0 || lcn + length > totalClusters) {
        throw new CorruptError(`${what}: run at VCN ${vcn} points to clusters ${lcn}+${length}, outside the volume (${totalClusters} clusters)`);
      }
      runLcn = lcn;
    }
    if (out.length >= MAX_RUNS) throw new CorruptError(`${what}: more than ${MAX_RUNS} data runs`);
    out.push({ vcn, length, lcn: runLcn });
    vcn += length;
    pos += 1 + lenBytes + offBytes;
  }
  throw new CorruptError(`${what}: runlist has no terminator`);
}
