import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Argv } from 'yargs';
import { RuntsError, configError } from '@runts/errors';
import type { Process, State } from '@runts/oci';
import type { GlobalOptions, RuntimeApi } from './api';

export interface Io {
  out: (s: string) => void;
}

export type Runner = (fn: (rt: RuntimeApi, g: GlobalOptions) => Promise<number | void> | number | void) => void;

/** `KILL`, `SIGKILL`, `9` → 9. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n > 0 && n < 65) return n;
  } else {
    const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
    const n = (constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new RuntsError('ERR_USAGE', `unknown signal "${s}"`);
}

/** runc's list table: tab-aligned columns, at least 12 wide, 3 spaces of padding. */
export function formatTable(states: State[]): string {
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of states) rows.push([s.id, String(s.pid ?? 0), s.status, s.bundle, s.created ?? '', s.owner ?? '']);
  const widths = rows[0]!.map((_, c) => Math.max(12, ...rows.map((r) => r[c]!.length + 3)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('')).join('\n') + '\n';
}

// Flags that take no value, for finding where options end.
const NO_VALUE = new Set(['-t', '--tty', '-d', '--detach', '--no-new-privs', '--ignore-paused', '--debug', '--systemd-cgroup', '-h', '--help']);

/** Like runc, exec's options end at the container id: `exec ID ls -l` runs `ls -l`.
 * Puts a `--` after the id so the parser leaves the command's own flags alone. */
export function endExecOptions(argv: string[]): string[] {
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv;
    if (a.startsWith('-')) {
      if (!a.includes('=') && !NO_VALUE.has(a)) i++;
      continue;
    }
    if (positional === 0 && a !== 'exec') return argv;
    if (positional++ === 1) return argv[i + 1] === '--' ? argv : [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return argv;
}

const id = (y: Argv) => y.positional('id', { type: 'string', demandOption: true, describe: 'container id' });

const createFlags = (y: Argv) =>
  id(y)
    .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'path to the bundle' })
    .option('pid-file', { type: 'string', describe: 'write the init pid here' })
    .option('console-socket', { type: 'string', describe: 'unix socket that gets the pty master' })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot, not pivot_root' })
    .option('no-new-keyring', { type: 'boolean', default: false, describe: 'keep the caller\'s session keyring' })
    .option('preserve-fds', { type: 'number', default: 0, describe: 'pass this many fds after stdio' });

type CreateArgs = { id: string; bundle: string; pidFile?: string; consoleSocket?: string; noPivot: boolean; noNewKeyring: boolean; preserveFds: number };

function createOpts(a: CreateArgs) {
  return {
    bundle: a.bundle,
    noPivot: a.noPivot,
    noNewKeyring: a.noNewKeyring,
    preserveFds: a.preserveFds,
    ...(a.pidFile ? { pidFile: a.pidFile } : {}),
    ...(a.consoleSocket ? { consoleSocket: a.consoleSocket } : {}),
  };
}

function parseUser(spec: string, path: string): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw configError(path, `"${spec}" is not uid[:gid]`);
  return m[2] !== undefined ? { uid: Number(m[1]), gid: Number(m[2]) } : { uid: Number(m[1]) };
}

export function registerCommands(y: Argv, run: Runner, io: Io): Argv {
  return y
    .command('create <id>', 'create a container', createFlags, (a) =>
      run((rt) => rt.create(a.id, createOpts(a as unknown as CreateArgs))),
    )
    .command('start <id>', 'start a created container', id, (a) => run((rt) => rt.start(a.id)))
    .command(
      'run <id>',
      'create and start a container',
      (y) => createFlags(y).option('detach', { alias: 'd', type: 'boolean', default: false }).option('keep', { type: 'boolean', default: false }),
      (a) => run((rt) => rt.run(a.id, { ...createOpts(a as unknown as CreateArgs), detach: a.detach, keep: a.keep })),
    )
    .command(
      'exec <id> [command..]',
      'run a process in a running container',
      (y) =>
        id(y)
          .positional('command', { type: 'string', array: true })
          .option('process', { alias: 'p', type: 'string', describe: 'process.json to run' })
          .option('tty', { alias: 't', type: 'boolean', default: false })
          .option('console-socket', { type: 'string' })
          .option('detach', { alias: 'd', type: 'boolean', default: false })
          .option('pid-file', { type: 'string' })
          .option('cwd', { type: 'string' })
          .option('env', { alias: 'e', type: 'string', array: true })
          .option('user', { alias: 'u', type: 'string' })
          .option('additional-gids', { alias: 'g', type: 'number', array: true })
          .option('cap', { alias: 'c', type: 'string', array: true })
          .option('no-new-privs', { type: 'boolean' })
          .option('process-label', { type: 'string' })
          .option('apparmor', { type: 'string' })
          .option('preserve-fds', { type: 'number', default: 0 })
          .option('ignore-paused', { type: 'boolean', default: false }),
      (a) =>
        run((rt) => {
          let proc: Process;
          if (a.process) {
            const { validateProcess } = require('@runts/oci') as typeof import('@runts/oci');
            let text: string;
            try {
              text = readFileSync(a.process, 'utf8');
            } catch (e) {
              throw new RuntsError('ERR_NOT_FOUND', `--process: cannot read ${a.process}: ${(e as NodeJS.ErrnoException).code}`, { file: a.process });
            }
            let value: unknown;
            try {
              value = JSON.parse(text);
            } catch (e) {
              throw new RuntsError('ERR_CONFIG_INVALID', `--process: ${a.process}: invalid JSON: ${(e as Error).message}`, { file: a.process });
            }
            proc = validateProcess(value);
          } else {
            const command = [...(a.command ?? []), ...((a['--'] as string[] | undefined) ?? [])];
            if (command.length === 0) throw new RuntsError('ERR_USAGE', 'exec: no command given (args or --process)');
            proc = { ...rt.baseProcess(a.id), args: command.map(String), terminal: a.tty };
            if (a.cwd) proc.cwd = a.cwd;
            if (a.env) proc.env = [...(proc.env ?? []), ...a.env];
            if (a.user) proc.user = { ...proc.user, ...parseUser(a.user, '--user'), additionalGids: [] };
            if (a.additionalGids) proc.user = { ...proc.user, additionalGids: a.additionalGids };
            if (a.noNewPrivs) proc.noNewPrivileges = true;
            if (a.processLabel) proc.selinuxLabel = a.processLabel;
            if (a.apparmor) proc.apparmorProfile = a.apparmor;
            if (a.cap) {
              const c = proc.capabilities ?? {};
              const add = (l: string[] | undefined) => [...new Set([...(l ?? []), ...a.cap!])];
              proc.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted) };
            }
          }
          return rt.exec(a.id, {
            process: proc,
            detach: a.detach,
            preserveFds: a.preserveFds,
            ignorePaused: a.ignorePaused,
            ...(a.pidFile ? { pidFile: a.pidFile } : {}),
            ...(a.consoleSocket ? { consoleSocket: a.consoleSocket } : {}),
          });
        }),
    )
    .command('state <id>', 'print the state of a container', id, (a) =>
      run((rt) => io.out(JSON.stringify(rt.state(a.id), null, '  ') + '\n')),
    )
    .command(
      ['list', 'ls'],
      'list containers',
      (y) => y.option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const }).option('quiet', { alias: 'q', type: 'boolean', default: false }),
      (a) =>
        run((rt) => {
          const all = rt.list();
          if (a.quiet) io.out(all.map((s) => `${s.id}\n`).join(''));
          else if (a.format === 'json') io.out(JSON.stringify(all) + '\n');
          else io.out(formatTable(all));
        }),
    )
    .command(
      'kill <id> [signal]',
      'send a signal to the container init (default SIGTERM)',
      (y) => id(y).positional('signal', { type: 'string', default: 'SIGTERM' }).option('all', { alias: 'a', type: 'boolean', default: false }),
      (a) => run((rt) => rt.kill(a.id, parseSignal(a.signal), { all: a.all })),
    )
    .command(
      ['delete <id>', 'rm <id>'],
      'delete a container',
      (y) => id(y).option('force', { alias: 'f', type: 'boolean', default: false }),
      (a) => run((rt) => rt.delete(a.id, { force: a.force })),
    )
    .command(
      'spec',
      'write a default config.json',
      (y) => y.option('bundle', { alias: 'b', type: 'string', default: '.' }).option('rootless', { type: 'boolean', default: false }),
      (a) => run((rt) => rt.spec({ bundle: a.bundle, rootless: a.rootless })),
    )
    .command('features', 'print what this runtime supports (JSON)', (y) => y, () =>
      run((rt) => io.out(JSON.stringify(rt.features(), null, '    ') + '\n')),
    );
}
