/**
 * The selection when a scan's candidate list is replaced (the early list from file-system metadata
 * by the final one): the same candidate while its id is still listed, keeping the parent the user
 * chose (their choice, unlike a guess, is not overridden by the final list's guess); otherwise the
 * first candidate with its guessed parent. Null: the list is empty.
 */
export interface Selection {
  id: string;
  /** Parent descriptor path ('' = none). */
  parent: string;
}

export function carrySelection(
  prev: { id: string | null; parent: string; guessed: string | null },
  next: readonly { id: string; parent: string | null }[],
): Selection | null {
  const same = prev.id === null ? undefined : next.find((c) => c.id === prev.id);
  if (same) return { id: same.id, parent: prev.parent === (prev.guessed ?? '') ? (same.parent ?? '') : prev.parent };
  const first = next[0];
  return first ? { id: first.id, parent: first.parent ?? '' } : null;
}
