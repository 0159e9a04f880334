import { UserError } from '../core/errors.js';

/** Parsed command line: positional words, `--flag value` options (repeatable) and boolean switches. */
export interface Args {
  positional: string[];
  options: Map<string, string[]>;
  switches: Set<string>;
}

/**
 * A small, strict argument parser. `valued` lists the options that take a value (`--out FILE` or
 * `--out=FILE`); `booleans` the switches. Anything else starting with `-` is a usage error, so a typo
 * never silently changes what a recovery does.
 */
export function parseArgs(argv: readonly string[], valued: readonly string[], booleans: readonly string[]): Args {
  const a: Args = { positional: [], options: new Map(), switches: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') {
      a.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!w.startsWith('-') || w === '-') {
      a.positional.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    const name = (eq > 0 ? w.slice(0, eq) : w).replace(/^--?/, '');
    if (valued.includes(name)) {
      const v = eq > 0 ? w.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UserError(`option --${name} needs a value`);
      a.options.set(name, [...(a.options.get(name) ?? []), v]);
    } else if (booleans.includes(name) && eq < 0) {
      a.switches.add(name);
    } else {
      throw new UserError(`unknown option ${w}`);
    }
  }
  return a;
}

export function option(a: Args, name: string): string | undefined {
  const v = a.options.get(name);
  return v?.[v.length - 1];
}

export function requireOption(a: Args, name: string): string {
  const v = option(a, name);
  if (v === undefined) throw new UserError(`missing --${name}`);
  return v;
}

/** Where a command writes: stdout for results (last line = sha256 where the contract says so), stderr for progress. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  /** True when stderr is a terminal (progress may redraw one line). */
  errIsTTY: boolean;
}
