import { RuntsError, isRuntsError } from '@runts/errors';
import type { GlobalOptions, RuntimeFactory } from './api';
import { endExecOptions, registerCommands, type Io } from './commands';
import { Logger } from './log';

export const VERSION = '0.1.0';
export const SPEC_VERSION = '1.2.1';

function defaultRoot(): string {
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return process.geteuid?.() !== 0 && xdg ? `${xdg}/runts` : '/run/runts';
}

/** Parses argv, runs one command, and returns the exit code. Every error is one line. */
export async function main(argv: string[], factory: RuntimeFactory, io: Io = { out: (s) => process.stdout.write(s) }, commit = 'unknown'): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-v') {
    io.out(`runts version ${VERSION}\ncommit: ${commit}\nspec: ${SPEC_VERSION}\n`);
    return 0;
  }
  const yargs = require('yargs/yargs') as typeof import('yargs/yargs');
  let log = new Logger(undefined, 'text', false);
  let task: Promise<number> | undefined;
  const parser = yargs(endExecOptions(argv))
    .scriptName('runts')
    .usage('runts [global options] <command> [options]')
    .option('root', { type: 'string', default: defaultRoot(), describe: 'state directory', global: true })
    .option('log', { type: 'string', describe: 'log file for errors', global: true })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, global: true })
    .option('debug', { type: 'boolean', default: false, global: true })
    .option('systemd-cgroup', { type: 'boolean', default: false, global: true })
    .option('rootless', { type: 'string', describe: 'accepted for runc compatibility', global: true })
    .option('criu', { type: 'string', describe: 'accepted for runc compatibility', global: true, hidden: true })
    .middleware((a) => {
      log = new Logger(a.log, a.logFormat, a.debug);
    })
    // `--no-pivot` and `--no-new-keyring` are flags of their own, not negations.
    .parserConfiguration({ 'boolean-negation': false, 'populate--': true })
    .strict()
    .demandCommand(1, 'a command is required')
    .version(false)
    .help()
    .wrap(null)
    // Throwing stops yargs before it runs the command's handler.
    .fail((msg, err) => {
      throw err ?? new RuntsError('ERR_USAGE', msg.trim().replace(/\s*\n\s*/g, '; '));
    });
  registerCommands(
    parser,
    (fn) => {
      task = (async () => {
        const a = parser.parsed ? (parser.parsed.argv as Record<string, unknown>) : {};
        const g: GlobalOptions = {
          root: String(a['root'] ?? defaultRoot()),
          logFormat: a['logFormat'] === 'json' ? 'json' : 'text',
          systemdCgroup: a['systemdCgroup'] === true,
          debug: a['debug'] === true,
          ...(typeof a['log'] === 'string' ? { log: a['log'] } : {}),
        };
        const code = await fn(factory(g, (m) => log.warn(m)), g);
        return typeof code === 'number' ? code : 0;
      })();
    },
    io,
  );
  try {
    await parser.parseAsync();
    return task ? await task : 0;
  } catch (e) {
    log.error(isRuntsError(e) ? e.message : errorLine(e));
    if (!isRuntsError(e) && e instanceof Error && e.stack) log.debug(e.stack);
    return 1;
  }
}

/** An unexpected error still gets one line: its message, never its stack. */
function errorLine(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}

/** The entry point of bin/runts; the build passes the git commit it was made from. */
export function cli(commit?: string): void {
  const { createRuntime } = require('../runtime') as typeof import('../runtime');
  main(process.argv.slice(2), createRuntime, undefined, commit).then((code) => {
    process.exitCode = code;
  });
}
