/** zlib-wrapped deflate (RFC 1950), what streamOptimized grains hold; CompressionStream exists in browsers and Node. */
export async function deflateZlib(data: Uint8Array): Promise<Uint8Array> {
  const cs = new CompressionStream('deflate');
  const writer = cs.writable.getWriter();
  // Not awaited before reading: the readable side must be drained for the writes to complete.
  const wrote = writer.write(data as Uint8Array<ArrayBuffer>).then(() => writer.close());
  wrote.catch(() => {});
  const reader = cs.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    if (r.value) {
      chunks.push(r.value);
      total += r.value.length;
    }
  }
  await wrote;
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
