import { CorruptError, UserError } from '../../errors.js';
import { MAX_VOLUME } from './landmarks.js';
import { MAX_FDS, MAX_ORIGINS, STATE_FORMAT, type DeepScanState } from './scan.js';

/**
 * Reading back a saved deep-scan state (a checkpoint written as JSON): it is input like a dump,
 * so every number is checked before the scan trusts it, and a state saved for other dumps is
 * refused rather than mixed with theirs.
 */

const MAX_LIST = 4096;
const MAX_RUNS = 4096;

class Check {
  constructor(private readonly what: string) {}
  fail(why: string): never {
    throw new CorruptError(`${this.what}: not a deep-scan state saved by vmfs-rescue (${why})`);
  }
  obj(v: unknown, at: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`${at} is not an object`);
    return v as Record<string, unknown>;
  }
  arr(v: unknown, at: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(`${at} is not a list`);
    if (v.length > max) this.fail(`${at} holds more than ${max} items`);
    return v;
  }
  int(v: unknown, at: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) this.fail(`${at} is not a whole number in [${min}, ${max}]`);
    return v;
  }
  str(v: unknown, at: string, max = 256): string {
    if (typeof v !== 'string' || v.length > max) this.fail(`${at} is not a string of at most ${max} characters`);
    return v;
  }
  bool(v: unknown, at: string): boolean {
    if (typeof v !== 'boolean') this.fail(`${at} is not true or false`);
    return v;
  }
  /** Each of `keys` a whole number up to max. */
  ints(o: Record<string, unknown>, at: string, keys: readonly string[], max = Number.MAX_SAFE_INTEGER): void {
    for (const k of keys) this.int(o[k], `${at}.${k}`, max);
  }
}

const FD_INTS = ['at', 'origin', 'volOffset', 'fdSize', 'address', 'generation', 'linkCount', 'typeCode', 'length', 'blockSize', 'zla'] as const;
const DESC_INTS = ['at', 'origin', 'version', 'fsMajor', 'fsMinor', 'blockSize', 'subBlockSize', 'mdAlignment', 'creationTime', 'fdcGroupOffset', 'fdcClustersPerGroup'] as const;
const DESC_STRS = ['uuid', 'lvUuid', 'label'] as const;
const LVM_INTS = ['at', 'partition', 'major', 'dataOffset', 'deviceSize', 'source'] as const;
const DIR_INTS = ['at', 'layout', 'self', 'source'] as const;

const baseName = (p: string) => p.split(/[\\/]/).pop() ?? p;

/**
 * The state in `text` for these dumps (names as given and sizes), or a CorruptError (not a state,
 * or a value out of bounds) / UserError (saved for other dumps, or another count of them).
 */
export function parseDeepScanState(text: string, sources: readonly { name: string; size: number }[], what = 'deep-scan state'): DeepScanState {
  const ck = new Check(what);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    ck.fail('not JSON');
  }
  const s = ck.obj(raw, 'the file');
  if (s.format !== STATE_FORMAT) ck.fail(`format is not '${STATE_FORMAT}'`);
  const saved = ck.arr(s.sources, 'sources', 1024).map((x, i) => {
    const o = ck.obj(x, `sources[${i}]`);
    return { name: ck.str(o.name, `sources[${i}].name`, 4096), size: ck.int(o.size, `sources[${i}].size`) };
  });
  if (saved.length !== sources.length || saved.some((x, i) => x.size !== sources[i]!.size || baseName(x.name) !== baseName(sources[i]!.name))) {
    throw new UserError(`${what} was saved for ${saved.map((x) => `${x.name} (${x.size} bytes)`).join(', ')}, not for these dumps; give the same dumps in the same order, or another state file`);
  }
  const n = sources.length;
  const next = ck.obj(s.next, 'next');
  const pass = ck.int(next.pass, 'next.pass', 2);
  const source = ck.int(next.source, 'next.source', Math.max(0, n - 1));
  const pos = ck.int(next.pos, 'next.pos', sources[source]?.size ?? 0);
  if (pos % 512 !== 0) ck.fail('next.pos is not a sector boundary');
  const total = sources.reduce((a, x) => a + x.size, 0);
  const origins = ck.arr(s.origins, 'origins', MAX_ORIGINS).map((x, i) => {
    const at = `origins[${i}]`;
    const o = ck.obj(x, at);
    const src = ck.int(o.source, `${at}.source`, n - 1);
    const origin = ck.int(o.origin, `${at}.origin`, sources[src]!.size);
    const fds = ck.arr(o.fds, `${at}.fds`, MAX_FDS).map((f, j) => {
      const fo = ck.obj(f, `${at}.fds[${j}]`);
      if (fo.kind !== 'fd') ck.fail(`${at}.fds[${j}] is not an FD`);
      ck.ints(fo, `${at}.fds[${j}]`, FD_INTS, 2 ** 53 - 1);
      ck.bool(fo.signed, `${at}.fds[${j}].signed`);
      if (fo.fdSize !== 2048 && fo.fdSize !== 8192) ck.fail(`${at}.fds[${j}].fdSize is not 2048 or 8192`);
      if ((fo.volOffset as number) > MAX_VOLUME || (fo.at as number) - (fo.volOffset as number) !== origin) ck.fail(`${at}.fds[${j}] does not lie at its origin`);
      return fo;
    });
    const descriptors = ck.arr(o.descriptors, `${at}.descriptors`, 16).map((d, j) => {
      const dobj = ck.obj(d, `${at}.descriptors[${j}]`);
      if (dobj.kind !== 'fs-descriptor') ck.fail(`${at}.descriptors[${j}] is not an FS descriptor`);
      ck.ints(dobj, `${at}.descriptors[${j}]`, DESC_INTS);
      for (const k of DESC_STRS) ck.str(dobj[k], `${at}.descriptors[${j}].${k}`);
      if (![3, 5, 6].includes(dobj.version as number)) ck.fail(`${at}.descriptors[${j}].version is not 3, 5 or 6`);
      return dobj;
    });
    const map = ck.arr(o.map, `${at}.map`, MAX_RUNS).map((m, j) => {
      const mo = ck.obj(m, `${at}.map[${j}]`);
      return { start: ck.int(mo.start, `${at}.map[${j}].start`), length: ck.int(mo.length, `${at}.map[${j}].length`) };
    });
    const ch = ck.obj(o.clusterHeaders, `${at}.clusterHeaders`);
    const clusterHeaders: Record<string, number> = {};
    for (const [k, v] of Object.entries(ch)) {
      if (!/^\.[a-z0-9]{3}\.sf$/.test(k)) ck.fail(`${at}.clusterHeaders names '${k.slice(0, 32)}'`);
      clusterHeaders[k] = ck.int(v, `${at}.clusterHeaders.${k}`);
    }
    return { source: src, origin, fdCount: ck.int(o.fdCount, `${at}.fdCount`), fds, clusterHeaders, descriptors, map };
  });
  const lvm = ck.arr(s.lvm, 'lvm', MAX_LIST).map((x, i) => {
    const o = ck.obj(x, `lvm[${i}]`);
    if (o.kind !== 'lvm') ck.fail(`lvm[${i}] is not an LVM header`);
    ck.ints(o, `lvm[${i}]`, LVM_INTS);
    ck.str(o.lvUuid, `lvm[${i}].lvUuid`);
    if ((o.source as number) >= n) ck.fail(`lvm[${i}].source names no dump`);
    return o;
  });
  const directories = ck.arr(s.directories, 'directories', MAX_LIST).map((x, i) => {
    const o = ck.obj(x, `directories[${i}]`);
    if (o.kind !== 'directory') ck.fail(`directories[${i}] is not a directory block`);
    ck.ints(o, `directories[${i}]`, DIR_INTS, 2 ** 53 - 1);
    if ((o.source as number) >= n) ck.fail(`directories[${i}].source names no dump`);
    return o;
  });
  return {
    format: STATE_FORMAT,
    sources: saved,
    metadataZone: ck.int(s.metadataZone, 'metadataZone', 2 ** 53 - 1, 512),
    next: { pass, source, pos },
    origins: origins as unknown as DeepScanState['origins'],
    lvm: lvm as unknown as DeepScanState['lvm'],
    directories: directories as unknown as DeepScanState['directories'],
    directoryCount: ck.int(s.directoryCount, 'directoryCount'),
    bytesScanned: ck.int(s.bytesScanned, 'bytesScanned', total),
    dropped: ck.int(s.dropped, 'dropped'),
  };
}
