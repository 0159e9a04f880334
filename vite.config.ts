import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// VMFS_RESCUE_DIST lets parallel checkouts or test runs build and preview side by side.
const outDir = process.env.VMFS_RESCUE_DIST ?? 'dist';

const SW_SOURCE = 'src/sw/service-worker.ts';
const SW_FILE = 'sw.js';
const SW_PLACEHOLDER = '__VMFS_RESCUE_PRECACHE__';

/** Every file under `dir`, as '/'-separated paths relative to it. */
function listFiles(dir: string, root = dir): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), root) : [relative(root, join(dir, e.name)).split(sep).join('/')]));
}

/**
 * Builds the service worker as its own entry (sw.js at the top, so its scope is the whole app) and
 * writes into it the list of this build's files (the bundle, worker chunks included, plus public/)
 * and a version hashed from their contents, so a new build gets a new cache.
 */
function precacheServiceWorker(): Plugin {
  let publicDir = '';
  return {
    name: 'vmfs-rescue:precache-sw',
    apply: 'build',
    configResolved(c) {
      publicDir = c.publicDir;
    },
    buildStart() {
      this.emitFile({ type: 'chunk', id: SW_SOURCE, fileName: SW_FILE });
    },
    generateBundle: {
      order: 'post',
      handler(_options, bundle) {
        const sw = bundle[SW_FILE];
        if (!sw || sw.type !== 'chunk') this.error(`${SW_FILE} missing from the bundle`);
        const files = new Map<string, string | Uint8Array>();
        for (const [name, out] of Object.entries(bundle)) {
          if (name === SW_FILE || name.endsWith('.map')) continue;
          files.set(name, out.type === 'chunk' ? out.code : out.source);
        }
        for (const name of publicDir ? listFiles(publicDir) : []) files.set(name, readFileSync(join(publicDir, name)));
        const names = [...files.keys()].sort();
        const h = createHash('sha256');
        for (const n of names) h.update(n).update('\0').update(files.get(n)!).update('\0');
        const manifest = JSON.stringify({ version: h.digest('hex').slice(0, 16), files: names });
        const quoted = (q: string) => `${q}${SW_PLACEHOLDER}${q}`;
        const at = [`'`, `"`, "`"].map(quoted).find((p) => sw.code.includes(p));
        if (!at) this.error(`${SW_FILE}: precache placeholder not found`);
        sw.code = sw.code.replace(at, JSON.stringify(manifest));
      },
    },
  };
}

export default defineConfig({
  plugins: [svelte(), precacheServiceWorker()],
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, outDir },
  preview: { port: 4173, strictPort: true, host: '127.0.0.1' },
  server: { host: '127.0.0.1' },
});
