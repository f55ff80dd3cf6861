// A command line as tables: global options, then a command with its own
// options and arguments (runc's shape). The same tables make --help, the man
// pages and the bash completion (doc.ts); the syntax is flags.ts.
import { RuntsError } from '@runts/errors';
import { FlagError, parseFlags as tokenize, type FlagSpecs } from './flags';

export interface Flag {
  type: 'string' | 'boolean' | 'number';
  short?: string;
  /** Repeatable: the value is a list. */
  multiple?: boolean;
  default?: string | boolean | number;
  choices?: readonly string[];
  describe: string;
  hidden?: boolean;
}
export type Flags = Record<string, Flag>;

type One<F extends Flag> = F['type'] extends 'boolean' ? boolean : F['type'] extends 'number' ? number : string;
/** What parsing gives for a table of flags, keyed by the flags' own names. */
export type Values<F extends Flags> = {
  [K in keyof F]: F[K]['multiple'] extends true ? One<F[K]>[] | undefined : F[K] extends { default: string | number | boolean } ? One<F[K]> : One<F[K]> | undefined;
};

/** What a command's help, man page section and completion show. */
export interface CommandDoc<F extends Flags = Flags> {
  /** The name, then its aliases. */
  names: string[];
  /** Arguments as runc's usage shows them: `<id>` required, `[signal]` optional, `[command...]` the rest. */
  args: string;
  summary: string;
  flags: F;
}

/** One program's command line, as its help and man page describe it. */
export interface Program {
  name: string;
  /** The manual section: 8 for what root runs, 1 for the rest. */
  section: 1 | 8;
  /** One line, for NAME in the man page. */
  summary: string;
  /** Paragraphs for DESCRIPTION. */
  description: string[];
  /** Options, with --help and --version (HELP) among them. */
  global: Flags;
  commands: CommandDoc[];
  /** What follows the program and its global options to print the containers'
   * ids, one per line (shell words): the completion offers them for `<id>`. */
  listIds?: string;
}

export interface Command<F extends Flags = Flags> extends CommandDoc<F> {
  /** exec: options end at the first argument, so `exec ID ls -l` passes -l to ls. */
  optionsEndAtArgs?: boolean;
  run(flags: Values<F>, args: Record<string, string | string[] | undefined>): Promise<number | void> | number | void;
}

/** Ties a command's flags to its handler's types; the list of commands holds them erased. */
export function command<F extends Flags>(c: Command<F>): Command {
  return c as unknown as Command;
}

export interface Parsed {
  global: Record<string, unknown>;
  command?: Command;
  flags: Values<Flags>;
  args: Record<string, string | string[] | undefined>;
  /** --help or `help [command]`: the text to print instead of running anything. */
  help?: string;
  /** --version anywhere among the global options. */
  version?: boolean;
}

const usage = (msg: string) => new RuntsError('ERR_USAGE', msg);
/** Every program takes these. */
export const HELP: Flags = {
  help: { type: 'boolean', short: 'h', describe: 'show help' },
  version: { type: 'boolean', short: 'v', describe: 'print the version' },
};
const HELP_COMMAND = ['help', 'h'];

function lookup(flags: Flags, token: string): [string, Flag] | undefined {
  const name = token.replace(/^--?/, '').split('=')[0]!;
  if (token.startsWith('--')) return flags[name] ? [name, flags[name]!] : undefined;
  return Object.entries(flags).find(([, f]) => f.short === name);
}

/** Index of the first argument that is not an option (or an option's value). */
function firstArg(argv: string[], flags: Flags): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return i;
    if (!a.startsWith('-') || a === '-') return i;
    const f = lookup(flags, a);
    if (f && f[1].type !== 'boolean' && !a.includes('=')) i++;
  }
  return argv.length;
}

/** What the tokenizer needs of a table. */
export function flagSpecs(flags: Flags): FlagSpecs {
  const out: FlagSpecs = {};
  for (const [name, f] of Object.entries(flags)) {
    out[name] = { type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  return out;
}

/** The given values converted and checked against the table; defaults filled in. */
function values(flags: Flags, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(flags)) {
    const v = raw[name];
    if (v === undefined) {
      if (f.default !== undefined) out[name] = f.default;
      continue;
    }
    const one = (x: unknown) => {
      if (f.type === 'number') {
        const n = Number(x);
        if (x === '' || !Number.isInteger(n)) throw usage(`--${name}: "${String(x)}" is not an integer`);
        return n;
      }
      if (f.choices && !f.choices.includes(x as string)) throw usage(`--${name}: "${String(x)}" is not one of ${f.choices.join(', ')}`);
      return x;
    };
    out[name] = Array.isArray(v) ? v.map(one) : one(v);
  }
  return out;
}

/** `help` names the help that lists the flags: `runts run --help`. */
function parseFlags(argv: string[], flags: Flags, help: string) {
  try {
    return tokenize(argv, flagSpecs(flags));
  } catch (e) {
    if (e instanceof FlagError) throw usage(`${e.message} (see ${help})`);
    throw e;
  }
}

function bindArgs(c: Command, given: string[]): Record<string, string | string[] | undefined> {
  const specs = c.args.split(/\s+/).filter(Boolean);
  const required = specs.filter((s) => s.startsWith('<')).length;
  const variadic = specs.some((s) => s.endsWith('...]'));
  if (given.length < required || (!variadic && given.length > specs.length)) {
    const n = specs.length;
    const want = required === n ? `exactly ${n}` : variadic ? `at least ${required}` : `${required} to ${n}`;
    throw usage(`"${c.names[0]}" requires ${want} argument(s), got ${given.length}`);
  }
  const out: Record<string, string | string[] | undefined> = {};
  specs.forEach((s, i) => {
    const name = s.replace(/[<>[\].]/g, '');
    out[name] = s.endsWith('...]') ? given.slice(i) : given[i];
  });
  return out;
}

/** Options only, no command (runtsd, runts-shim): the values, or the help or version asked for. */
export function parseOptions(argv: string[], global: Flags, prog: string): Parsed {
  const p = parseFlags(argv, { ...global, ...HELP }, `${prog} --help`);
  if (p.values['version']) return { global: {}, flags: {}, args: {}, version: true };
  if (p.values['help']) return { global: {}, flags: {}, args: {}, help: optionsHelp(prog, global) };
  if (p.positionals.length) throw usage(`unexpected argument "${p.positionals[0]}" (see ${prog} --help)`);
  return { global: values(global, p.values), flags: {}, args: {} };
}

/** `prog` names the program in usage lines and errors. */
export function parse(argv: string[], global: Flags, commands: Command[], prog = 'runts'): Parsed {
  const globalFlags = { ...global, ...HELP };
  const at = firstArg(argv, globalFlags);
  const pre = parseFlags(argv.slice(0, at), globalFlags, `${prog} --help`);
  const name = argv[at];
  if (pre.values['version']) return { global: {}, flags: {}, args: {}, version: true };
  if (pre.values['help']) return { global: {}, flags: {}, args: {}, help: helpText(global, commands, prog) };
  if (name === undefined || name === '--') throw usage(`a command is required (see ${prog} --help)`);
  const find = (n: string) => commands.find((x) => x.names.includes(n));
  if (HELP_COMMAND.includes(name)) {
    // runc's `help [command]`.
    const topic = argv[at + 1];
    if (topic === undefined) return { global: {}, flags: {}, args: {}, help: helpText(global, commands, prog) };
    const about = find(topic);
    if (!about) throw usage(`no help topic for "${topic}" (see ${prog} --help)`);
    return { global: {}, flags: {}, args: {}, help: commandHelp(about, prog) };
  }
  const c = find(name);
  if (!c) throw usage(`unknown command "${name}" (see ${prog} --help)`);

  // Global options may also follow the command; the command's own win on a clash.
  const all = { ...global, help: HELP['help']!, ...c.flags };
  let rest = argv.slice(at + 1);
  let tail: string[] = [];
  if (c.optionsEndAtArgs) {
    const first = firstArg(rest, all);
    const stop = rest[first] === '--' ? first : first + 1;
    tail = rest.slice(stop).filter((a, i) => i > 0 || a !== '--');
    rest = rest.slice(0, stop);
  }
  const post = parseFlags(rest, all, `${prog} ${c.names[0]} --help`);
  if (post.values['help']) return { global: {}, flags: {}, args: {}, help: commandHelp(c, prog) };
  const fromPost = (flags: Flags, own: boolean) =>
    Object.fromEntries(Object.entries(post.values).filter(([k]) => k in flags && (own || !(k in c.flags))));
  return {
    global: values(global, { ...pre.values, ...fromPost(global, false) }),
    command: c,
    flags: values(c.flags, fromPost(c.flags, true)) as Values<Flags>,
    args: bindArgs(c, [...post.positionals, ...tail]),
  };
}

/** The option lines of a help text, hidden ones left out. */
export function flagLines(flags: Flags): string {
  return Object.entries(flags)
    .filter(([, f]) => !f.hidden)
    .map(([name, f]) => {
      const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'boolean' ? '' : ' value'}`;
      const def = f.default !== undefined && f.default !== false ? ` (default: ${String(f.default)})` : '';
      return `   ${left.padEnd(28)} ${f.describe}${def}`;
    })
    .join('\n');
}

export function helpText(global: Flags, commands: CommandDoc[], prog: string): string {
  const cmds = [...commands.map((c) => [c.names.join(', '), c.summary]), [HELP_COMMAND.join(', '), 'show the commands, or the help of one']]
    .map(([names, summary]) => `   ${names!.padEnd(16)} ${summary}`)
    .join('\n');
  return `usage: ${prog} [global options] command [command options] [arguments...]\n\nCOMMANDS:\n${cmds}\n\nGLOBAL OPTIONS:\n${flagLines({ ...global, ...HELP })}\n`;
}

export function commandHelp(c: CommandDoc, prog: string): string {
  const opts = flagLines({ ...c.flags, help: HELP['help']! });
  return `usage: ${prog} ${c.names[0]} [command options]${c.args ? ` ${c.args}` : ''}\n\n${c.summary}\n\nOPTIONS:\n${opts}\n`;
}

function optionsHelp(prog: string, global: Flags): string {
  return `usage: ${prog} [options]\n\nOPTIONS:\n${flagLines({ ...global, ...HELP })}\n`;
}
