/**
 * Which workspace the app shows (the open page, the datastore workflow or the VMDK-files
 * workflow) and which step of it: each step is a view that fits the window. Picking something
 * switches to its workspace; the step navigation switches steps.
 */
export type View = 'open' | 'datastore' | 'vmdk';

/** The step a workspace starts at. */
const FIRST_STEP: Record<View, string> = { open: 'open', datastore: 'volume', vmdk: 'chain' };

class UiState {
  view = $state<View>('open');
  /** The step shown in the workspace (its view). */
  step = $state('open');
  /** Bumped when the step navigation picks a step: its view takes the focus on its heading. */
  goto = $state.raw<{ step: string; seq: number } | null>(null);
  private seq = 0;

  /** Shows a workspace at `step` (the focus goes to the step's heading), or where it starts when the workspace changes. */
  show(view: View, step?: string): void {
    if (step) {
      this.view = view;
      this.step = step;
      this.goto = { step, seq: ++this.seq };
      return;
    }
    if (view !== this.view) this.step = FIRST_STEP[view];
    this.view = view;
  }

  /** Shows the step of the shown workspace that holds a result (the caller moves the focus to the result itself). */
  showStep(step: string): void {
    this.step = step;
  }
}

export const ui = new UiState();
