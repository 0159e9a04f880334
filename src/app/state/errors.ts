/**
 * How errors reach the user: one line that says what happened (RescueError messages already name
 * the file and the value) and what to do next. The "what to do" is chosen here, in one place, by
 * the error's class name (it survives the worker boundary) and, for a few classes, by what the
 * message is about: call sites just use oneLine(e).
 */
import { rescueNextStep, SAYS_WHAT_TO_DO } from '../../core/next-step.js';

/** The error's class name as the worker sent it (the UI keys on it). */
export const errName = (e: unknown): string => (e as { name?: string })?.name ?? '';

/** The first line of the error's message, as the core wrote it (no advice added). */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message : String(e);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

/** Hints written for the command line; the app says them its own way (in nextStep). */
const CLI_HINTS = [/\s*\(use --ignore-cid to merge anyway\)/, /\s*\(add its dump with another --image\)/];

/**
 * What to do next for an error, or null when nothing useful can be said (a cancel). Keyed by the
 * error's class name: RescueError subclasses (core/next-step.ts, shared with the CLI), DOM
 * exceptions from pickers and storage.
 */
export function nextStep(e: unknown): string | null {
  const name = errName(e);
  const msg = firstLine(e);
  const core = rescueNextStep(name, msg, 'app');
  if (core !== undefined) return core;
  switch (name) {
    case 'AbortError':
      return null;
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
