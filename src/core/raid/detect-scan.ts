import { throwIfAborted } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { isAllZero } from '../util/struct.js';
import { resolveDirectories, scanLandmarks, type DirClues, type Landmark, type LunFacts } from './landmarks.js';

/**
 * The reading plan of detection: each member's head (4 MiB at a time, until enough landmarks are
 * found or 224 MiB are read) and its last 4 MiB (the backup GPT header); checks read at most 28 MiB more. Never more than 256 MiB
 * of a member. Nonzero sectors of the first 32 MiB are fingerprinted, so mirror copies and
 * parity that equals a lone data chunk can later align members that hold no landmark.
 */
export const HEAD_LIMIT = 224 * 1024 * 1024;
export const TAIL_BYTES = 4 * 1024 * 1024;
const BLOCK = 4 * 1024 * 1024;
const FINGERPRINT_SPAN = 32 * 1024 * 1024;
/** Zero-to-nonzero transitions kept per member. */
export const MAX_RISES = 1 << 16;
/** Landmarks that end a member's head read early. */
const ENOUGH = 256;

export interface MemberScan {
  landmarks: Landmark[];
  facts: LunFacts;
  /** Sector fingerprint -> first position (nonzero sectors of the first 32 MiB; fingerprints seen twice on one member are dropped). */
  prints: Map<number, number>;
  /** Positions in the head where an all-zero sector is followed by a nonzero one (at most MAX_RISES): the statistics fallback's input. */
  rises: number[];
  bytesRead: number;
}

export interface ScanProgress {
  done: number;
  total: number;
}

/** 32-bit FNV-1a over a sector, read as 32-bit words (cheap; collisions are only candidates, checked later). */
function fingerprint(words: Uint32Array, from: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < from + 128; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return h >>> 0;
}

function fingerprintBlock(buf: Uint8Array, base: number, prints: Map<number, number>, dupes: Set<number>): void {
  if (buf.byteOffset % 4) buf = buf.slice();
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
  for (let w = 0; w + 128 <= words.length; w += 128) {
    let nz = false;
    for (let i = w; i < w + 128; i++) {
      if (words[i]) {
        nz = true;
        break;
      }
    }
    if (!nz) continue;
    const h = fingerprint(words, w);
    if (dupes.has(h)) continue;
    if (prints.has(h)) {
      prints.delete(h);
      dupes.add(h);
    } else prints.set(h, base + w * 4);
  }
}

/** Appends to `rises` the positions of `buf` (member bytes from `base`) where a nonzero sector follows a zero one; returns whether its last sector is zero. */
function findRises(buf: Uint8Array, base: number, prevZero: boolean, rises: number[]): boolean {
  for (let at = 0; at + 512 <= buf.length; at += 512) {
    const zero = isAllZero(buf.subarray(at, at + 512));
    if (!zero && prevZero && rises.length < MAX_RISES) rises.push(base + at);
    prevZero = zero;
  }
  return prevZero;
}

export async function scanMembers(members: readonly ByteSource[], onProgress?: (p: ScanProgress) => void, signal?: AbortSignal): Promise<MemberScan[]> {
  const scans: MemberScan[] = members.map(() => ({ landmarks: [], facts: {}, prints: new Map(), rises: [], bytesRead: 0 }));
  const dirs: DirClues[] = members.map(() => ({ blocks: [], homes: new Map() }));
  // Byte 0 is never a rise: what lies before a member's first sector is unknown.
  const prevZero = members.map(() => false);
  const dupes = members.map(() => new Set<number>());
  const total = members.reduce((s, m) => s + Math.min(m.size, HEAD_LIMIT + TAIL_BYTES), 0);
  let done = 0;
  const headEnd = members.map((m) => Math.min(m.size, HEAD_LIMIT));
  const pos = members.map(() => 0);
  // Round-robin over the members, so a slow or huge member does not starve the others' progress.
  for (let active = true; active; ) {
    active = false;
    for (let i = 0; i < members.length; i++) {
      const s = scans[i]!;
      if (pos[i]! >= headEnd[i]! || (s.landmarks.length >= ENOUGH && pos[i]! >= FINGERPRINT_SPAN)) continue;
      throwIfAborted(signal);
      active = true;
      const len = Math.min(BLOCK, headEnd[i]! - pos[i]!);
      const buf = await members[i]!.read(pos[i]!, len);
      scanLandmarks(buf, pos[i]!, s.landmarks, s.facts, dirs[i]);
      prevZero[i] = findRises(buf, pos[i]!, prevZero[i]!, s.rises);
      if (pos[i]! < FINGERPRINT_SPAN) fingerprintBlock(buf.subarray(0, Math.min(len, FINGERPRINT_SPAN - pos[i]!)), pos[i]!, s.prints, dupes[i]!);
      pos[i]! += len;
      s.bytesRead += len;
      done += len;
      onProgress?.({ done, total });
    }
  }
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    const from = Math.max(headEnd[i]!, m.size - TAIL_BYTES);
    if (from >= m.size) continue;
    throwIfAborted(signal);
    const from512 = from - (from % 512);
    const buf = await m.read(from512, m.size - from512);
    scanLandmarks(buf, from512, scans[i]!.landmarks, scans[i]!.facts, dirs[i]);
    scans[i]!.bytesRead += buf.length;
    done += buf.length;
    onProgress?.({ done: Math.min(done, total), total });
  }
  resolveDirectories(
    dirs,
    scans.map((s) => s.landmarks),
  );
  return scans;
}
