#!/usr/bin/env node
// Runs the compiled CLI (dist-cli/, built from src/cli by `npm run build:cli`, which `npm ci` runs
// through `prepare`): plain JavaScript, no TypeScript loader at run time.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const url = new URL('../dist-cli/vmfs-rescue.mjs', import.meta.url);
const bundle = fileURLToPath(url);
if (!existsSync(bundle)) {
  process.stderr.write(`vmfs-rescue: the compiled CLI ${bundle} is missing (installed with --ignore-scripts?); run \`npm run build:cli\` first\n`);
  process.exit(1);
}
// The bundle runs its entry code when it is the script Node was started with (see the end of
// src/cli/main.ts): say it is.
process.argv[1] = bundle;
await import(url.href);
