import { UserError } from '../errors.js';
import { ADDR_FD } from './address.js';
import type { PathOrFd } from './types.js';

/** '<0x00800184>' form of an FD address. */
export function formatFdAddress(a: number): string {
  return `<0x${(a >>> 0).toString(16).padStart(8, '0')}>`;
}

/**
 * Splits a user-given path-or-FD: returns the FD address for '<0x...>' (or a number), else the
 * normalised path ('/a/b'). UserError for an address whose type bits are not FD (4).
 */
export function parsePathOrFd(p: PathOrFd): { fd: number } | { path: string } {
  if (typeof p === 'number') return { fd: checkFd(p, String(p)) };
  const m = /^<\s*(0x[0-9a-fA-F]{1,8}|[0-9]+)\s*>$/.exec(p.trim());
  if (m) return { fd: checkFd(Number(m[1]), p) };
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  return { path: '/' + parts.join('/') };
}

function checkFd(a: number, text: string): number {
  if (!Number.isInteger(a) || a < 0 || a > 0xffffffff || (a & 7) !== ADDR_FD) {
    throw new UserError(`${text} is not an FD address (the low 3 bits must be 4, e.g. <0x00000004> for the root)`);
  }
  return a >>> 0;
}
