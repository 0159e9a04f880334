/**
 * Colour tokens of theme.css resolved to the colours they give now (light or dark), for canvases:
 * a token is `light-dark(…)`, which only an element's computed colour resolves, so each one is
 * read through a hidden probe element.
 */
export function tokenColors<K extends string>(tokens: Record<K, string>): Record<K, string> {
  const probe = document.createElement('span');
  probe.hidden = true;
  document.body.append(probe);
  try {
    const out = {} as Record<K, string>;
    for (const k of Object.keys(tokens) as K[]) {
      probe.style.color = `var(${tokens[k]})`;
      out[k] = getComputedStyle(probe).color;
    }
    return out;
  } finally {
    probe.remove();
  }
}
