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
