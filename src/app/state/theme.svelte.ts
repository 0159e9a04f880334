/**
 * Light / dark theme: the system's choice (prefers-color-scheme) until the user picks one with the
 * toggle; the pick is kept in localStorage and applied as data-theme on <html> (see theme.css).
 */

const KEY = 'vmfs-rescue-theme';
type Pick = 'light' | 'dark' | null;

function stored(): Pick {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : null;
  } catch {
    return null; // storage blocked: follow the system
  }
}

const systemDark = (): boolean => typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;

class ThemeState {
  pick = $state<Pick>(stored());
  system = $state<'light' | 'dark'>(systemDark() ? 'dark' : 'light');

  constructor() {
    if (typeof matchMedia === 'function') {
      matchMedia('(prefers-color-scheme: dark)').addEventListener('change', (e) => (this.system = e.matches ? 'dark' : 'light'));
    }
    this.apply();
  }

  get current(): 'light' | 'dark' {
    return this.pick ?? this.system;
  }

  /** Switches to the other theme and remembers it. */
  toggle(): void {
    this.set(this.current === 'dark' ? 'light' : 'dark');
  }

  /** null: follow the system again. */
  set(p: Pick): void {
    this.pick = p;
    try {
      if (p) localStorage.setItem(KEY, p);
      else localStorage.removeItem(KEY);
    } catch {
      // not persisted; the choice still holds for this page
    }
    this.apply();
  }

  private apply(): void {
    if (typeof document === 'undefined') return;
    if (this.pick) document.documentElement.dataset.theme = this.pick;
    else delete document.documentElement.dataset.theme;
  }
}

export const theme = new ThemeState();
