import { RescueError, UserError } from '../../core/errors.js';
import type { Datastore, DirEntry } from '../../core/vmfs/index.js';
import { DeepDatastore, findDeepVolumes } from '../../core/vmfs/deep/open.js';
import type { CliIO } from '../args.js';
import { withImages } from '../open-datastore.js';
import { deepStateOptions } from '../deep-state.js';
import { withSigint } from '../interrupt.js';
import { progressLines } from '../progress-lines.js';

/**
 * `info --deep`, `ls --volume/--recursive` and cat's overwritten-range report: the deep volume
 * search on the command line. JSON keys are public (see src/cli/main.ts).
 */

export async function deepInfo(images: string[], json: boolean, io: CliIO, resume?: string): Promise<number> {
  return withImages(images, 'info --deep', (sources) =>
    withSigint(async (signal) => {
      const r = await findDeepVolumes(sources, { signal, onProgress: progressLines(io), ...deepStateOptions(resume, sources, io) });
      const volumes = r.volumes.map((v) => ({
        uuid: v.uuid,
        uuidFromMetadata: v.uuidFromMetadata,
        label: v.label,
        version: v.version,
        blockSize: v.blockSize,
        originBytes: v.originBytes,
        sizeBytes: v.sizeBytes,
        state: v.state,
        source: v.sourceName,
        ...(v.lvmUuid ? { lvmUuid: v.lvmUuid } : {}),
        // Spanned: every extent's dump and where its device starts there (the head: the origin).
        ...(v.extents ? { extents: v.extents.map((x) => ({ source: x.sourceName, offsetBytes: x.partition })) } : {}),
        geometry: v.geometry,
        evidence: v.evidence,
        map: v.map,
      }));
      if (r.current) for (const w of r.current.info.warnings) io.err(`warning: ${w}`);
      if (volumes.length === 0) {
        io.err(`vmfs-rescue: no VMFS volume found by the deep search of ${images.join(', ')}${r.currentError ? ` (${r.currentError})` : ''}`);
        return 2;
      }
      let today: Record<string, unknown> = {};
      if (r.current) {
        const u = await r.current.usage();
        today = { ...r.current.info, freeBlocks: u.freeBlocks, free: u.free, usageBasis: u.basis };
      }
      if (json) {
        io.out(JSON.stringify({ ...today, volumes, deepScan: { bytesScanned: r.scan.bytesScanned, directoryBlocks: r.scan.directoryCount, dropped: r.scan.dropped } }, null, 2));
        return 0;
      }
      for (const v of volumes) {
        io.out(`${v.state.padEnd(8)} ${v.uuid}${v.uuidFromMetadata ? '' : ' (id made by vmfs-rescue: no UUID survives)'} VMFS${v.version} label '${v.label}' block ${v.blockSize} origin 0x${v.originBytes.toString(16)} size ${v.sizeBytes} in ${v.source}`);
        io.out(`         evidence: ${v.evidence.fds} FDs, cluster headers ${JSON.stringify(v.evidence.clusterHeaders)}, descriptor ${v.evidence.fsDescriptor ? 'yes' : 'no'}, LVM header ${v.evidence.lvmHeader ? 'yes' : 'no'}`);
      }
      return 0;
    }),
  );
}

const iso = (t: number) => (t > 0 ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : '-');

type Listed = DirEntry & { path: string; overwrittenBytes?: number };

/** Entries at most listed by --recursive (bounds a looping or corrupt tree). */
const MAX_LISTED = 1 << 20;

/** `ls` over any datastore (a deep-search volume too), entries with their path; --recursive: one flat list. */
export async function lsPaths(ds: Datastore, positional: string[], long: boolean, recursive: boolean, json: boolean, io: CliIO): Promise<number> {
  if (positional.length > 1) throw new UserError('usage: ls --image DUMP [...] [--volume UUID] [PATH] [-l] [--recursive] [--json]');
  const start = positional[0] ?? '/';
  const st = await ds.stat(start);
  const out: Listed[] = [];
  const join = (dir: string, name: string) => (dir.endsWith('/') ? dir : dir + '/') + name;
  if (st.type !== 'directory') {
    const entry: Listed = {
      name: start.split('/').filter(Boolean).pop() ?? start, type: st.type, fdAddress: st.fdAddress, fdAddressText: st.fdAddressText, generation: st.generation,
      size: st.size, allocatedBytes: st.allocatedBytes, mtime: st.mtime, ctime: st.ctime, mode: st.mode, uid: st.uid, gid: st.gid, path: start,
    };
    if (ds instanceof DeepDatastore) entry.overwrittenBytes = (await ds.overwritten(start)).reduce((s, r) => s + r.length, 0);
    out.push(entry);
  } else {
    const queue = [start];
    const seen = new Set<string>();
    while (queue.length && out.length < MAX_LISTED) {
      const dir = queue.shift()!;
      for (const e of await ds.readdir(dir)) {
        if (recursive && (e.name === '.' || e.name === '..')) continue;
        const p = join(dir, e.name);
        out.push({ ...e, path: p });
        // Directories are followed by address once (a directory listed twice would loop).
        const key = e.fdAddress ? String(e.fdAddress) : p;
        if (recursive && e.type === 'directory' && !e.error && !seen.has(key)) {
          seen.add(key);
          queue.push(p);
        }
      }
    }
  }
  if (json) {
    io.out(JSON.stringify(out.map((e) => ({ ...e, mtimeIso: iso(e.mtime) })), null, 2));
    return 0;
  }
  for (const e of out) {
    const name = recursive ? e.path : e.name;
    const ow = e.overwrittenBytes ? `  [${e.overwrittenBytes} bytes overwritten]` : '';
    if (!long) io.out(name + ow);
    else io.out(`${e.type.padEnd(9)} ${String(e.size).padStart(14)} ${String(e.allocatedBytes).padStart(14)} ${e.fdAddressText} ${iso(e.mtime)} ${name}${e.error ? `  [${e.error}]` : ''}${ow}`);
  }
  return 0;
}

/** After a cat from a deep-search volume: the file ranges a newer volume overwrote, on stderr. */
export async function reportOverwritten(ds: Datastore, p: string, io: CliIO): Promise<void> {
  if (!(ds instanceof DeepDatastore)) return;
  try {
    const ranges = await ds.overwritten(p);
    if (ranges.length === 0) return;
    io.err(`warning: ${ranges.reduce((s, r) => s + r.length, 0)} byte(s) of ${p} lie where a newer volume wrote; written as found there:`);
    for (const r of ranges) io.err(`overwritten: file offset 0x${r.offset.toString(16)} length 0x${r.length.toString(16)}`);
  } catch (e) {
    if (!(e instanceof RescueError)) throw e;
    io.err(`warning: overwritten ranges of ${p} unknown: ${e.message}`);
  }
}
