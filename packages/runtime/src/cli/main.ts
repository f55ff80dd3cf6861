import { isRuntsError } from '@runts/errors';
import type { GlobalOptions, Queries, RuntimeApi, RuntimeFactory } from './api';
import { Logger, parse, versionText as programVersion, writeAll, type Program } from '@runts/cli';
import { GLOBAL_FLAGS, commands, type Io } from './commands';

export const SPEC_VERSION = '1.2.1';

function defaultRoot(): string {
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return process.geteuid?.() !== 0 && xdg ? `${xdg}/runts` : '/run/runts';
}

function globals(v: Record<string, unknown>): GlobalOptions {
  return {
    root: typeof v['root'] === 'string' ? v['root'] : defaultRoot(),
    logFormat: v['log-format'] === 'json' ? 'json' : 'text',
    systemdCgroup: v['systemd-cgroup'] === true,
    debug: v['debug'] === true,
    ...(typeof v['log'] === 'string' ? { log: v['log'] } : {}),
  };
}

/** When the command line itself is wrong, the engine still reads the error from --log. */
function logFromArgv(argv: string[], err: (s: string) => void): Logger {
  const value = (name: string) => {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    return i < 0 ? undefined : argv[i]!.includes('=') ? argv[i]!.slice(name.length + 3) : argv[i + 1];
  };
  return new Logger(value('log'), value('log-format') === 'json' ? 'json' : 'text', false, err);
}

/** Parses argv, runs one command, and returns the exit code. Every error is one line. */
export async function main(
  argv: string[],
  factory: RuntimeFactory,
  io: Io = { out: (s) => writeAll(1, s), err: (s) => writeAll(2, s) },
  commit = 'unknown',
  queries?: (g: GlobalOptions) => Queries,
): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-v') {
    io.out(versionText(commit));
    return 0;
  }
  let log: Logger | undefined;
  try {
    let g: GlobalOptions | undefined;
    let runtime: RuntimeApi | undefined;
    const rt = () => (runtime ??= log!.debugging ? factory(g!, (m) => log!.warn(m), (m) => log!.debug(m)) : factory(g!, (m) => log!.warn(m)));
    const table = commands(rt, io, queries ? () => queries(g!) : rt);
    const p = parse(argv, GLOBAL_FLAGS, table);
    if (p.version) {
      io.out(versionText(commit));
      return 0;
    }
    if (p.help !== undefined) {
      io.out(p.help);
      return 0;
    }
    g = globals(p.global);
    log = new Logger(g.log, g.logFormat, g.debug, io.err);
    if (log.debugging) log.debug(`runts ${argv.join(' ')}`);
    const code = await p.command!.run(p.flags, p.args);
    if (log.debugging) log.debug(`${p.command!.names[0]}: done${typeof code === 'number' ? `, exit status ${code}` : ''}`);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    log ??= logFromArgv(argv, io.err);
    log.error(isRuntsError(e) ? e.message : errorLine(e));
    if (!isRuntsError(e) && e instanceof Error && e.stack) log.debug(e.stack);
    return 1;
  }
}

const versionText = (commit: string) => `${programVersion('runts', commit)}spec: ${SPEC_VERSION}\n`;

/** runts's command line as its man page and completion show it; the commands never run. */
export function program(): Program {
  const never = (): never => {
    throw new Error('documentation only');
  };
  return {
    name: 'runts',
    section: 8,
    summary: 'run containers from OCI bundles, as runc does',
    description: [
      'runts creates and runs containers from OCI bundles according to the OCI runtime specification, with the command line of runc: engines such as containerd, podman and docker drive it as they drive runc.',
      'The state of each container is kept under the directory given by --root.',
    ],
    global: GLOBAL_FLAGS,
    commands: commands(never, { out: never, err: never }, never),
    listIds: 'list -q',
  };
}

/** An unexpected error still gets one line: its message, never its stack. */
function errorLine(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}

/** The entry point of bin/runts; the build passes the git commit it was made from. */
export function cli(commit?: string): void {
  // Loaded when a command first needs it: --version, help and spec never do.
  const factory: RuntimeFactory = (g, warn, debug) => (require('../runtime') as typeof import('../runtime')).createRuntime(g, warn, debug);
  // state and list: engines poll them, and they need only the state dir.
  const queries = (g: GlobalOptions) => {
    const { createQueries } = require('../query') as typeof import('../query');
    const { StateStore } = require('../state') as typeof import('../state');
    return createQueries(new StateStore(g.root));
  };
  // Output is written synchronously, so exiting at once is safe and skips
  // Node's teardown of a naturally ending loop, a cost every command would pay.
  main(process.argv.slice(2), factory, undefined, commit, queries).then((code) => process.exit(code));
}
