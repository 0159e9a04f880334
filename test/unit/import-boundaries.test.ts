import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers' fences: which folder of src/ may import which. The core runs unchanged in a browser
 * worker and in Node, so it imports no platform, app, worker or CLI code and no node: module;
 * workers are adapters over the core and never reach the app or the CLI; the app talks to workers
 * through their types only (the worker code is loaded by URL); the CLI and the Node platform never
 * reach browser code. Type-only imports of a worker API from the app are allowed.
 */

const SRC = path.resolve(__dirname, '../../src');

/** Folder (relative to src) → folders it must not import from, and whether node: modules are forbidden. */
const RULES: { from: string; forbidden: string[]; noNode?: boolean; typeOnlyOk?: string[] }[] = [
  { from: 'core', forbidden: ['platform', 'app', 'workers', 'cli', 'sw'], noNode: true },
  { from: 'workers', forbidden: ['app', 'cli', 'platform/node'], noNode: true },
  { from: 'platform/browser', forbidden: ['app', 'workers', 'cli', 'platform/node'], noNode: true },
  { from: 'platform/node', forbidden: ['app', 'workers', 'platform/browser'] },
  { from: 'cli', forbidden: ['app', 'workers', 'platform/browser', 'sw'] },
  { from: 'app', forbidden: ['cli', 'platform/node', 'workers'], noNode: true, typeOnlyOk: ['workers'] },
];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : /\.(ts|svelte)$/.test(e.name) ? [p] : [];
  });
}

/** Every static import / export-from / dynamic import in a file, with whether it is type-only. */
function importsOf(text: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g)) out.push({ spec: m[4]!, typeOnly: !!m[2] });
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push({ spec: m[1]!, typeOnly: false });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

const inside = (rel: string, folder: string) => rel === folder || rel.startsWith(folder + '/');

describe('import boundaries between the layers of src/', () => {
  for (const rule of RULES) {
    it(`${rule.from} imports none of ${rule.forbidden.join(', ')}${rule.noNode ? ', nor node: modules' : ''}`, () => {
      const bad: string[] = [];
      let seen = 0;
      for (const f of files(path.join(SRC, rule.from))) {
        const relFile = path.relative(SRC, f).split(path.sep).join('/');
        // A narrower rule (platform/browser inside platform) is checked on its own.
        if (RULES.some((r) => r !== rule && r.from.startsWith(rule.from + '/') && inside(relFile, r.from))) continue;
        for (const { spec, typeOnly } of importsOf(readFileSync(f, 'utf8'))) {
          seen++;
          if (spec.startsWith('node:')) {
            if (rule.noNode) bad.push(`${relFile} -> ${spec}`);
            continue;
          }
          if (!spec.startsWith('.')) continue;
          const target = path.relative(SRC, path.resolve(path.dirname(f), spec)).split(path.sep).join('/');
          const hit = rule.forbidden.find((x) => inside(target, x));
          if (hit && !(typeOnly && rule.typeOnlyOk?.includes(hit))) bad.push(`${relFile} -> ${target}`);
        }
      }
      expect(seen).toBeGreaterThan(0); // the parse found the folder's imports: an empty pass proves nothing
      expect(bad).toEqual([]);
    });
  }
});

describe('the app reaches workers through one bridge', () => {
  const rel = (f: string) => path.relative(SRC, f).split(path.sep).join('/');
  const target = (f: string, spec: string) => path.relative(SRC, path.resolve(path.dirname(f), spec)).split(path.sep).join('/');
  const app = files(path.join(SRC, 'app'));

  it('only app/workers/app-workers.ts starts a Worker or imports comlink', () => {
    const bad = app.filter((f) => {
      const t = readFileSync(f, 'utf8');
      return rel(f) !== 'app/workers/app-workers.ts' && (/\bnew Worker\(/.test(t) || importsOf(t).some((i) => i.spec === 'comlink'));
    });
    expect(app.length).toBeGreaterThan(0);
    expect(bad.map(rel)).toEqual([]);
  });

  it('views (components) call state actions, never the bridge', () => {
    const bad: string[] = [];
    for (const f of app.filter((x) => rel(x).startsWith('app/components/')))
      for (const { spec } of importsOf(readFileSync(f, 'utf8'))) if (spec.startsWith('.') && inside(target(f, spec), 'app/workers')) bad.push(`${rel(f)} -> ${spec}`);
    expect(bad).toEqual([]);
  });

  it('the app imports values from a worker only out of its *.api.ts (types from anywhere in workers/)', () => {
    const bad: string[] = [];
    for (const f of app)
      for (const { spec, typeOnly } of importsOf(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.') || typeOnly) continue;
        const t = target(f, spec);
        if (inside(t, 'workers') && !/\.api\.js$/.test(t)) bad.push(`${rel(f)} -> ${t}`);
      }
    expect(bad).toEqual([]);
  });

  it('workers/*.api.ts (transfer types) import only core and other *.api.ts', () => {
    const apis = files(path.join(SRC, 'workers')).filter((f) => f.endsWith('.api.ts'));
    expect(apis.map(rel)).toEqual(expect.arrayContaining(['workers/datastore.api.ts', 'workers/vmdk.api.ts', 'workers/demo.api.ts', 'workers/carve.api.ts']));
    const bad: string[] = [];
    for (const f of apis)
      for (const { spec } of importsOf(readFileSync(f, 'utf8'))) {
        const t = spec.startsWith('.') ? target(f, spec) : spec;
        if (!inside(t, 'core') && !/^workers\/[^/]+\.api\.js$/.test(t)) bad.push(`${rel(f)} -> ${t}`);
      }
    expect(bad).toEqual([]);
  });
});
