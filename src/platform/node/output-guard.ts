import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';

/** A file the command reads or writes, with what it is for the message (`--image`, `--out`, `extent of X`). */
export interface RolePath {
  path: string;
  role: string;
}

interface Identity {
  real: string;
  /** Device and inode when the file exists (a hard link has another path but the same pair). */
  node: string | null;
}

async function identity(p: string): Promise<Identity> {
  const abs = path.resolve(p);
  const st = await stat(abs, { bigint: true }).catch(() => null);
  if (st) return { real: await realpath(abs).catch(() => abs), node: `${st.dev}:${st.ino}` };
  // Not there yet: where it would land is the real folder plus the name.
  const dir = await realpath(path.dirname(abs)).catch(() => path.dirname(abs));
  return { real: path.join(dir, path.basename(abs)), node: null };
}

const same = (a: Identity, b: Identity) => a.real === b.real || (a.node !== null && a.node === b.node);

/**
 * Refuses (UserError, exit 1) before anything is written when an output would land on an input:
 * the same real path, or the same device and inode (symlinks, hard links, `./a/../b` spellings),
 * or when two outputs are the same file. The source of a recovery may be its only copy.
 */
export async function refuseOutputsOnInputs(outputs: readonly RolePath[], inputs: readonly RolePath[]): Promise<void> {
  const ins = await Promise.all(inputs.map(async (i) => ({ ...i, id: await identity(i.path) })));
  const outs: (RolePath & { id: Identity })[] = [];
  for (const o of outputs) {
    const id = await identity(o.path);
    const hit = ins.find((i) => same(i.id, id));
    if (hit) {
      const how = hit.id.real === id.real ? (path.resolve(o.path) === path.resolve(hit.path) ? '' : ` (same file as ${id.real})`) : ' (same file: a hard link)';
      throw new UserError(`refusing to write ${o.role} ${o.path}: it is the input ${hit.role} ${hit.path}${how}; nothing was written`);
    }
    const twin = outs.find((x) => same(x.id, id));
    if (twin) throw new UserError(`${o.role} ${o.path} and ${twin.role} ${twin.path} are the same file: give them different names`);
    outs.push({ ...o, id });
  }
}
