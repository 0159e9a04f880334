import { stat } from 'node:fs/promises';
import { throwIfAborted, UserError } from '../../core/errors.js';
import { bulkBuffer, readInto, type Datastore, type DirEntry } from '../../core/vmfs/index.js';
import { refuseOutputsOnInputs } from '../../platform/node/output-guard.js';
import { option, parseArgs, requireOption, type CliIO } from '../args.js';
import { withSigint } from '../interrupt.js';
import { progressLines } from '../progress-lines.js';
import { inputFiles, MEMBER_FLAGS, withDatastore } from '../open-datastore.js';

/**
 * `info | ls | cat | map` over datastore dumps (--image, repeatable for spanned volumes).
 * Flags and JSON keys are a public contract (see src/cli/main.ts): extend, never rename.
 */
export async function runDatastore(cmd: string, argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, ['image', 'out', 'volume', 'resume', ...MEMBER_FLAGS], ['json', 'l', 'deleted', 'deep', 'recursive']);
  const images = args.options.get('image') ?? [];
  const volume = option(args, 'volume');
  const resume = args.options.has('resume') ? await (await import('../deep-state.js')).resumeOption(args, volume !== undefined || (cmd === 'info' && args.switches.has('deep'))) : undefined;
  const deep = () => import('./deep.js');
  if (cmd === 'info' && args.switches.has('deep')) {
    if (args.options.has('member')) throw new UserError('info --deep takes --image dumps; assemble RAID members first with raid assemble');
    return (await deep()).deepInfo(images, args.switches.has('json'), io, resume);
  }
  if (cmd === 'cat') {
    const out = requireOption(args, 'out');
    if ((await stat(out).catch(() => null))?.isDirectory()) throw new UserError(`--out names a folder, not a file: ${out}`);
    await refuseOutputsOnInputs([{ path: out, role: '--out' }], inputFiles(args));
    return withSigint((signal) =>
      withDatastore(args, cmd, io, async (ds) => {
        const code = await cat(ds, args.positional, out, io, signal);
        if (volume !== undefined) await (await deep()).reportOverwritten(ds, args.positional[0]!, io);
        return code;
      }, { volume, signal, resume }),
    );
  }
  return withDatastore(args, cmd, io, async (ds) => {
    const json = args.switches.has('json');
    switch (cmd) {
      case 'info':
        return await info(ds, json, io);
      case 'ls':
        if (args.switches.has('deleted')) {
          // Loaded on demand, like cat's sink and hash below: the recovery code is most of the
          // CLI's size, and info / ls start faster without compiling it.
          const { lsDeleted } = await import('./recovery.js');
          return await lsDeleted(ds, json, io);
        }
        if (volume !== undefined || args.switches.has('recursive')) return (await deep()).lsPaths(ds, args.positional, args.switches.has('l'), args.switches.has('recursive'), json, io);
        return await ls(ds, args.positional, args.switches.has('l'), json, io);
      case 'map':
        return await map(ds, json, io);
      default:
        throw new UserError(`unknown command '${cmd}'`);
    }
  }, { volume, resume });
}

const iso = (t: number) => (t > 0 ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : '-');
const mib = (n: number) => `${(n / 2 ** 20).toFixed(n % 2 ** 20 ? 2 : 0)} MiB`;

async function info(ds: Datastore, json: boolean, io: CliIO): Promise<number> {
  const i = ds.info;
  const u = await ds.usage();
  if (json) {
    io.out(JSON.stringify({ ...i, freeBlocks: u.freeBlocks, free: u.free, usageBasis: u.basis }, null, 2));
    return 0;
  }
  for (const p of i.partitions) io.out(`partition: ${p.sourceName} ${p.scheme}${p.index ? ` #${p.index}` : ''} type ${p.type} offset 0x${p.offset.toString(16)} length ${p.length}`);
  for (const d of i.devices) {
    io.out(`lvm device: ${d.sourceName} LVM ${d.lvmMajor}.${d.lvmMinor} uuid ${d.deviceUuid} size ${d.deviceSize} PEs ${d.firstPE}-${d.lastPE} (${d.numPEs}) of ${d.numDevs} device(s)`);
  }
  io.out(`label: ${i.label}`);
  io.out(`uuid: ${i.uuid}`);
  io.out(`lvm uuid: ${i.lvmUuid}`);
  io.out(`version: ${i.versionText} (major ${i.fsMajor}, minor ${i.fsMinor})`);
  io.out(`created: ${iso(i.creationTime)}`);
  io.out(`block size: ${i.blockSize}`);
  io.out(`sub-block size: ${i.subBlockSize}`);
  io.out(`capacity: ${i.capacity} (${mib(i.capacity)}, ${i.totalBlocks} blocks)`);
  io.out(`free: ${u.free} (${mib(u.free)}, ${u.freeBlocks} blocks)`);
  for (const h of i.holes) io.out(`hole: volume 0x${h.offset.toString(16)} length 0x${h.length.toString(16)} (missing extent)`);
  return 0;
}

function modeText(e: DirEntry): string {
  const t = e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'rdm' ? 'r' : e.type === 'system' ? 's' : '-';
  let s = t;
  for (let k = 8; k >= 0; k--) s += e.mode & (1 << k) ? 'rwx'[(8 - k) % 3] : '-';
  return s;
}

async function ls(ds: Datastore, positional: string[], long: boolean, json: boolean, io: CliIO): Promise<number> {
  if (positional.length > 1) throw new UserError('usage: ls --image DUMP [...] [PATH] [-l] [--json]');
  const p = positional[0] ?? '/';
  const st = await ds.stat(p);
  let entries: DirEntry[];
  if (st.type === 'directory') entries = await ds.readdir(p);
  else {
    const name = typeof p === 'string' && !p.startsWith('<') ? (p.split('/').filter(Boolean).pop() ?? p) : st.fdAddressText;
    entries = [
      {
        name,
        type: st.type,
        fdAddress: st.fdAddress,
        fdAddressText: st.fdAddressText,
        generation: st.generation,
        size: st.size,
        allocatedBytes: st.allocatedBytes,
        mtime: st.mtime,
        ctime: st.ctime,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
      },
    ];
  }
  if (json) {
    io.out(JSON.stringify(entries.map((e) => ({ ...e, mtimeIso: iso(e.mtime) })), null, 2));
    return 0;
  }
  // The header says which time is shown: the FD's mtime (debugvmfs `ls -l` prints its ctime).
  if (long) io.out(`${'mode'.padEnd(10)} ${'size'.padStart(14)} ${'allocated'.padStart(14)} fd-address mtime-utc name`);
  for (const e of entries) {
    if (!long) io.out(e.name);
    else io.out(`${modeText(e)} ${String(e.size).padStart(14)} ${String(e.allocatedBytes).padStart(14)} ${e.fdAddressText} ${iso(e.mtime)} ${e.name}${e.error ? `  [${e.error}]` : ''}`);
  }
  return 0;
}

/** cat copies in chunks this big, through three reused buffers (read k+1, hash k, write k-1 overlap). */
const CHUNK = 8 * 1024 * 1024;

/**
 * The file goes to a temporary name beside `out` and is renamed onto it only once complete: an
 * error or SIGINT leaves no temporary file and `out` as it was.
 */
async function cat(ds: Datastore, positional: string[], out: string, io: CliIO, signal: AbortSignal): Promise<number> {
  if (positional.length !== 1) throw new UserError('usage: cat --image DUMP [...] PATH --out FILE');
  const src = await ds.openFile(positional[0]!);
  const [{ NodeFileSink }, { nativeSha256 }, { nativeIsZero }] = await Promise.all([
    import('../../platform/node/file-sink.js'),
    import('../../platform/node/native-hash.js'),
    import('../../platform/node/native-zero.js'),
  ]);
  const progress = progressLines(io);
  throwIfAborted(signal);
  const sink = await NodeFileSink.create(out);
  const h = nativeSha256();
  const chunks = Math.ceil(src.size / CHUNK);
  const bufs = Array.from({ length: Math.min(3, chunks) }, () => bulkBuffer(Math.min(CHUNK, src.size)));
  const chunk = (k: number) => bufs[k % bufs.length]!.subarray(0, Math.min(CHUNK, src.size - k * CHUNK));
  let writing: Promise<void> = Promise.resolve();
  let reading: Promise<void> | null = null;
  try {
    // A read in flight is awaited one step later; until then its failure must not go unhandled.
    const start = (k: number) => {
      const p = readInto(src, k * CHUNK, chunk(k));
      p.catch(() => {});
      return p;
    };
    reading = chunks > 0 ? start(0) : null;
    progress({ phase: 'copy', done: 0, total: src.size });
    for (let k = 0; k < chunks; k++) {
      await reading;
      throwIfAborted(signal);
      const b = chunk(k);
      // Buffer (k+1) % 3 last held chunk k-2, whose write finished before chunk k-1's began.
      reading = k + 1 < chunks ? start(k + 1) : null;
      h.update(b);
      await writing;
      // An all-zero chunk stays a hole (the final truncate gives the file its length): a thin
      // flat VMDK is mostly holes, and writing them would fill the disk with zeros.
      writing = nativeIsZero(b) ? Promise.resolve() : sink.write(k * CHUNK, b);
      progress({ phase: 'copy', done: k * CHUNK + b.length, total: src.size });
    }
    await writing;
    throwIfAborted(signal);
    await sink.truncate(src.size);
    await sink.close();
  } catch (e) {
    await writing.catch(() => {});
    await reading?.catch(() => {});
    await sink.abort();
    throw e;
  }
  io.err(`wrote ${src.size} bytes to ${out}`);
  io.out(h.digestHex());
  return 0;
}

async function map(ds: Datastore, json: boolean, io: CliIO): Promise<number> {
  const m = await ds.allocationMap();
  const resources = m.resources.map((r) => ({ name: r.name, total: r.total, free: r.free, itemSize: r.itemSize }));
  if (json) {
    io.out(JSON.stringify({ blockSize: m.blockSize, totalBlocks: m.totalBlocks, freeBlocks: m.freeBlocks, basis: m.basis, runs: m.runs, systemRuns: m.systemRuns, resources }, null, 2));
    return 0;
  }
  io.out(`block size ${m.blockSize}, ${m.totalBlocks} blocks, ${m.freeBlocks} free (from ${m.basis})`);
  for (const r of m.runs) io.out(`${r.state.padEnd(4)} ${r.start}-${r.start + r.count - 1} (${r.count})`);
  for (const r of resources) io.out(`${r.name}: ${r.total - r.free} of ${r.total} used (${r.itemSize}-byte items)`);
  return 0;
}
