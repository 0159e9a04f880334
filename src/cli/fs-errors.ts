/** What a Node file-system error code means for a path the user named, and what to do. */
export const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file (check the path)',
  ENOTDIR: 'a part of the path is not a folder (check the path)',
  EISDIR: 'a folder was given where a file is needed',
  EACCES: 'permission denied (run as the file\'s owner, or with sudo)',
  EPERM: 'operation not permitted',
  ELOOP: 'too many symbolic links in the path',
};

/** A Node file-system error as one line for the user, or null when it is not one of those. */
export function describeFsError(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException | null;
  const why = err && typeof err.code === 'string' ? FS_ERRORS[err.code] : undefined;
  if (!why) return null;
  return err!.path ? `cannot ${err!.syscall ?? 'open'} ${err!.path}: ${why}` : why;
}
