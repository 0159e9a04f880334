/**
 * How errors reach the user: one line that says what happened (RescueError messages already name
 * the file and the value) and what to do next. The "what to do" is chosen here, in one place, by
 * the error's class name (it survives the worker boundary) and, for a few classes, by what the
 * message is about: call sites just use oneLine(e).
 */

/** The error's class name as the worker sent it (the UI keys on it). */
export const errName = (e: unknown): string => (e as { name?: string })?.name ?? '';

/** The first line of the error's message, as the core wrote it (no advice added). */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message : String(e);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

/** Hints written for the command line; the app says them its own way (in nextStep). */
const CLI_HINTS = [/\s*\(use --ignore-cid to merge anyway\)/, /\s*\(add its dump with another --image\)/];

/** The message already tells the user what to do (after a colon or semicolon, an instruction). */
const SAYS_WHAT_TO_DO = /[:;,] (?:then )?(?:pick|choose|add|open|try|use|click|copy|reload|allow|check|select|press|free|give)\b|\binstead\b/i;

/**
 * What to do next for an error, or null when nothing useful can be said (a cancel). Keyed by the
 * error's class name (RescueError subclasses, DOM exceptions from pickers and storage).
 */
export function nextStep(e: unknown): string | null {
  const name = errName(e);
  const msg = firstLine(e);
  switch (name) {
    case 'CancelledError':
    case 'AbortError':
      return null;
    case 'VolumeHoleError':
      return 'pick the other LUN dumps of this volume too (all at once), then open again';
    case 'TruncatedDumpError':
      return 'the dump file is shorter than the volume (a copy that stopped early?): copy the LUN again in full; until then, files and deltas stored before the cut can still be read';
    case 'MissingFileError':
      if (/\bparent\b/i.test(msg)) return 'pick the parent disk too (its descriptor .vmdk and its -flat/-delta file), or the whole VM folder';
      if (/\bextent\b/i.test(msg)) return 'pick the extent files the descriptor names too (-flat, -delta or -s001… files), or the whole VM folder';
      if (/\bLUN\b|\bdump\b|\bvolume\b/i.test(msg)) return 'pick the other LUN dumps of this volume too (all at once), then open again';
      return 'pick that file too (or the whole folder that holds it), then open again';
    case 'CidMismatchError':
      return 'pick the right parent disk, or choose "Open anyway" to merge the chain as it is';
    case 'OutOfRangeError':
      return 'the file is shorter than its own headers say (a truncated copy?): copy it again in full and pick the complete file';
    case 'CorruptError':
      if (/\bno VMFS\b/.test(msg)) return 'pick the raw dump of a whole datastore LUN or of its VMFS partition (for .vmdk files, use Open VMDK files)';
      return 'check that you picked the right file (a whole raw LUN dump, or the .vmdk files of one disk); other files and blocks may still be readable';
    case 'UnsupportedError':
      return 'this tool cannot read it: try another file or candidate, or copy the data out with VMware tools first';
    case 'InternalError':
      return 'this is a bug in vmfs-rescue: reload the page and try again; if it happens again, report it with the file sizes and the steps';
    case 'NotAllowedError':
      return 'allow access when the browser asks, or use the classic file dialog';
    case 'SecurityError':
      return 'the browser only opens dialogs straight from a click: click the button again';
    case 'NotFoundError':
      return 'the file was moved or deleted since it was picked: pick it again';
    case 'NotReadableError':
      return 'the file could not be read (moved, changed or locked by another program): pick it again';
    case 'QuotaExceededError':
      return 'browser storage is full: free disk space, or export to a place you choose (the save dialog) instead';
    case 'UserError':
    case 'RescueError':
      return 'change the choice above and try again';
    default:
      return 'try again; if it fails again, reload the page';
  }
}

/**
 * The one line the app shows for an error: what happened, then what to do next (unless the
 * message already says it). CLI-only hints are dropped.
 */
export function oneLine(e: unknown): string {
  let msg = firstLine(e);
  for (const h of CLI_HINTS) msg = msg.replace(h, '');
  const step = nextStep(e);
  if (!step || (SAYS_WHAT_TO_DO.test(msg) && errName(e) !== 'CidMismatchError' && errName(e) !== 'VolumeHoleError')) return msg;
  return `${msg.replace(/[.\s]+$/, '')}: ${step}`;
}
