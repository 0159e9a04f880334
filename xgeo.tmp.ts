import { closeSync, copyFileSync, openSync } from 'node:fs';
import path from 'node:path';
import { buildVmfs as buildVmfsCore } from './src/core/synth/vmfs/vmfs-builder.js';
import { deepFiles, OverwriteFile } from './test/helpers/deep-dumps.js';
import { nodeSha256 } from './test/builders/vmfs/sparse-file.js';
const dir = '/tmp/xgeo'; 
for (const [oldV, newV] of [[5, 6], [6, 5]] as const) {
  const m = await buildVmfsCore({ version: oldV, name: `x${oldV}`, label: `old${oldV}`, seed: 3, files: deepFiles(oldV), luns: [{ scheme: 'gpt', segments: 4 }], hasher: nodeSha256,
    createLun: (f, size) => { const p = path.join(dir, f); closeSync(openSync(p, 'w')); return new OverwriteFile(p, size); } });
  const orig = m.luns[0]!.path; const c = path.join(dir, `x${oldV}over.img`); copyFileSync(orig, c);
  await buildVmfsCore({ version: newV, name: `x${oldV}n`, label: `new${newV}`, seed: 9, files: [], luns: [{ scheme: 'gpt', segments: 4 }], hasher: nodeSha256, createLun: (_f, size) => new OverwriteFile(c, size) });
  console.log(oldV, '->', newV, c, m.entries.filter((e) => e.type === 'file').map((e) => `${e.path}:${e.size}`).join(' '));
}
