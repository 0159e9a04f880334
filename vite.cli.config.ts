import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

/**
 * The command line as plain JavaScript: `vite build -c vite.cli.config.ts` (npm run build:cli, run
 * by `npm ci` through `prepare`) bundles src/cli/main.ts and everything it imports into
 * dist-cli/vmfs-rescue.mjs, an ES module for Node 20, so bin/vmfs-rescue.mjs needs no TypeScript
 * loader at run time. Node built-ins stay imports; there are no other run-time dependencies.
 * Commands stay dynamic imports, so each loads only its own chunks: measured, `--version` and `info`
 * start faster that way than from one inlined bundle. Worker-thread scripts are entries of their
 * own with fixed names (Node starts a worker by path): dist-cli/deep-lane.mjs.
 */
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  publicDir: false,
  logLevel: 'warn',
  // Compiled in, so `--version` reads no file.
  define: { __VMFS_RESCUE_VERSION__: JSON.stringify(pkg.version) },
  ssr: { target: 'node', noExternal: true },
  build: {
    ssr: true,
    outDir: 'dist-cli',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    sourcemap: false,
    copyPublicDir: false,
    rollupOptions: {
      input: { 'vmfs-rescue': 'src/cli/main.ts', 'deep-lane': 'src/platform/node/deep-lane-worker.ts' },
      output: { format: 'es', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs' },
    },
  },
});
