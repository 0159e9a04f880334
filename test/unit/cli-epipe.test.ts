import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, ensureCliBundle } from '../../scripts/cli-bundle.js';

/**
 * `vmfs-rescue … | head`: the reader closes the pipe before the CLI is done writing. The CLI must
 * stop quietly (exit 0, nothing on stderr), not die on an unhandled EPIPE with a stack trace.
 */
describe('CLI output into a closed pipe', () => {
  beforeAll(() => ensureCliBundle(), 300_000);

  it('exits 0 without a stack trace when stdout is closed before it writes', async () => {
    const child = spawn(process.execPath, [CLI_BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed at once: the process has not loaded yet, so its first write meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    const code = await new Promise<number | null>((res, rej) => {
      child.on('error', rej);
      child.on('close', (c) => res(c));
    });
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
