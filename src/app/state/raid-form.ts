import type { RaidDetection, RaidOverrides } from '../../core/raid/detect.js';
import { hasParity, isStriped, type ParityLayout, type RaidLevel } from '../../core/raid/layout.js';

/** The RAID parameters as the "Open RAID members" form holds them, and their translation to detection overrides. */

/** The parameters as the form holds them; `role` and `offset` per given member (role null: not placed). */
export interface RaidForm {
  level: RaidLevel;
  disks: number;
  stripeBytes: number;
  layout: ParityLayout;
  parityDelay: number;
  roles: (number | null)[];
  offsets: number[];
}

/** The form of a detection (what the user then edits). */
export function formOf(d: RaidDetection): RaidForm {
  return {
    level: d.level,
    disks: d.disks,
    stripeBytes: d.stripeBytes ?? 65536,
    layout: d.layout ?? 'left-symmetric',
    parityDelay: d.parityDelay ?? 1,
    roles: d.members.map((m) => m.role),
    offsets: d.members.map((m) => m.offsetBytes),
  };
}

/** md raid_disk slots of the form's members (raid10: a column's two copies take slots 2k and 2k + 1); null = missing. */
export function orderOf(f: RaidForm): (number | null)[] {
  const slots = f.level === 'raid10' ? f.disks : f.level === 'raid1' ? f.roles.length : f.disks;
  const order = new Array<number | null>(Math.max(slots, 0)).fill(null);
  f.roles.forEach((r, i) => {
    if (r === null) return;
    const slot = f.level === 'raid10' ? (order[2 * r] === null ? 2 * r : 2 * r + 1) : f.level === 'raid1' ? i : r;
    if (slot >= 0 && slot < order.length && order[slot] === null) order[slot] = i;
  });
  return order;
}

/** Every parameter of the form as overrides (what "Open with these parameters" gives). */
export function overridesOf(f: RaidForm, only?: ReadonlySet<keyof RaidForm>): RaidOverrides {
  const want = (k: keyof RaidForm) => !only || only.has(k);
  const ov: RaidOverrides = {};
  if (want('level')) ov.level = f.level;
  if (isStriped(f.level) && want('stripeBytes')) ov.stripeBytes = f.stripeBytes;
  if (hasParity(f.level) && want('layout')) ov.layout = f.layout;
  if (hasParity(f.level) && want('parityDelay')) ov.parityDelay = f.parityDelay;
  if (want('roles') || want('disks')) ov.order = orderOf(f);
  if (want('offsets')) ov.offsets = new Map(f.offsets.map((o, i) => [i, o]));
  return ov;
}
