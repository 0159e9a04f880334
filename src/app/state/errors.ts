/** How worker errors reach the user: one line (RescueError messages already name the file and the value). */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

/** The error's class name as the worker sent it (the UI keys on it). */
export const errName = (e: unknown): string => (e as { name?: string })?.name ?? '';
