/**
 * Which workspace the app shows: the open page (home), the datastore workflow or the VMDK-files
 * workflow. Picking something switches to its workspace; the step navigation switches back.
 */
export type View = 'open' | 'datastore' | 'vmdk';

class UiState {
  view = $state<View>('open');
  /** Bumped by the step navigation: the workspace scrolls to and focuses this step. */
  goto = $state.raw<{ step: string; seq: number } | null>(null);
  private seq = 0;

  show(view: View, step?: string): void {
    this.view = view;
    if (step) this.goto = { step, seq: ++this.seq };
  }
}

export const ui = new UiState();
