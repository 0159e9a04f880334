/**
 * Where a long name may wrap: after a separator (. _ - / \ : and space), never inside a word.
 * The pieces are rendered with <wbr> between them; CSS keeps words whole (no overflow-wrap:
 * anywhere, no word-break: break-all).
 */
export function namePieces(text: string): string[] {
  return text.split(/(?<=[._\-/\\:])(?=[^._\-/\\:])/);
}

/** A hash in groups of 8 hex digits: it may wrap between groups only. */
export function hashPieces(hex: string): string[] {
  return hex.match(/.{1,8}/g) ?? [hex];
}
