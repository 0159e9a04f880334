import type { GuestEntry, InspectedPartition } from '../../../core/guest/index.js';
import type { GuestApi } from '../../../workers/guest.api.js';
import { oneLine } from '../../state/errors.js';
import { HexViewState } from '../../state/hex-view.svelte.js';

/** Sector size the disk hex view counts in. */
const SECTOR = 512;

/** Filesystems the worker can browse. */
const BROWSABLE = new Set(['ext2', 'ext3', 'ext4', 'ntfs']);

/** State of the "Look inside" view: partition table, then a read-only browser of one partition. */
export class DiskInspectorState {
  scheme = $state('');
  warnings = $state<string[]>([]);
  partitions = $state<InspectedPartition[]>([]);
  /** Partition being browsed (its index), or null. */
  partition = $state<number | null>(null);
  cwd = $state('/');
  entries = $state<GuestEntry[]>([]);
  busy = $state(false);
  error = $state('');
  /** Path of the file being downloaded and bytes done, while it runs. */
  download = $state<{ path: string; done: number; size: number } | null>(null);

  /** Raw bytes of the whole disk, by sector (read through the worker, a page at a time). */
  readonly hex = new HexViewState();

  /** `api` is a getter so the component can hand over its (reactive) prop. */
  constructor(private readonly getApi: () => GuestApi) {}

  private get api(): GuestApi {
    return this.getApi();
  }

  browsable(p: InspectedPartition): boolean {
    return BROWSABLE.has(p.fs.type);
  }

  private async run(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.error = '';
    try {
      await fn();
    } catch (e) {
      this.error = oneLine(e);
    } finally {
      this.busy = false;
    }
  }

  load(): Promise<void> {
    return this.run(async () => {
      const r = await this.api.guestInspect();
      this.scheme = r.scheme;
      this.warnings = r.warnings;
      const api = this.api;
      this.hex.reset((offset, length) => api.guestReadDisk(offset, length), r.diskBytes, SECTOR);
      this.partitions = r.partitions;
      this.partition = null;
      this.entries = [];
    });
  }

  open(index: number): Promise<void> {
    this.partition = index;
    return this.browse('/');
  }

  browse(path: string): Promise<void> {
    const index = this.partition;
    if (index === null) return Promise.resolve();
    return this.run(async () => {
      const entries = await this.api.guestReaddir(index, path);
      entries.sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name));
      this.cwd = path;
      this.entries = entries;
    });
  }

  child(name: string): string {
    return this.cwd === '/' ? `/${name}` : `${this.cwd}/${name}`;
  }

  /** Reads the file in bounded chunks into a Blob (the browser may keep it on disk) and saves it. */
  save(e: GuestEntry): Promise<void> {
    const index = this.partition;
    if (index === null) return Promise.resolve();
    const path = this.child(e.name);
    return this.run(async () => {
      const parts: BlobPart[] = [];
      this.download = { path, done: 0, size: e.size };
      try {
        for (let done = 0; done < e.size; ) {
          const chunk = await this.api.guestRead(index, path, done);
          if (chunk.length === 0) break;
          parts.push(chunk as Uint8Array<ArrayBuffer>);
          done += chunk.length;
          this.download = { path, done, size: e.size };
        }
        const url = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = e.name;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      } finally {
        this.download = null;
      }
    });
  }
}
