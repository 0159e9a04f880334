import { CorruptError } from '../../errors.js';
import { u16 } from '../../util/struct.js';

/**
 * Multi-sector records (FILE, INDX) store the last two bytes of every 512-byte stride in an
 * update sequence array and put a sequence number there instead; a stride whose tail does not
 * match was torn by an interrupted write. Returns a fixed-up copy; never modifies `raw`.
 */
export function applyFixup(raw: Uint8Array, magic: string, what: string): Uint8Array {
  const b = raw.slice();
  for (let i = 0; i < 4; i++) {
    if (b[i] !== magic.charCodeAt(i)) {
      throw new CorruptError(`${what}: bad magic "${String.fromCharCode(...b.subarray(0, 4))}" (expected ${magic})`);
    }
  }
  const usaOff = u16(b, 4);
  const usaCount = u16(b, 6);
  const strides = usaCount - 1;
  if (strides < 1 || b.length % strides !== 0) throw new CorruptError(`${what}: update sequence count ${usaCount} does not fit record size ${b.length}`);
  const stride = b.length / strides;
  if (stride < 256 || stride % 2 !== 0) throw new CorruptError(`${what}: update sequence stride ${stride} is invalid`);
  if (usaOff < 8 || usaOff % 2 !== 0 || usaOff + usaCount * 2 > Math.min(stride - 2, b.length)) {
    throw new CorruptError(`${what}: update sequence array at 0x${usaOff.toString(16)} (count ${usaCount}) is out of range`);
  }
  const usn0 = b[usaOff]!;
  const usn1 = b[usaOff + 1]!;
  for (let i = 1; i <= strides; i++) {
    const end = i * stride - 2;
    if (b[end] !== usn0 || b[end + 1] !== usn1) {
      throw new CorruptError(`${what}: update sequence mismatch in stride ${i - 1} (torn write)`);
    }
    b[end] = b[usaOff + 2 * i]!;
    b[end + 1] = b[usaOff + 2 * i + 1]!;
  }
  return b;
}
