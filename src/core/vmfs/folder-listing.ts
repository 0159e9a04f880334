import { RescueError } from '../errors.js';
import { linkRoles, vmdkRole, type VmdkRole } from '../vmdk/roles.js';
import type { Datastore, FileType } from './types.js';

/**
 * One folder of a datastore as a file browser shows it: its entries ('.' and '..' left out), each
 * .vmdk sniffed for its chain role and linked to its parent, and sub-folders marked when they hold a
 * VM. Bounded so that a folder of thousands of entries stays quick.
 */

/** .vmdk files sniffed per listing (each costs a read of its head). */
export const MAX_SNIFF = 512;
/** Sub-folders looked into per listing (each costs a readdir). */
export const MAX_PEEK_DIRS = 256;

export interface FolderEntry {
  name: string;
  path: string;
  type: FileType;
  size: number;
  allocated: number;
  fdAddress: string;
  mtime: number;
  /** FD change time: the time `debugvmfs ls -l` prints. */
  ctime: number;
  error?: string;
  vmdk?: VmdkRole;
  /** Directories: holds a .vmx or .vmdk (looked at for the first MAX_PEEK_DIRS folders only). */
  vmFolder?: boolean;
  /** Deep-scan volumes: bytes of the file a newer volume now uses. */
  overwrittenBytes?: number;
}

export interface FolderListing {
  path: string;
  entries: FolderEntry[];
  /** The folder holds a .vmx: a VM's home folder. */
  vmFolder: boolean;
}

const joinPath = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

export async function listFolder(d: Datastore, path: string): Promise<FolderListing> {
  const dir = path === '' ? '/' : path;
  const entries: FolderEntry[] = (await d.readdir(path))
    .filter((e) => e.name !== '.' && e.name !== '..')
    .map((e) => ({
      name: e.name,
      path: joinPath(dir, e.name),
      type: e.type,
      size: e.size,
      allocated: e.allocatedBytes,
      fdAddress: e.fdAddressText,
      mtime: e.mtime,
      ctime: e.ctime,
      ...(e.error ? { error: e.error } : {}),
      ...('overwrittenBytes' in e && typeof e.overwrittenBytes === 'number' && e.overwrittenBytes > 0 ? { overwrittenBytes: e.overwrittenBytes } : {}),
    }));
  let sniffed = 0;
  let peeked = 0;
  for (const e of entries) {
    if (e.error) continue;
    if (e.type === 'file' && /\.vmdk$/i.test(e.name) && sniffed < MAX_SNIFF) {
      sniffed++;
      try {
        e.vmdk = await vmdkRole(await d.openFile(e.path), e.size, e.path);
      } catch (err) {
        // One unreadable disk is shown as such; the listing goes on.
        if (!(err instanceof RescueError)) throw err;
        e.vmdk = { kind: 'data', error: err.message };
      }
    } else if (e.type === 'directory' && peeked < MAX_PEEK_DIRS) {
      peeked++;
      try {
        e.vmFolder = (await d.readdir(e.path)).some((x) => /\.(vmx|vmdk)$/i.test(x.name));
      } catch (err) {
        if (!(err instanceof RescueError)) throw err;
      }
    }
  }
  linkRoles(entries);
  return { path: dir, entries, vmFolder: entries.some((e) => /\.vmx$/i.test(e.name)) };
}
