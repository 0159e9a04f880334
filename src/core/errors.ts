/**
 * Error hierarchy. Every failure the core reports is one of these, so the CLI can map it to an
 * exit code (1 user error, 2 corrupt or unsupported input) and the app to a message that says
 * what to do next. Messages are one line and name the file and the offending value.
 */
export type ErrorKind = 'user' | 'corrupt' | 'unsupported' | 'cancelled' | 'io';

export class RescueError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.kind = kind;
    // Not new.target.name: minified production builds rename classes, and the app and worker
    // transport rely on stable names.
    this.name = 'RescueError';
  }
}

/** The user asked for something impossible: a missing file, a bad flag, a CID mismatch to override. */
export class UserError extends RescueError {
  constructor(message: string) {
    super('user', message);
    this.name = 'UserError';
  }
}

/** A file that should be there is not (a parent disk, an extent file). */
export class MissingFileError extends RescueError {
  readonly path: string;
  constructor(path: string, message?: string) {
    super('user', message ?? `missing file: ${path}`);
    this.name = 'MissingFileError';
    this.path = path;
  }
}

/** On-disk data contradicts the format: bad magic, out-of-range pointer, truncated structure. */
export class CorruptError extends RescueError {
  constructor(message: string) {
    super('corrupt', message);
    this.name = 'CorruptError';
  }
}

/** Well-formed input that this tool does not read (RDM, encrypted disk, unknown version). */
export class UnsupportedError extends RescueError {
  constructor(message: string) {
    super('unsupported', message);
    this.name = 'UnsupportedError';
  }
}

/** A child's parentCID does not match its parent's CID. Overridable with --ignore-cid. */
export class CidMismatchError extends RescueError {
  readonly childCid: string;
  readonly parentCid: string;
  constructor(child: string, parent: string, expectedParentCid: string, actualParentCid: string) {
    super(
      'user',
      `CID mismatch: ${child} has parentCID=${expectedParentCid} but its parent ${parent} has CID=${actualParentCid} (use --ignore-cid to merge anyway)`,
    );
    this.name = 'CidMismatchError';
    this.childCid = expectedParentCid;
    this.parentCid = actualParentCid;
  }
}

/** A read reached past the end of a source: the file or dump is truncated. */
export class OutOfRangeError extends RescueError {
  constructor(message: string) {
    super('corrupt', message);
    this.name = 'OutOfRangeError';
  }
}

export class CancelledError extends RescueError {
  constructor(message = 'cancelled') {
    super('cancelled', message);
    this.name = 'CancelledError';
  }
}

export function isRescueError(e: unknown): e is RescueError {
  return e instanceof RescueError;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
