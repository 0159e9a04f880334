#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isRescueError, UserError, type RescueError } from '../core/errors.js';
import { rescueNextStep, SAYS_WHAT_TO_DO } from '../core/next-step.js';
import type { CliIO } from './args.js';
import { describeFsError } from './fs-errors.js';
import { EXIT_INTERRUPTED } from './interrupt.js';

/**
 * vmfs-rescue command line. The command words, flags, JSON keys and "sha256 on the last stdout
 * line" are a public contract (scripts depend on them): extend, never rename.
 * Exit codes: 0 ok, 1 usage or user error, 2 corrupt or unsupported input, 130 interrupted (SIGINT).
 */
const HELP = `vmfs-rescue — recover VMware virtual disks from VMDK files and VMFS datastore dumps

Usage:
  vmfs-rescue vmdk info FILE [--json] [--ignore-cid]
  vmfs-rescue vmdk map FILE --json [--ignore-cid]
  vmfs-rescue vmdk export TOP.vmdk --out OUT --format raw|flat|sparse|stream [--ignore-cid] [--no-verify]
  vmfs-rescue vmdk snapshots FILE.vmsd [--json]
  vmfs-rescue info --image DUMP [--image DUMP2 ...] [--deep] [--json]
  vmfs-rescue ls   --image DUMP [...] [--volume UUID] [PATH] [-l] [--recursive] [--deleted] [--json]
  vmfs-rescue cat  --image DUMP [...] [--volume UUID] PATH --out FILE
  vmfs-rescue map  --image DUMP [...] --json
  vmfs-rescue scan --image DUMP [...] [--volume UUID] [--json]
  vmfs-rescue recover --image DUMP [...] [--volume UUID] --candidate ID --out FILE --format raw|flat|sparse|stream|delta [--parent PATH] [--report FILE.json]
  vmfs-rescue raid detect --member M1 --member M2 [...] [--json]
  vmfs-rescue raid assemble --member M1 [...] --out LUN.img

RAID members: every datastore command takes --member M (repeated) in place of --image; the array is
detected from the members. Override any detected value with --level raid0|raid1|raid5|raid6|raid10|jbod,
--stripe BYTES, --layout left-symmetric|left-asymmetric|right-symmetric|right-asymmetric, --delay ROWS,
--order M2,M1,missing,... and --offset M=BYTES.

PATH inside a datastore may be an FD address written <0x...>.
info --deep searches the whole LUN for every VMFS volume that lived there (deleted, re-created);
--volume UUID opens one of them (previous volumes keep unreached files under /lost+found).
Progress goes to stderr. Exit codes: 0 ok, 1 usage or user error, 2 corrupt or unsupported input,
130 interrupted by SIGINT (outputs left as they were). An output that is an input is refused.
Options: --help, --version`;

/** Set by the CLI bundle's build (vite.cli.config.ts); absent when running from sources. */
declare const __VMFS_RESCUE_VERSION__: string | undefined;

function version(): string {
  if (typeof __VMFS_RESCUE_VERSION__ === 'string') return __VMFS_RESCUE_VERSION__;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.out(HELP);
      return cmd === undefined ? 1 : 0;
    }
    if (cmd === '--version' || cmd === '-V') {
      io.out(version());
      return 0;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(HELP);
      return 0;
    }
    switch (cmd) {
      case 'vmdk': {
        const { runVmdk } = await import('./commands/vmdk.js');
        return await runVmdk(rest, io);
      }
      case 'info':
      case 'ls':
      case 'cat':
      case 'map': {
        const { runDatastore } = await import('./commands/datastore.js');
        return await runDatastore(cmd, rest, io);
      }
      case 'scan': {
        const { runScan } = await import('./commands/recovery.js');
        return await runScan(rest, io);
      }
      case 'recover': {
        const { runRecover } = await import('./commands/recovery.js');
        return await runRecover(rest, io);
      }
      case 'raid': {
        const { runRaid } = await import('./commands/raid.js');
        return await runRaid(rest, io);
      }
      default:
        throw new UserError(`unknown command '${cmd}' (try --help)`);
    }
  } catch (e) {
    return reportError(e, io);
  }
}

/** The next step for a RescueError on the command line, unless its message already says it (usage lines, --ignore-cid). */
function cliNextStep(e: RescueError): string | null {
  const first = e.message.split('\n')[0]!;
  if (/^usage: |\(use --|\(add its dump with another --image\)/.test(first) || (e.name === 'UserError' && SAYS_WHAT_TO_DO.test(first))) return null;
  return rescueNextStep(e.name, first, 'cli') ?? null;
}

export function reportError(e: unknown, io: CliIO): number {
  if (isRescueError(e) && e.kind === 'cancelled') {
    io.err('vmfs-rescue: interrupted; no output was written (temporary files removed, destinations as they were)');
    return EXIT_INTERRUPTED;
  }
  if (isRescueError(e)) {
    io.err(`vmfs-rescue: ${e.message}`);
    const step = cliNextStep(e);
    if (step) io.err(`vmfs-rescue: what to do next: ${step}`);
    return e.kind === 'corrupt' || e.kind === 'unsupported' ? 2 : 1;
  }
  const err = e as NodeJS.ErrnoException;
  const fsError = describeFsError(e);
  if (fsError || (err && err.code === 'EEXIST')) {
    io.err(`vmfs-rescue: ${fsError ?? err.message}`);
    return 1;
  }
  io.err(`vmfs-rescue: internal error: ${err?.stack ?? String(e)}`);
  io.err('vmfs-rescue: what to do next: this is a bug in vmfs-rescue; report it with the command line, the input sizes and the lines above');
  return 2;
}

const isEntry = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  const io: CliIO = {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    errIsTTY: Boolean(process.stderr.isTTY),
  };
  // The reader went away (`vmfs-rescue ls -l … | head`): stop quietly, as Unix tools do, not with
  // an unhandled EPIPE and a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  main(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
