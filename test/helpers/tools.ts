import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * External oracles (qemu-img, qemu-io, debugvmfs, debugvmfs6, vmdkinfo). With REQUIRE_ORACLES=1
 * (set by scripts/test-all.sh, so always in CI) a missing tool FAILS the test; elsewhere the test
 * is skipped with a message, so a developer without the Debian packages can still run the rest.
 */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function oracleAvailable(...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  if (process.env.REQUIRE_ORACLES === '1') {
    throw new Error(`oracle tool(s) missing: ${missing.join(', ')} (REQUIRE_ORACLES=1: install the Debian packages)`);
  }
  console.warn(`skipping oracle tests: missing ${missing.join(', ')}`);
  return false;
}

/** Runs a tool, returns stdout; throws with its stderr when it fails. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${String(r.stderr)}`);
  return String(r.stdout);
}

/** sha256 of a file via coreutils (independent of our hashing code). */
export function sha256File(file: string): string {
  return run('sha256sum', [file]).split(/\s+/)[0]!;
}

export function makeTempDir(prefix = 'vmfs-rescue-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs our CLI as a subprocess, exactly as scripts do (`tsx src/cli/main.ts ...`). */
export function runCli(args: string[], opts: SpawnSyncOptions = {}): { code: number; stdout: string; stderr: string } {
  const root = path.resolve(import.meta.dirname, '../..');
  const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...opts,
  });
  return { code: r.status ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
