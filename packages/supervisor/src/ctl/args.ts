// runtsctl's command line: a global --address, then one command with its own
// flags, in the runts CLI's syntax. Parsing is pure so it is tested without runtsd.
import { resolve } from 'node:path';
import { FlagError, parseFlags, type FlagSpecs } from '@runts/runtime/dist/cli/flags';

export const DEFAULT_ADDRESS = '/run/runts/runtsd.sock';

export type Command =
  | { name: 'run'; bundle: string; id: string; detach: boolean; rm: boolean; tty: boolean; interactive: boolean; group: string }
  | { name: 'ps'; all: boolean; format: 'table' | 'json' }
  | { name: 'inspect'; ids: string[] }
  | { name: 'logs'; id: string; follow: boolean }
  | { name: 'exec'; id: string; args: string[]; tty: boolean; interactive: boolean }
  | { name: 'kill'; id: string; signal: number }
  | { name: 'stop'; id: string; timeout: number }
  | { name: 'rm'; ids: string[]; force: boolean }
  | { name: 'events' }
  | { name: 'stats'; id: string }
  | { name: 'wait'; id: string }
  | { name: 'help' };

export interface Parsed {
  address: string;
  command: Command;
}

/** A wrong command line: printed with a hint to --help, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `usage: runtsctl [--address SOCKET] COMMAND

commands:
  run BUNDLE [--name ID] [-d] [--rm] [-t] [-i] [--group G]   create and start a container
  ps [-a] [--format table|json]                              list containers
  inspect ID...                                              a container's record as JSON
  logs [-f] ID                                               a container's output
  exec [-t] [-i] ID CMD...                                   run a command in a container
  kill [-s SIGNAL] ID                                        signal a container (default TERM)
  stop [-t SECONDS] ID                                       SIGTERM, then SIGKILL after SECONDS (10)
  rm [-f] ID...                                              remove containers (-f: running ones too)
  events                                                     events as JSON lines
  stats ID                                                   resource usage as JSON
  wait ID                                                    wait for the exit; print its status
`;

export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n > 0 && n < 65) return n;
  } else {
    // node:os takes time to load: only a signal by name needs it.
    const { signals } = (require('node:os') as typeof import('node:os')).constants;
    const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as keyof typeof signals;
    const n = signals[name];
    if (n !== undefined) return n;
  }
  throw new UsageError(`unknown signal: ${s}`);
}

function parse(args: string[], options: FlagSpecs) {
  try {
    return parseFlags(args, options);
  } catch (e) {
    if (e instanceof FlagError) throw new UsageError(e.message);
    throw e;
  }
}

function one(positionals: string[], cmd: string, what = 'ID'): string {
  if (positionals.length !== 1) throw new UsageError(`${cmd} takes exactly one ${what}`);
  return positionals[0]!;
}

function some(positionals: string[], cmd: string): string[] {
  if (positionals.length === 0) throw new UsageError(`${cmd} needs at least one ID`);
  return positionals;
}

/** exec's options stop at the container id: what follows is the command, flags included. */
function splitAtId(rest: string[]): [string[], string[]] {
  const i = rest.findIndex((a) => !a.startsWith('-'));
  return i < 0 ? [rest, []] : [rest.slice(0, i + 1), rest.slice(i + 1)];
}

export function parseCtlArgs(argv: string[]): Parsed {
  let address = DEFAULT_ADDRESS;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--address') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError('--address needs a value');
      address = v;
    } else if (a.startsWith('--address=')) address = a.slice('--address='.length);
    else if (a === '-h' || a === '--help') return { address, command: { name: 'help' } };
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a.split('=')[0]}`);
    else break;
  }
  address = resolve(address);
  const name = argv[i];
  const rest = argv.slice(i + 1);
  if (name === undefined || name === 'help') return { address, command: { name: 'help' } };
  return { address, command: parseCommand(name, rest) };
}

function parseCommand(name: string, rest: string[]): Command {
  const tti = { tty: { type: 'boolean', short: 't' }, interactive: { type: 'boolean', short: 'i' } } as const;
  switch (name) {
    case 'run': {
      const { values: v, positionals } = parse(rest, {
        name: { type: 'string' }, detach: { type: 'boolean', short: 'd' }, rm: { type: 'boolean' }, group: { type: 'string' }, ...tti,
      });
      const bundle = resolve(one(positionals, 'run', 'BUNDLE'));
      return { name, bundle, id: (v.name as string | undefined) ?? '', detach: !!v.detach, rm: !!v.rm, tty: !!v.tty, interactive: !!v.interactive, group: (v.group as string | undefined) ?? '' };
    }
    case 'ps': {
      const { values: v, positionals } = parse(rest, { all: { type: 'boolean', short: 'a' }, format: { type: 'string' } });
      if (positionals.length) throw new UsageError('ps takes no arguments');
      const format = (v.format as string | undefined) ?? 'table';
      if (format !== 'table' && format !== 'json') throw new UsageError(`unknown format ${format}: use table or json`);
      return { name, all: !!v.all, format };
    }
    case 'inspect':
      return { name, ids: some(parse(rest, {}).positionals, name) };
    case 'logs': {
      const { values: v, positionals } = parse(rest, { follow: { type: 'boolean', short: 'f' } });
      return { name, id: one(positionals, name), follow: !!v.follow };
    }
    case 'exec': {
      const [opts, args] = splitAtId(rest);
      const { values: v, positionals } = parse(opts, tti);
      const id = one(positionals, name);
      if (args.length === 0) throw new UsageError('exec needs a command after the ID');
      return { name, id, args, tty: !!v.tty, interactive: !!v.interactive };
    }
    case 'kill': {
      const { values: v, positionals } = parse(rest, { signal: { type: 'string', short: 's' } });
      return { name, id: one(positionals, name), signal: parseSignal((v.signal as string | undefined) ?? 'TERM') };
    }
    case 'stop': {
      const { values: v, positionals } = parse(rest, { time: { type: 'string', short: 't' } });
      const t = (v.time as string | undefined) ?? '10';
      if (!/^\d+$/.test(t)) throw new UsageError(`stop -t needs whole seconds, not ${t}`);
      return { name, id: one(positionals, name), timeout: Number(t) };
    }
    case 'rm': {
      const { values: v, positionals } = parse(rest, { force: { type: 'boolean', short: 'f' } });
      return { name, ids: some(positionals, name), force: !!v.force };
    }
    case 'events':
      if (parse(rest, {}).positionals.length) throw new UsageError('events takes no arguments');
      return { name };
    case 'stats':
    case 'wait':
      return { name, id: one(parse(rest, {}).positionals, name) };
    default:
      throw new UsageError(`unknown command ${name}`);
  }
}
