import { CancelledError } from '../core/errors.js';

/** Exit code after SIGINT (128 + signal 2), as shells report a process stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/**
 * Runs `fn` with a signal that SIGINT aborts, so the command can remove its temporary files and
 * leave its destinations as they were (main maps the CancelledError to exit 130). The handler
 * stays until `fn` ends: a second SIGINT (a launcher relaying Ctrl-C that the process group
 * already got) must not kill the process half-way through its clean-up, which takes milliseconds.
 */
export async function withSigint<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.on('SIGINT', onSigint);
  try {
    return await fn(ac.signal);
  } catch (e) {
    // Whatever a read or write threw once the signal fired, the cause is the interrupt.
    if (ac.signal.aborted && !(e instanceof CancelledError)) throw new CancelledError('interrupted');
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
