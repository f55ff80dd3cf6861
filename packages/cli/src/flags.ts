// The option syntax both CLIs (runts, runtsctl) read, strictly: --name,
// --name=value, --name value, -x, grouped -xyz, -s9, and -- before arguments.
// In place of node:util's parseArgs, whose first call is paid by every start
// (bench/NOTES.md). A string option takes the next argument whatever it looks like
// (`--memory -1`), as runc's does.

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Repeatable: the value is a list. */
  multiple?: boolean;
}
export type FlagSpecs = Record<string, FlagSpec>;
export type FlagValue = string | boolean;

export interface ParsedFlags {
  /** Only the options given, by their long names. */
  values: Record<string, FlagValue | FlagValue[]>;
  positionals: string[];
}

/** A command line these specs do not allow; the message is one line. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

export function parseFlags(args: readonly string[], specs: FlagSpecs): ParsedFlags {
  const values: ParsedFlags['values'] = {};
  const positionals: string[] = [];
  const set = (name: string, v: FlagValue) => {
    if (specs[name]!.multiple) ((values[name] ??= []) as FlagValue[]).push(v);
    else values[name] = v;
  };
  const valueOf = (i: number, shown: string): string => {
    if (i >= args.length) throw new FlagError(`flag needs an argument: ${shown}`);
    return args[i]!;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.length < 2 || a[0] !== '-') {
      positionals.push(a);
      continue;
    }
    if (a[1] === '-') {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (!Object.hasOwn(specs, name)) throw new FlagError(`unknown flag --${name}`);
      if (specs[name]!.type === 'boolean') {
        if (eq >= 0) throw new FlagError(`flag --${name} takes no value`);
        set(name, true);
      } else {
        set(name, eq >= 0 ? a.slice(eq + 1) : valueOf(++i, `--${name}`));
      }
      continue;
    }
    // Short options: booleans may share a dash; a string one takes the rest of it, or the next argument.
    for (let j = 1; j < a.length; j++) {
      const name = Object.keys(specs).find((n) => specs[n]!.short === a[j]);
      if (name === undefined) throw new FlagError(`unknown flag -${a[j]}`);
      if (specs[name]!.type === 'boolean') {
        set(name, true);
        continue;
      }
      set(name, j + 1 < a.length ? a.slice(j + 1) : valueOf(++i, `-${a[j]}`));
      break;
    }
  }
  return { values, positionals };
}
