/**
 * The selection when a scan's candidate list is replaced (a provisional list by a newer one, the
 * final one last). A choice the user made on the old list (a candidate picked, or the parent of the
 * selected one changed) is kept while that candidate is still listed, with the parent the user
 * chose (a guess follows the new list's guess; an ambiguous parent stays to be chosen). `guessed` is
 * the old candidate's defaultParent. Otherwise the selection follows the new list: its
 * first candidate with its guessed parent. Null: the list is empty.
 */
export interface Selection {
  id: string;
  /** Parent descriptor path ('' = none, PARENT_UNCHOSEN = ambiguous and not chosen yet). */
  parent: string;
}

/** The parent choice of a candidate whose parent is ambiguous, before the user chooses one. */
export const PARENT_UNCHOSEN = '\u0000choose';

/** What a candidate's parent choice starts as: its guess, else "choose" when ambiguous, else none. */
export function defaultParent(c: { parent: string | null; parentAmbiguous?: boolean }): string {
  return c.parent ?? (c.parentAmbiguous ? PARENT_UNCHOSEN : '');
}

export function carrySelection(
  prev: { id: string | null; parent: string; guessed: string | null; picked: boolean },
  next: readonly { id: string; parent: string | null; parentAmbiguous?: boolean }[],
): Selection | null {
  const ownParent = prev.parent !== (prev.guessed ?? '');
  const same = prev.id !== null && (prev.picked || ownParent) ? next.find((c) => c.id === prev.id) : undefined;
  if (same) return { id: same.id, parent: ownParent ? prev.parent : defaultParent(same) };
  const first = next[0];
  return first ? { id: first.id, parent: defaultParent(first) } : null;
}
