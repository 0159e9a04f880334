import * as Comlink from 'comlink';
import { UserError } from '../core/errors.js';
import { readUpTo } from '../core/io/byte-source.js';
import { BlockIndex, type WindowCounts } from '../core/vmfs/block-owners.js';
import { fileStart, type FileStart } from '../core/vmfs/file-start.js';
import type { Datastore } from '../core/vmfs/index.js';
import { guarded } from './common.js';
import { MAX_VOLUME_READ, type OwnersAnswer } from './datastore.api.js';

/**
 * The inspector's worker methods (allocation map zoom and hover, hex view): spread into the
 * datastore worker's api. The block → owner index is built on the first hover and kept per volume.
 */

const MAX_WINDOW_CELLS = 65536;
const MAX_SPANS = 64;

/** Per volume: block states (zoom windows need only these) and, on the first owner question, the tree walk. */
const indexes = new WeakMap<Datastore, { states: Promise<BlockIndex>; owners: Promise<BlockIndex> | null }>();

function entryOf(d: Datastore) {
  let e = indexes.get(d);
  if (!e) {
    const states = BlockIndex.states(d);
    e = { states, owners: null };
    indexes.set(d, e);
    states.catch(() => indexes.delete(d)); // a failed build is retried on the next question
  }
  return e;
}

const statesOf = (d: Datastore): Promise<BlockIndex> => entryOf(d).states;

function ownersOf(d: Datastore): Promise<BlockIndex> {
  const e = entryOf(d);
  if (!e.owners) {
    const p = e.states.then(async (ix) => (await ix.walkOwners(d), ix));
    e.owners = p;
    p.catch(() => indexes.delete(d));
  }
  return e.owners;
}

const int = (n: number, what: string): number => {
  if (!Number.isSafeInteger(n) || n < 0) throw new UserError(`${what} ${n} is not a whole number of 0 or more`);
  return n;
};

export function createInspectorApi(requireDs: () => Datastore) {
  return {
    /** Who holds blocks [first, first + count): files (path and FD), system files, free space. */
    blockOwners(first: number, count: number, maxSpans = 16): Promise<OwnersAnswer> {
      return guarded(async () => {
        const ix = await ownersOf(requireDs());
        const q = ix.ownersOf(int(first, 'block'), int(count, 'block count'), Math.min(MAX_SPANS, Math.max(1, Math.floor(maxSpans) || 1)));
        return { ...q, complete: ix.complete };
      });
    },

    /** Block states per cell for a zoomed window of the allocation map: `cells` cells of `perCell` blocks from `first`. */
    allocationWindow(first: number, perCell: number, cells: number): Promise<WindowCounts> {
      return guarded(async () => {
        const n = int(cells, 'cell count');
        if (n > MAX_WINDOW_CELLS) throw new UserError(`${n} cells asked for; at most ${MAX_WINDOW_CELLS}`);
        const w = (await statesOf(requireDs())).window(int(first, 'block'), Math.max(1, int(perCell, 'blocks per cell')), n);
        return Comlink.transfer(w, [w.used.buffer, w.free.buffer, w.pointer.buffer, w.system.buffer]);
      });
    },

    /** Bytes of the logical volume (the hex view): at most MAX_VOLUME_READ, fewer at the volume's end. */
    readVolume(offset: number, length: number): Promise<Uint8Array> {
      return guarded(async () => {
        const d = requireDs();
        const off = int(offset, 'volume offset');
        const len = Math.min(int(length, 'length'), MAX_VOLUME_READ);
        if (off >= d.volume.size) throw new UserError(`volume offset 0x${off.toString(16)} is past the volume's end (0x${d.volume.size.toString(16)})`);
        const b = await readUpTo(d.volume, off, len);
        return Comlink.transfer(b, [b.buffer]);
      });
    },

    /** The volume offset where file `path` starts (first allocated block; the FD of a resident file). */
    fileStart(path: string): Promise<FileStart> {
      return guarded(() => fileStart(requireDs(), path));
    },
  };
}
