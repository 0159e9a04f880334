/**
 * A long loop whose awaits all settle at once (synchronous preads in Node, hashing zeros, holes)
 * chains only microtasks, which starve timers, I/O callbacks and signal handlers: a SIGINT or a
 * cancel message would wait for the whole loop. `breather(ms)` gives such a loop one macrotask turn
 * after every `ms` of work: call it between steps and await what it returns (undefined when no
 * turn is due, so the common case costs a clock read).
 */
export function breather(everyMs = 10): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    if (performance.now() - last < everyMs) return undefined;
    return new Promise<void>((r) => setTimeout(r, 0)).then(() => {
      last = performance.now();
    });
  };
}
