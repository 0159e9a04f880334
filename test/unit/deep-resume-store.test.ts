import { describe, expect, it } from 'vitest';
import { DeepResumeStore, type KeyValue } from '../../src/app/state/deep-resume.js';

/**
 * The app's store of unfinished Deep scans (IndexedDB through idb-keyval in the page; a Map here,
 * with idb-keyval's semantics: values are structured clones, update reads and writes in one go).
 * The e2e spec deep-scan.spec.ts drives it in the browser across a reload.
 */

function mapKv(): KeyValue & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async (k) => structuredClone(map.get(k)),
    set: async (k, v) => void map.set(k, structuredClone(v)),
    del: async (k) => void map.delete(k),
    update: async (k, fn) => void map.set(k, structuredClone(fn(structuredClone(map.get(k))))),
  };
}

const stamp = (name: string, size = 1 << 20, lastModified = 1_700_000_000_000) => ({ name, size, lastModified });
const cp = (done: number, total = 1 << 20) => ({ text: JSON.stringify({ done }), done, total });
const stateKeys = (kv: { map: Map<string, unknown> }) => [...kv.map.keys()].filter((k) => k.startsWith('vmfs-rescue:deep-scan:'));

describe('deep scan resume store', () => {
  it('saves, replaces and removes the state of one set of dumps', async () => {
    const kv = mapKv();
    const store = new DeepResumeStore(kv);
    const files = [stamp('lun0.img'), stamp('lun1.img', 2 << 20)];
    expect(await store.load(files)).toBeNull();
    await store.save(files, cp(512, 3 << 20));
    await store.save(files, cp(4096, 3 << 20));
    expect(await store.progress(files)).toEqual({ done: 4096, total: 3 << 20 });
    expect(await store.load(files)).toEqual(cp(4096, 3 << 20));
    expect(stateKeys(kv)).toHaveLength(1);
    await store.remove(files);
    expect(await store.load(files)).toBeNull();
    expect(stateKeys(kv)).toHaveLength(0);
  });

  it('keyed by names, sizes and dates in order: another set of dumps sees nothing', async () => {
    const store = new DeepResumeStore(mapKv());
    const files = [stamp('lun0.img'), stamp('lun1.img')];
    await store.save(files, cp(1024));
    expect(await store.progress([stamp('lun0.img'), stamp('lun1.img')])).toEqual({ done: 1024, total: 1 << 20 });
    for (const other of [
      [stamp('lun1.img'), stamp('lun0.img')],
      [stamp('lun0.img')],
      [stamp('lun0.img', 2 << 20), stamp('lun1.img')],
      [stamp('lun0.img'), stamp('lun1.img', 1 << 20, 1)],
      [stamp('lunX.img'), stamp('lun1.img')],
    ]) expect(await store.progress(other)).toBeNull();
  });

  it('keeps at most max states, dropping the one written longest ago', async () => {
    const kv = mapKv();
    const store = new DeepResumeStore(kv, 3);
    const sets = ['a', 'b', 'c', 'd'].map((n) => [stamp(`${n}.img`)]);
    for (const s of sets.slice(0, 3)) await store.save(s, cp(512));
    await store.save(sets[0]!, cp(1024)); // a written again: b is now the oldest
    await store.save(sets[3]!, cp(512));
    expect(await store.progress(sets[1]!)).toBeNull();
    for (const i of [0, 2, 3]) expect(await store.progress(sets[i]!)).not.toBeNull();
    expect(stateKeys(kv)).toHaveLength(3);
  });

  it('a damaged index or a missing state reads as nothing saved', async () => {
    const kv = mapKv();
    const store = new DeepResumeStore(kv);
    const files = [stamp('lun0.img')];
    await store.save(files, cp(512));
    const good = kv.map.get('vmfs-rescue:deep-scans') as object[];
    kv.map.set('vmfs-rescue:deep-scans', [null, 'x', { id: 7 }, { ...good[0], done: 2 << 20 }, { ...good[0], done: -1 }]);
    expect(await store.progress(files)).toBeNull();
    kv.map.set('vmfs-rescue:deep-scans', { not: 'a list' });
    expect(await store.load(files)).toBeNull();
    // The index names a state whose text is gone: load drops the entry.
    kv.map.set('vmfs-rescue:deep-scans', good);
    kv.map.delete(stateKeys(kv)[0]!);
    expect(await store.load(files)).toBeNull();
    expect(await store.progress(files)).toBeNull();
    // A state that is not text is not handed out either.
    await store.save(files, cp(512));
    kv.map.set(stateKeys(kv)[0]!, { text: 1 });
    expect(await store.load(files)).toBeNull();
  });
});
