import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Argv } from 'yargs';
import { RuntsError, configError } from '@runts/errors';
import type { Process, State } from '@runts/oci';
import type { UpdateFlags } from '@runts/cgroups';
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

// Commands whose own options end at the container id: what follows belongs to the command they run.
const ENDS_AT_ID = new Set(['exec', 'ps']);

/** Like runc, exec's options end at the container id: `exec ID ls -l` runs `ls -l`
 * (and `ps ID -o pid,comm` passes `-o pid,comm` to ps).
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
    if (positional === 0 && !ENDS_AT_ID.has(a)) return argv;
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

/** Go's duration syntax, as runc's --interval takes it: `5s`, `100ms`, `1m30s`. */
export function parseDuration(s: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  if (s === '' || end !== s.length) throw new RuntsError('ERR_USAGE', `invalid duration "${s}" (e.g. 5s, 500ms, 1m)`);
  return ms;
}

/** runc's ps table: the header, then the rows whose PID column is one of pids. */
export function filterPs(output: string, pids: number[]): string {
  const lines = output.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new RuntsError('ERR_USAGE', 'ps: no PID column in the output of ps (add -o pid or use -ef)');
  const want = new Set(pids);
  const rows = lines.slice(1).filter((l) => {
    if (!l.trim()) return false;
    return want.has(Number(l.trim().split(/\s+/)[col]));
  });
  return [header, ...rows].map((l) => `${l}\n`).join('');
}

// `update` flags that take a value, as runc names them (--cpu-share; --cpu-shares is accepted too).
const UPDATE_FLAGS: [string, keyof UpdateFlags, string][] = [
  ['memory', 'memory', 'memory limit in bytes (32m, 1g; -1 unlimited)'],
  ['memory-reservation', 'memoryReservation', 'memory soft limit in bytes'],
  ['memory-swap', 'memorySwap', 'memory + swap limit in bytes (-1 unlimited)'],
  ['kernel-memory', 'kernelMemory', 'ignored (obsolete), as in runc'],
  ['kernel-memory-tcp', 'kernelMemoryTcp', 'ignored (obsolete), as in runc'],
  ['cpu-share', 'cpuShares', 'CPU shares (relative weight)'],
  ['cpu-quota', 'cpuQuota', 'CFS quota in µs per period (-1 no limit)'],
  ['cpu-period', 'cpuPeriod', 'CFS period in µs'],
  ['cpu-burst', 'cpuBurst', 'CFS burst in µs'],
  ['cpu-rt-period', 'cpuRtPeriod', 'realtime period in µs'],
  ['cpu-rt-runtime', 'cpuRtRuntime', 'realtime runtime in µs'],
  ['cpu-idle', 'cpuIdle', '1: SCHED_IDLE for the cgroup'],
  ['cpuset-cpus', 'cpusetCpus', 'CPUs to use (0-1)'],
  ['cpuset-mems', 'cpusetMems', 'memory nodes to use'],
  ['blkio-weight', 'blkioWeight', 'block I/O weight, 10 to 1000'],
  ['pids-limit', 'pidsLimit', 'maximum number of pids'],
];

/** The update flags given on the command line (yargs camel-cases them). */
export function updateFlags(a: Record<string, unknown>): UpdateFlags {
  const f: UpdateFlags = {};
  for (const [name, key] of UPDATE_FLAGS) {
    const v = a[name] ?? (name === 'cpu-share' ? a['cpu-shares'] : undefined);
    if (v !== undefined) f[key] = String(v);
  }
  return f;
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
    )
    .command(
      'update <id>',
      'change the cgroup limits of a running container',
      (y) => {
        let c = id(y)
          .option('resources', { alias: 'r', type: 'string', describe: 'LinuxResources JSON file, or - for stdin; other flags are then ignored' })
          .option('cpu-shares', { type: 'string', hidden: true })
          .option('l3-cache-schema', { type: 'string', describe: 'Intel RDT/CAT L3 cache schema' })
          .option('mem-bw-schema', { type: 'string', describe: 'Intel RDT/MBA memory bandwidth schema' });
        for (const [name, , describe] of UPDATE_FLAGS) c = c.option(name, { type: 'string', describe });
        return c;
      },
      (a) =>
        run((rt) => {
          const { parseResourcesJson, resourcesFromFlags } = require('@runts/cgroups') as typeof import('@runts/cgroups');
          let patch;
          if (a.resources !== undefined) {
            const source = a.resources === '-' ? 'stdin' : a.resources;
            let text: string;
            try {
              text = readFileSync(a.resources === '-' ? 0 : a.resources, 'utf8');
            } catch (e) {
              throw new RuntsError('ERR_NOT_FOUND', `--resources: cannot read ${source}: ${(e as NodeJS.ErrnoException).code}`, { file: source });
            }
            patch = parseResourcesJson(text, source);
          } else {
            patch = resourcesFromFlags(updateFlags(a as Record<string, unknown>));
          }
          rt.update(a.id, {
            resources: patch.resources,
            warnings: patch.warnings,
            ...(a.l3CacheSchema ? { l3CacheSchema: a.l3CacheSchema } : {}),
            ...(a.memBwSchema ? { memBwSchema: a.memBwSchema } : {}),
          });
        }),
    )
    .command('pause <id>', 'freeze every process of a container', id, (a) => run((rt) => rt.pause(a.id)))
    .command('resume <id>', 'thaw a paused container', id, (a) => run((rt) => rt.resume(a.id)))
    .command(
      'ps <id> [ps-args..]',
      'list the processes of a container (host ps, filtered)',
      (y) => id(y).positional('ps-args', { type: 'string', array: true }).option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const }),
      (a) =>
        run((rt) => {
          const pids = rt.processes(a.id);
          if (a.format === 'json') return io.out(JSON.stringify(pids) + '\n');
          const args = [...(a.psArgs ?? []), ...((a['--'] as string[] | undefined) ?? [])].map(String);
          const r = spawnSync('ps', args.length ? args : ['-ef'], { encoding: 'utf8' });
          if (r.error) throw new RuntsError('ERR_SYSCALL', `ps: cannot run ps: ${(r.error as NodeJS.ErrnoException).code}`);
          if (r.status !== 0) throw new RuntsError('ERR_USAGE', `ps ${args.join(' ')}: exit status ${r.status}: ${(r.stderr + r.stdout).trim().split('\n')[0]}`);
          io.out(filterPs(r.stdout, pids));
        }),
    )
    .command(
      'events <id>',
      'print stats and OOM events of a container as JSON lines',
      (y) =>
        id(y)
          .option('stats', { type: 'boolean', default: false, describe: 'print the stats once and exit' })
          .option('interval', { type: 'string', default: '5s', describe: 'how often to print stats' }),
      (a) => run((rt) => rt.events(a.id, { stats: a.stats, intervalMs: parseDuration(a.interval) }, (e) => io.out(JSON.stringify(e) + '\n'))),
    );
}
