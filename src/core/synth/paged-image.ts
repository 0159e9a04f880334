import { checkRange, type ByteSource } from '../io/byte-source.js';
import type { PositionalWriter } from './vmfs/writer.js';

const PAGE = 64 * 1024;

/** One piece of an image laid end to end: real bytes, or a run of zeros nobody wrote. */
export type ImagePart = { bytes: Uint8Array } | { zeros: number };

/**
 * A sparse image in memory: 64 KiB pages, allocated on first write; everything never written
 * reads as zeros. Builders write it like a sparse host file; readers see a ByteSource; the app
 * turns its parts into a Blob without materialising the zeros. The page count is capped so a
 * builder bug cannot eat the tab's memory.
 */
export class PagedImage implements PositionalWriter, ByteSource {
  private readonly pages = new Map<number, Uint8Array>();
  private length: number;

  constructor(
    readonly name: string,
    size: number,
    private readonly maxPages = 1024,
  ) {
    this.length = size;
  }

  get size(): number {
    return this.length;
  }

  /** Bytes of real (written) pages held. */
  get residentBytes(): number {
    return this.pages.size * PAGE;
  }

  write(offset: number, bytes: Uint8Array): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.length > this.length) {
      throw new Error(`builder bug: write 0x${offset.toString(16)}+0x${bytes.length.toString(16)} outside ${this.name}`);
    }
    let done = 0;
    while (done < bytes.length) {
      const pos = offset + done;
      const p = Math.floor(pos / PAGE);
      const within = pos - p * PAGE;
      const n = Math.min(bytes.length - done, PAGE - within);
      let page = this.pages.get(p);
      if (!page) {
        if (this.pages.size >= this.maxPages) throw new Error(`builder bug: ${this.name} holds more than ${this.maxPages} pages`);
        page = new Uint8Array(PAGE);
        this.pages.set(p, page);
      }
      page.set(bytes.subarray(done, done + n), within);
      done += n;
    }
  }

  /**
   * Synchronous fill of `buf` from `pos` (zeros where nothing was written or past the end). Not
   * named readInto: readers take a method of that name for ReadIntoSource's readInto(offset, dest).
   */
  copyOut(buf: Uint8Array, pos: number): void {
    buf.fill(0);
    let done = 0;
    while (done < buf.length && pos + done < this.length) {
      const at = pos + done;
      const p = Math.floor(at / PAGE);
      const within = at - p * PAGE;
      const n = Math.min(buf.length - done, PAGE - within, this.length - at);
      const page = this.pages.get(p);
      if (page) buf.set(page.subarray(within, within + n), done);
      done += n;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    this.copyOut(out, offset);
    return out;
  }

  /** Sets the final length (a delta file ends at its last grain); pages past it are dropped. */
  truncate(size: number): void {
    this.length = size;
    for (const p of [...this.pages.keys()]) if (p * PAGE >= size) this.pages.delete(p);
  }

  close(): void {}

  /** The image end to end, as written pages and zero runs (last page clipped to the size). */
  parts(): ImagePart[] {
    const out: ImagePart[] = [];
    let pos = 0;
    for (const p of [...this.pages.keys()].sort((a, b) => a - b)) {
      const start = p * PAGE;
      if (start >= this.length) break;
      if (start > pos) out.push({ zeros: start - pos });
      const n = Math.min(PAGE, this.length - start);
      out.push({ bytes: this.pages.get(p)!.subarray(0, n) });
      pos = start + n;
    }
    if (pos < this.length) out.push({ zeros: this.length - pos });
    return out;
  }
}
