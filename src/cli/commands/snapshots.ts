import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { MAX_VMX_TEXT, parseVmsd, type VmsdSnapshot } from '../../core/vmdk/vmsd.js';
import { parseVmsn, type VmsnInfo } from '../../core/vmdk/vmsn.js';
import { NodeFileSource } from '../../platform/node/file-source.js';
import { parseArgs, type CliIO } from '../args.js';

/**
 * `vmdk snapshots FILE.vmsd [--json]`: the snapshot tree and, for each snapshot, the disks it froze
 * (from the .vmsd, and from its .vmsn when that file sits beside it).
 */
export async function snapshots(argv: string[], io: CliIO): Promise<number> {
  const a = parseArgs(argv, [], ['json']);
  if (a.positional.length !== 1) throw new UserError('usage: vmdk snapshots FILE.vmsd [--json]');
  const file = a.positional[0]!;
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) throw new UserError(`missing file: ${file}`);
  if (st.size > MAX_VMX_TEXT) throw new UserError(`${file}: ${st.size} bytes is too large for a .vmsd`);
  const vmsd = parseVmsd(await readFile(file, 'utf8'), file);

  const rows = [];
  for (const s of vmsd.snapshots) {
    const vmsn = s.filename ? await readVmsn(path.join(path.dirname(file), s.filename)) : null;
    rows.push({
      uid: s.uid,
      parentUid: s.parentUid,
      displayName: s.displayName,
      createTime: s.createTime?.toISOString() ?? null,
      current: vmsd.currentUid === s.uid,
      vmsn: s.filename,
      disks: s.disks.map((d) => ({ node: d.node, fileName: d.fileName })),
      vmsnDisks: vmsn?.disks ?? null,
      warnings: vmsn?.warnings ?? [],
    });
  }
  if (a.switches.has('json')) {
    io.out(JSON.stringify({ path: file, currentUid: vmsd.currentUid, snapshots: rows, warnings: vmsd.warnings }, null, 2));
    return 0;
  }
  const byUid = new Map(rows.map((r) => [r.uid, r]));
  const walk = (s: VmsdSnapshot, depth: number): void => {
    const r = byUid.get(s.uid)!;
    const pad = '  '.repeat(depth);
    io.out(`${pad}[${s.uid}] ${s.displayName || '(no name)'}${r.current ? '  <- current' : ''}${r.createTime ? `  ${r.createTime}` : ''}`);
    for (const d of r.disks) io.out(`${pad}    ${d.node ?? 'disk'}: ${d.fileName}`);
    if (r.vmsnDisks) for (const d of r.vmsnDisks) io.out(`${pad}    (${r.vmsn}) ${d.node}: ${d.fileName}`);
    for (const c of s.children) walk(c, depth + 1);
  };
  for (const root of vmsd.roots) walk(root, 0);
  for (const w of vmsd.warnings) io.err(`warning: ${w}`);
  return 0;
}

/** The .vmsn beside the .vmsd, if present; a damaged one is reported, not fatal. */
async function readVmsn(p: string): Promise<VmsnInfo | null> {
  const src = await NodeFileSource.open(p).catch(() => null);
  if (!src) return null;
  try {
    return await parseVmsn(src);
  } catch (e) {
    return { magic: 0, kind: 'unreadable', version: 0, groups: [], disks: [], warnings: [`${p}: ${(e as Error).message}`] };
  } finally {
    await src.close();
  }
}
