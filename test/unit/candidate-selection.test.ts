import { describe, expect, it } from 'vitest';
import { carrySelection, PARENT_UNCHOSEN } from '../../src/app/state/candidate-selection.js';

const list = [
  { id: 'delta-9', parent: '/vm2/vm2.vmdk' },
  { id: 'delta-4', parent: '/vm1/vm1.vmdk' },
  { id: 'delta-7', parent: null },
];

describe('carrySelection (early candidate list replaced by the final one)', () => {
  it('keeps the selected candidate when its id is still listed, not the new first one', () => {
    expect(carrySelection({ id: 'delta-4', parent: '/vm1/vm1.vmdk', guessed: '/vm1/vm1.vmdk', picked: true }, list)).toEqual({ id: 'delta-4', parent: '/vm1/vm1.vmdk' });
  });

  it('follows the final guess when the user had left the early guess', () => {
    expect(carrySelection({ id: 'delta-4', parent: '/old/guess.vmdk', guessed: '/old/guess.vmdk', picked: true }, list)).toEqual({ id: 'delta-4', parent: '/vm1/vm1.vmdk' });
    expect(carrySelection({ id: 'delta-7', parent: '', guessed: null, picked: true }, list)).toEqual({ id: 'delta-7', parent: '' });
  });

  it("keeps the parent the user chose, even 'none'", () => {
    expect(carrySelection({ id: 'delta-4', parent: '/vm3/vm3.vmdk', guessed: '/vm1/vm1.vmdk', picked: true }, list)).toEqual({ id: 'delta-4', parent: '/vm3/vm3.vmdk' });
    expect(carrySelection({ id: 'delta-4', parent: '', guessed: '/vm1/vm1.vmdk', picked: true }, list)).toEqual({ id: 'delta-4', parent: '' });
  });

  it('follows the new list when the selection was automatic and its parent left as guessed', () => {
    expect(carrySelection({ id: 'delta-4', parent: '/vm1/vm1.vmdk', guessed: '/vm1/vm1.vmdk', picked: false }, list)).toEqual({ id: 'delta-9', parent: '/vm2/vm2.vmdk' });
  });

  it('keeps an automatic selection whose parent the user changed', () => {
    expect(carrySelection({ id: 'delta-4', parent: '', guessed: '/vm1/vm1.vmdk', picked: false }, list)).toEqual({ id: 'delta-4', parent: '' });
  });

  it('selects the first candidate when nothing was selected or the selected id is gone', () => {
    expect(carrySelection({ id: null, parent: '', guessed: null, picked: false }, list)).toEqual({ id: 'delta-9', parent: '/vm2/vm2.vmdk' });
    expect(carrySelection({ id: 'delta-1', parent: '/x.vmdk', guessed: '/x.vmdk', picked: true }, list)).toEqual({ id: 'delta-9', parent: '/vm2/vm2.vmdk' });
    expect(carrySelection({ id: null, parent: '', guessed: null, picked: false }, [{ id: 'delta-3', parent: null }])).toEqual({ id: 'delta-3', parent: '' });
  });

  it('selects nothing in an empty list', () => {
    expect(carrySelection({ id: 'delta-4', parent: '', guessed: null, picked: true }, [])).toBeNull();
  });

  it('an ambiguous parent stays to be chosen: never silently none', () => {
    const ambiguous = [{ id: 'delta-5', parent: null, parentAmbiguous: true }, ...list];
    // Automatic selection of the new first candidate.
    expect(carrySelection({ id: null, parent: '', guessed: null, picked: false }, ambiguous)).toEqual({ id: 'delta-5', parent: PARENT_UNCHOSEN });
    // Kept through a new list while the user has not chosen.
    expect(carrySelection({ id: 'delta-5', parent: PARENT_UNCHOSEN, guessed: PARENT_UNCHOSEN, picked: true }, ambiguous)).toEqual({ id: 'delta-5', parent: PARENT_UNCHOSEN });
    // Once chosen, the choice is kept.
    expect(carrySelection({ id: 'delta-5', parent: '/vm1/vm1.vmdk', guessed: PARENT_UNCHOSEN, picked: true }, ambiguous)).toEqual({ id: 'delta-5', parent: '/vm1/vm1.vmdk' });
  });
});
