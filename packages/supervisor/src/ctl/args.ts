// runtsctl's command line: a global --address, then one command with its own
// flags, declared as tables that also make --help, the man page and the
// completion. Parsing is pure so it is tested without runtsd.
import { resolve } from 'node:path';
import { FlagError, HELP, commandHelp, flagSpecs, helpText, parseFlags, parseSignal, type CommandDoc, type Flags, type Program } from '@runts/cli';
import { isRuntsError } from '@runts/errors';
import { DEFAULT_ADDRESS } from '../daemon-args';

export { DEFAULT_ADDRESS };

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
  | { name: 'help'; text: string }
  | { name: 'version' };

export interface Parsed {
  address: string;
  command: Command;
}

/** A wrong command line: printed with a hint to --help, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const GLOBAL: Flags = {
  address: { type: 'string', default: DEFAULT_ADDRESS, describe: "runtsd's socket" },
};

const TTI: Flags = {
  tty: { type: 'boolean', short: 't', describe: 'give the process a terminal' },
  interactive: { type: 'boolean', short: 'i', describe: 'keep its stdin open to this one' },
};

const COMMANDS: CommandDoc[] = [
  {
    names: ['run'],
    args: '<bundle>',
    summary: 'create and start a container',
    flags: {
      name: { type: 'string', describe: 'the container id (default: one made up)' },
      detach: { type: 'boolean', short: 'd', describe: 'return once it started, print its id' },
      rm: { type: 'boolean', describe: 'remove it once it exited' },
      group: { type: 'string', describe: 'share a shim with the containers of this group' },
      ...TTI,
    },
  },
  {
    names: ['ps'],
    args: '',
    summary: 'list containers',
    flags: {
      all: { type: 'boolean', short: 'a', describe: 'the stopped ones too' },
      format: { type: 'string', choices: ['table', 'json'], default: 'table', describe: 'table or json' },
    },
  },
  { names: ['inspect'], args: '<id> [id...]', summary: "a container's record as JSON", flags: {} },
  { names: ['logs'], args: '<id>', summary: "a container's output", flags: { follow: { type: 'boolean', short: 'f', describe: 'keep printing what it writes' } } },
  { names: ['exec'], args: '<id> <command...>', summary: 'run a command in a running container', flags: TTI },
  { names: ['kill'], args: '<id>', summary: 'signal a container', flags: { signal: { type: 'string', short: 's', default: 'TERM', describe: 'the signal, by name or number' } } },
  { names: ['stop'], args: '<id>', summary: 'SIGTERM, then SIGKILL after a while', flags: { time: { type: 'string', short: 't', default: '10', describe: 'seconds to wait before SIGKILL' } } },
  { names: ['rm'], args: '<id> [id...]', summary: 'remove containers', flags: { force: { type: 'boolean', short: 'f', describe: 'running ones too (SIGKILL first)' } } },
  { names: ['events'], args: '', summary: 'events as JSON lines, as they come', flags: {} },
  { names: ['stats'], args: '<id>', summary: 'resource usage as JSON', flags: {} },
  { names: ['wait'], args: '<id>', summary: 'wait for the exit; print its status', flags: {} },
];

export const RUNTSCTL: Program = {
  name: 'runtsctl',
  section: 1,
  summary: 'run and manage containers through runtsd',
  description: [
    'runtsctl asks runtsd, the runts supervisor, to create, run, list, signal and remove containers, and prints what it answers: container records, their output, events and resource usage.',
    'Exit status: 0 on success, 1 when the request failed, 2 for a wrong command line; run and exec, unless detached, exit with the status of the process.',
  ],
  global: GLOBAL,
  commands: COMMANDS,
  listIds: "ps -a | awk 'NR > 1 { print $1 }'",
};

function parse(args: string[], flags: Flags) {
  try {
    return parseFlags(args, flagSpecs({ ...flags, help: HELP['help']! }));
  } catch (e) {
    if (e instanceof FlagError) throw new UsageError(e.message);
    throw e;
  }
}

function signal(s: string): number {
  try {
    return parseSignal(s);
  } catch (e) {
    if (isRuntsError(e)) throw new UsageError(e.message);
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

const usage = (): Command => ({ name: 'help', text: helpText(GLOBAL, COMMANDS, 'runtsctl') });

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
    else if (a === '-h' || a === '--help') return { address, command: usage() };
    else if (a === '-v' || a === '--version') return { address, command: { name: 'version' } };
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a.split('=')[0]}`);
    else break;
  }
  address = resolve(address);
  const name = argv[i];
  const rest = argv.slice(i + 1);
  if (name === undefined) return { address, command: usage() };
  if (name === 'help') {
    // `help COMMAND`, as runts has.
    const topic = rest[0];
    if (topic === undefined) return { address, command: usage() };
    return { address, command: { name: 'help', text: commandHelp(find(topic), 'runtsctl') } };
  }
  return { address, command: parseCommand(name, rest) };
}

function find(name: string): CommandDoc {
  const c = COMMANDS.find((x) => x.names.includes(name));
  if (!c) throw new UsageError(`unknown command ${name}`);
  return c;
}

function parseCommand(name: string, rest: string[]): Command {
  const c = find(name);
  // exec's options stop at the id: only they may ask for help.
  const { values: v, positionals } = parse(name === 'exec' ? splitAtId(rest)[0] : rest, c.flags);
  if (v['help']) return { name: 'help', text: commandHelp(c, 'runtsctl') };
  switch (name) {
    case 'run': {
      const bundle = resolve(one(positionals, 'run', 'BUNDLE'));
      return { name, bundle, id: (v.name as string | undefined) ?? '', detach: !!v.detach, rm: !!v.rm, tty: !!v.tty, interactive: !!v.interactive, group: (v.group as string | undefined) ?? '' };
    }
    case 'ps': {
      if (positionals.length) throw new UsageError('ps takes no arguments');
      const format = (v.format as string | undefined) ?? 'table';
      if (format !== 'table' && format !== 'json') throw new UsageError(`unknown format ${format}: use table or json`);
      return { name, all: !!v.all, format };
    }
    case 'inspect':
      return { name, ids: some(positionals, name) };
    case 'logs':
      return { name, id: one(positionals, name), follow: !!v.follow };
    case 'exec': {
      const args = splitAtId(rest)[1];
      const id = one(positionals, name);
      if (args.length === 0) throw new UsageError('exec needs a command after the ID');
      return { name, id, args, tty: !!v.tty, interactive: !!v.interactive };
    }
    case 'kill':
      return { name, id: one(positionals, name), signal: signal((v['signal'] as string | undefined) ?? 'TERM') };
    case 'stop': {
      const t = (v.time as string | undefined) ?? '10';
      if (!/^\d+$/.test(t)) throw new UsageError(`stop -t needs whole seconds, not ${t}`);
      return { name, id: one(positionals, name), timeout: Number(t) };
    }
    case 'rm':
      return { name, ids: some(positionals, name), force: !!v.force };
    case 'events':
      if (positionals.length) throw new UsageError('events takes no arguments');
      return { name };
    case 'stats':
    case 'wait':
      return { name, id: one(positionals, name) };
    default:
      throw new UsageError(`unknown command ${name}`);
  }
}
