import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { ByteSource } from '../core/io/byte-source.js';
import { detectRaid, RaidUndecidedError, toRaidConfig, type RaidDetection, type RaidOverrides } from '../core/raid/detect.js';
import { givenDetection } from '../core/raid/given.js';
import { PARITY_LAYOUTS, RAID_LEVELS, type ParityLayout, type RaidLevel } from '../core/raid/layout.js';
import { openRaid } from '../core/raid/raid-source.js';
import type { NodeFileSource } from '../platform/node/file-source.js';
import { option, type Args, type CliIO } from './args.js';
import { openInputs } from './open-datastore.js';

/**
 * `--member` (repeated) and the RAID overrides (MEMBER_FLAGS in open-datastore.ts), shared by `raid detect|assemble` and every
 * datastore command: the member dumps are opened read-only, the array detected (or taken from the
 * flags when they say everything) and presented as one LUN.
 */

function parseBytes(text: string, flag: string): number {
  const m = /^(\d+)([kKmM]?)(i?[bB])?$/.exec(text.trim());
  if (!m) throw new UserError(`${flag} ${text}: not a byte count (e.g. 65536, 64K, 1M)`);
  const n = Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024) : 1);
  if (!Number.isSafeInteger(n)) throw new UserError(`${flag} ${text}: too large`);
  return n;
}

/** Which given member a name on the command line means: the path as given, its resolved path, or a unique base name. */
function memberIndex(name: string, paths: string[], flag: string): number {
  let i = paths.indexOf(name);
  if (i < 0) i = paths.findIndex((p) => path.resolve(p) === path.resolve(name));
  if (i < 0) {
    const byBase = paths.map((p, k) => (path.basename(p) === path.basename(name) ? k : -1)).filter((k) => k >= 0);
    if (byBase.length === 1) i = byBase[0]!;
  }
  if (i < 0) throw new UserError(`${flag} names ${name}, which is not one of the --member files`);
  return i;
}

export function raidOverrides(a: Args, paths: string[]): RaidOverrides {
  const ov: RaidOverrides = {};
  const level = option(a, 'level');
  if (level !== undefined) {
    if (!RAID_LEVELS.includes(level as RaidLevel)) throw new UserError(`--level ${level}: one of ${RAID_LEVELS.join(', ')}`);
    ov.level = level as RaidLevel;
  }
  const stripe = option(a, 'stripe');
  if (stripe !== undefined) ov.stripeBytes = parseBytes(stripe, '--stripe');
  const layout = option(a, 'layout');
  if (layout !== undefined) {
    if (!PARITY_LAYOUTS.includes(layout as ParityLayout)) throw new UserError(`--layout ${layout}: one of ${PARITY_LAYOUTS.join(', ')}`);
    ov.layout = layout as ParityLayout;
  }
  const delay = option(a, 'delay');
  if (delay !== undefined) {
    if (!/^\d+$/.test(delay) || Number(delay) < 1) throw new UserError(`--delay ${delay}: a whole number of rows, 1 or more`);
    ov.parityDelay = Number(delay);
  }
  const order = option(a, 'order');
  if (order !== undefined) ov.order = order.split(',').map((n) => (n.trim() === 'missing' ? null : memberIndex(n.trim(), paths, '--order')));
  for (const o of a.options.get('offset') ?? []) {
    const eq = o.lastIndexOf('=');
    if (eq <= 0) throw new UserError(`--offset ${o}: write MEMBER=BYTES`);
    (ov.offsets ??= new Map()).set(memberIndex(o.slice(0, eq), paths, '--offset'), parseBytes(o.slice(eq + 1), '--offset'));
  }
  return ov;
}

/** Opens the `--member` dumps (closed again if one fails to open). */
export function openMembers(paths: string[]): Promise<NodeFileSource[]> {
  return openInputs(paths, '--member');
}

export async function resolveRaid(sources: NodeFileSource[], paths: string[], a: Args, io: CliIO, signal?: AbortSignal): Promise<RaidDetection> {
  const ov = raidOverrides(a, paths);
  const given = givenDetection(ov, sources);
  if (given) {
    given.evidence = ['every parameter given on the command line (nothing detected)'];
    return given;
  }
  let last = -1;
  return detectRaid(sources, {
    overrides: ov,
    signal,
    onProgress: (p) => {
      const pct = p.phase === 'read' && p.total ? Math.floor((100 * p.done) / p.total) : -1;
      if (pct >= 0 && pct >= last + 10 && io.errIsTTY) {
        last = pct;
        io.err(`raid: reading members ${pct}%`);
      }
    },
  });
}

export function detectionText(d: RaidDetection): string {
  return `${d.level} of ${d.disks}${d.stripeBytes ? `, stripe ${d.stripeBytes}` : ''}${d.layout ? `, ${d.layout}` : ''}${d.parityDelay && d.parityDelay > 1 ? `, parity delay ${d.parityDelay}` : ''}, ${d.missing} missing, confidence ${d.confidence}`;
}

/** Opens the members, detects, presents the LUN to `fn`, closes the members whatever happens. */
export async function withRaidLun<T>(a: Args, io: CliIO, fn: (lun: ByteSource, det: RaidDetection) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const paths = a.options.get('member') ?? [];
  if (paths.length === 0) throw new UserError('give the array members with --member FILE (once per member)');
  const sources = await openMembers(paths);
  try {
    const det = await resolveRaid(sources, paths, a, io, signal);
    io.err(`raid: ${detectionText(det)}`);
    return await fn(openRaid(toRaidConfig(det, sources), `RAID LUN (${det.level} of ${det.disks})`), det);
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => {})));
  }
}

export { RaidUndecidedError };
