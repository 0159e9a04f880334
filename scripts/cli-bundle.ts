import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The compiled CLI for tests and benches that run the shipped binary: dist-cli/ is built by
 * `npm ci` (prepare) or `npm run build:cli`; this rebuilds it when it is missing or older than
 * anything it is built from, so they never measure or compare a stale bundle.
 */
const root = path.resolve(import.meta.dirname, '..');
export const CLI_BIN = path.join(root, 'bin/vmfs-rescue.mjs');
export const CLI_BUNDLE = path.join(root, 'dist-cli/vmfs-rescue.mjs');
const INPUTS = ['src', 'package.json', 'vite.cli.config.ts'];

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(p).reduce((m, name) => Math.max(m, newestMtime(path.join(p, name))), st.mtimeMs);
}

export function ensureCliBundle(log: (line: string) => void = () => {}): void {
  if (existsSync(CLI_BUNDLE) && statSync(CLI_BUNDLE).mtimeMs >= Math.max(...INPUTS.map((p) => newestMtime(path.join(root, p))))) return;
  log(`building ${path.relative(root, CLI_BUNDLE)} (npm run build:cli)`);
  // A test runner's NODE_ENV=test must not leak into the production build.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_ENV' && !k.startsWith('VITEST')));
  const r = spawnSync(path.join(root, 'node_modules/.bin/vite'), ['build', '-c', 'vite.cli.config.ts'], { cwd: root, env, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0 || !existsSync(CLI_BUNDLE)) throw new Error(`npm run build:cli failed (${r.status}): ${r.stderr}${r.stdout}`);
}
