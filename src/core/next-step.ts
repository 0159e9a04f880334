/**
 * What to do next after an error, for each RescueError class, in the words of where it is shown:
 * the app (pick files, press buttons) or the command line (flags, commands). Keyed by the class
 * name, which survives the worker boundary; a few classes look at what the message is about.
 */

export type Surface = 'app' | 'cli';

/** A message that already tells the user what to do (after a colon or semicolon, an instruction). */
export const SAYS_WHAT_TO_DO = /[:;,] (?:then )?(?:pick|choose|add|open|try|use|click|copy|reload|allow|check|select|press|free|give)\b|\binstead\b/i;

type Step = Readonly<Record<Surface, string | null>>;

const ALL_LUNS: Step = {
  app: 'pick the other LUN dumps of this volume too (all at once), then open again',
  cli: 'give the dump of every LUN of this volume, each with its own --image, and run the command again',
};

/**
 * The next step for an error of class `name` with first line `message`, or null when nothing
 * useful can be said (a cancel, or a class that is not a RescueError: the caller decides).
 */
export function rescueNextStep(name: string, message: string, surface: Surface): string | null | undefined {
  const s = (step: Step) => step[surface];
  switch (name) {
    case 'CancelledError':
      return null;
    case 'VolumeHoleError':
      return s(ALL_LUNS);
    case 'TruncatedDumpError':
      // One dump cut short (a copy that stopped early), not a LUN left out: other dumps would not help.
      return s({
        app: 'the dump file is shorter than the volume (a copy that stopped early?): copy the LUN again in full; until then, files and deltas stored before the cut can still be read',
        cli: 'the dump file is shorter than the volume (a copy that stopped early?): copy the LUN again in full; until then, `scan` lists what can be recovered and files stored before the cut can still be read',
      });
    case 'MissingFileError':
      if (/\bparent\b/i.test(message)) return s({ app: 'pick the parent disk too (its descriptor .vmdk and its -flat/-delta file), or the whole VM folder', cli: 'put the parent disk (its descriptor .vmdk and its -flat/-delta file) where the child\'s parentFileNameHint says, beside the child, and run the command again' });
      if (/\bextent\b/i.test(message)) return s({ app: 'pick the extent files the descriptor names too (-flat, -delta or -s001… files), or the whole VM folder', cli: 'put the extent files the descriptor names (-flat, -delta or -s001… files) beside it and run the command again' });
      if (/\bLUN\b|\bdump\b|\bvolume\b/i.test(message)) return s(ALL_LUNS);
      return s({ app: 'pick that file too (or the whole folder that holds it), then open again', cli: 'check the path: the file must exist and be readable' });
    case 'CidMismatchError':
      return s({ app: 'pick the right parent disk, or choose "Open anyway" to merge the chain as it is', cli: null });
    case 'OutOfRangeError':
      return s({ app: 'the file is shorter than its own headers say (a truncated copy?): copy it again in full and pick the complete file', cli: 'the file is shorter than its own headers say (a truncated copy?): copy it again in full' });
    case 'CorruptError':
      if (/\bno VMFS\b/.test(message)) return s({ app: 'pick the raw dump of a whole datastore LUN or of its VMFS partition (for .vmdk files, use Open VMDK files)', cli: 'give the raw dump of a whole datastore LUN or of its VMFS partition (for .vmdk files, use the vmdk commands)' });
      return s({ app: 'check that you picked the right file (a whole raw LUN dump, or the .vmdk files of one disk); other files and blocks may still be readable', cli: 'check that the input is the right file (a whole raw LUN dump, or the .vmdk of one disk); other files and blocks may still be readable with ls, cat and scan' });
    case 'UnsupportedError':
      return s({ app: 'this tool cannot read it: try another file or candidate, or copy the data out with VMware tools first', cli: 'vmfs-rescue cannot read it: try another file or candidate, or copy the data out with VMware tools first' });
    case 'UserError':
    case 'RescueError':
      return s({ app: 'change the choice above and try again', cli: 'check the command line (vmfs-rescue --help) and run it again' });
    default:
      return undefined;
  }
}
