import type { ByteSource } from '../io/byte-source.js';
import { toRaidConfig, type RaidDetection, type RaidOverrides } from './detect.js';
import { hasParity, isStriped } from './layout.js';
import { arrayCapacity } from './raid-source.js';

/**
 * The array the user described when every parameter is given (level, and as the level needs:
 * stripe, layout, parity delay, member order, every member's start offset): nothing is detected.
 * Null when something is left to detect. The LUN's size is then the array's capacity.
 */
export function givenDetection(ov: RaidOverrides, members: readonly ByteSource[]): RaidDetection | null {
  const level = ov.level;
  if (!level) return null;
  if (isStriped(level) && !ov.stripeBytes) return null;
  if (hasParity(level) && (!ov.layout || !ov.parityDelay)) return null;
  if (level !== 'raid1' && !ov.order) return null;
  if (members.some((_, i) => !ov.offsets?.has(i))) return null;
  const order = ov.order ?? members.map((_, i) => i);
  const det: RaidDetection = {
    level,
    stripeBytes: isStriped(level) ? ov.stripeBytes! : null,
    layout: hasParity(level) ? ov.layout! : null,
    parityDelay: hasParity(level) ? ov.parityDelay! : null,
    disks: order.length,
    members: members.map((m, i) => {
      const k = order.indexOf(i);
      return { index: i, name: m.name, role: level === 'raid10' ? k >> 1 : k, offsetBytes: ov.offsets!.get(i)!, landmarks: 0 };
    }),
    missing: order.filter((x) => x === null).length,
    sizeBytes: 0,
    confidence: 1,
    evidence: ['every parameter given (nothing detected)'],
  };
  det.sizeBytes = arrayCapacity(toRaidConfig(det, members));
  return det;
}
