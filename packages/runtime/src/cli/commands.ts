import { readFileSync } from 'node:fs';
import { RuntsError, configError } from '@runts/errors';
import type { Process, State } from '@runts/oci';
import type { UpdateFlags } from '@runts/cgroups';
import type { Queries, RuntimeApi } from './api';
import { command, parseSignal, toJson, type Command, type Flags } from '@runts/cli';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** runc's list table: tab-aligned columns, at least 12 wide, 3 spaces of padding. */
export function formatTable(states: State[]): string {
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of states) rows.push([s.id, String(s.pid ?? 0), s.status, s.bundle, s.created ?? '', s.owner ?? '']);
  const widths = rows[0]!.map((_, c) => Math.max(12, ...rows.map((r) => r[c]!.length + 3)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('')).join('\n') + '\n';
}

function parseUser(spec: string, path: string): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw configError(path, `"${spec}" is not uid[:gid]`);
  return m[2] !== undefined ? { uid: Number(m[1]), gid: Number(m[2]) } : { uid: Number(m[1]) };
}

/** Go's duration syntax, as runc's --interval takes it: `5s`, `100ms`, `1m30s`. */
export function parseDuration(s: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  // µ escaped: one non-ASCII character makes V8 hold the whole bundle as a two-byte string.
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
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

/** The update flags given on the command line. */
export function updateFlags(a: Record<string, unknown>): UpdateFlags {
  const f: UpdateFlags = {};
  for (const [name, key] of UPDATE_FLAGS) {
    const v = a[name] ?? (name === 'cpu-share' ? a['cpu-shares'] : undefined);
    if (v !== undefined) f[key] = String(v);
  }
  return f;
}


/** Reads a JSON file named by a flag (`-` is stdin); errors name the flag and the file. */
function readJson(flag: string, file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new RuntsError('ERR_NOT_FOUND', `--${flag}: cannot read ${file === '-' ? 'stdin' : file}: ${(e as NodeJS.ErrnoException).code}`, { file });
  }
}

export const GLOBAL_FLAGS: Flags = {
  root: { type: 'string', describe: 'state directory (default /run/runts; rootless $XDG_RUNTIME_DIR/runts)' },
  log: { type: 'string', describe: 'also write errors to this file' },
  'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'log file format' },
  debug: { type: 'boolean', default: false, describe: 'log debug output' },
  'systemd-cgroup': { type: 'boolean', default: false, describe: 'cgroupsPath is slice:prefix:name (needs systemd)' },
  rootless: { type: 'string', describe: 'accepted for runc compatibility', hidden: true },
  criu: { type: 'string', describe: 'accepted for runc compatibility', hidden: true },
};

const CREATE_FLAGS = {
  bundle: { type: 'string', short: 'b', default: '.', describe: 'path to the bundle' },
  'pid-file': { type: 'string', describe: 'write the init pid here' },
  'console-socket': { type: 'string', describe: 'unix socket that gets the pty master' },
  'no-pivot': { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot, not pivot_root' },
  'no-new-keyring': { type: 'boolean', default: false, describe: "keep the caller's session keyring" },
  'preserve-fds': { type: 'number', default: 0, describe: 'pass this many fds after stdio' },
} as const satisfies Flags;

type CreateFlags = { bundle: string; 'pid-file'?: string | undefined; 'console-socket'?: string | undefined; 'no-pivot': boolean; 'no-new-keyring': boolean; 'preserve-fds': number };

function createOpts(f: CreateFlags) {
  return {
    bundle: f.bundle,
    noPivot: f['no-pivot'],
    noNewKeyring: f['no-new-keyring'],
    preserveFds: f['preserve-fds'],
    ...(f['pid-file'] ? { pidFile: f['pid-file'] } : {}),
    ...(f['console-socket'] ? { consoleSocket: f['console-socket'] } : {}),
  };
}

const str = (v: string | string[] | undefined) => v as string;

/** runc's commands; `rt` creates the runtime on first use, after the global options are known,
 * and `q` what state and list need (by default the runtime). */
export function commands(rt: () => RuntimeApi, io: Io, q: () => Queries = rt): Command[] {
  return [
    command({ names: ['create'], args: '<id>', summary: 'create a container', flags: CREATE_FLAGS, run: (f, a) => rt().create(str(a['id']), createOpts(f)) }),
    command({ names: ['start'], args: '<id>', summary: 'start a created container', flags: {}, run: (_, a) => rt().start(str(a['id'])) }),
    command({
      names: ['run'],
      args: '<id>',
      summary: 'create and start a container',
      flags: {
        ...CREATE_FLAGS,
        detach: { type: 'boolean', short: 'd', default: false, describe: 'do not wait for the container' },
        keep: { type: 'boolean', default: false, describe: 'keep the container after it exits' },
        // runc reaps orphans of a container without a pid namespace; runts' foreground
        // run only waits for its init, so there is nothing to turn off.
        'no-subreaper': { type: 'boolean', default: false, describe: 'accepted for runc compatibility (runts is never a subreaper)' },
      },
      run: (f, a) => rt().run(str(a['id']), { ...createOpts(f), detach: f.detach, keep: f.keep }),
    }),
    command({
      names: ['exec'],
      args: '<id> [command...]',
      summary: 'run a process in a running container',
      optionsEndAtArgs: true,
      flags: {
        process: { type: 'string', short: 'p', describe: 'process.json to run' },
        tty: { type: 'boolean', short: 't', default: false, describe: 'allocate a pty' },
        'console-socket': { type: 'string', describe: 'unix socket that gets the pty master' },
        detach: { type: 'boolean', short: 'd', default: false, describe: 'do not wait for the process' },
        'pid-file': { type: 'string', describe: 'write the pid here' },
        cwd: { type: 'string', describe: 'working directory' },
        env: { type: 'string', short: 'e', multiple: true, describe: 'add an environment variable (repeatable)' },
        user: { type: 'string', short: 'u', describe: 'uid[:gid]' },
        'additional-gids': { type: 'number', short: 'g', multiple: true, describe: 'add a group (repeatable)' },
        cap: { type: 'string', short: 'c', multiple: true, describe: 'add a capability (repeatable)' },
        'no-new-privs': { type: 'boolean', default: false, describe: 'set no_new_privs' },
        'process-label': { type: 'string', describe: 'SELinux label' },
        apparmor: { type: 'string', describe: 'AppArmor profile' },
        'preserve-fds': { type: 'number', default: 0, describe: 'pass this many fds after stdio' },
        'ignore-paused': { type: 'boolean', default: false, describe: 'exec even if the container is paused' },
      },
      run: (f, a) => {
        const id = str(a['id']);
        let proc: Process;
        if (f.process) {
          const { validateProcess } = require('@runts/oci') as typeof import('@runts/oci');
          let value: unknown;
          try {
            value = JSON.parse(readJson('process', f.process));
          } catch (e) {
            if (e instanceof RuntsError) throw e;
            throw new RuntsError('ERR_CONFIG_INVALID', `--process: ${f.process}: invalid JSON: ${(e as Error).message}`, { file: f.process });
          }
          proc = validateProcess(value);
        } else {
          const args = (a['command'] as string[] | undefined) ?? [];
          if (args.length === 0) throw new RuntsError('ERR_USAGE', 'exec: no command given (args or --process)');
          proc = { ...rt().baseProcess(id), args, terminal: f.tty };
          if (f.cwd) proc.cwd = f.cwd;
          if (f.env) proc.env = [...(proc.env ?? []), ...f.env];
          if (f.user) proc.user = { ...proc.user, ...parseUser(f.user, '--user'), additionalGids: [] };
          if (f['additional-gids']) proc.user = { ...proc.user, additionalGids: f['additional-gids'] };
          if (f['no-new-privs']) proc.noNewPrivileges = true;
          if (f['process-label']) proc.selinuxLabel = f['process-label'];
          if (f.apparmor) proc.apparmorProfile = f.apparmor;
          if (f.cap) {
            const c = proc.capabilities ?? {};
            const add = (l: string[] | undefined) => [...new Set([...(l ?? []), ...f.cap!])];
            proc.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted) };
          }
        }
        return rt().exec(id, {
          process: proc,
          detach: f.detach,
          preserveFds: f['preserve-fds'],
          ignorePaused: f['ignore-paused'],
          ...(f['pid-file'] ? { pidFile: f['pid-file'] } : {}),
          ...(f['console-socket'] ? { consoleSocket: f['console-socket'] } : {}),
        });
      },
    }),
    command({ names: ['state'], args: '<id>', summary: 'print the state of a container', flags: {}, run: (_, a) => io.out(JSON.stringify(q().state(str(a['id'])), null, '  ') + '\n') }),
    command({
      names: ['list', 'ls'],
      args: '',
      summary: 'list containers',
      flags: {
        format: { type: 'string', short: 'f', choices: ['table', 'json'], default: 'table', describe: 'table or json' },
        quiet: { type: 'boolean', short: 'q', default: false, describe: 'ids only' },
      },
      run: (f) => {
        const all = q().list();
        if (f.quiet) io.out(all.map((s) => `${s.id}\n`).join(''));
        else if (f.format === 'json') io.out(JSON.stringify(all) + '\n');
        else io.out(formatTable(all));
      },
    }),
    command({
      names: ['kill'],
      args: '<id> [signal]',
      summary: 'send a signal to the container init (default SIGTERM)',
      flags: { all: { type: 'boolean', short: 'a', default: false, describe: 'signal every process of the container' } },
      run: (f, a) => rt().kill(str(a['id']), parseSignal(str(a['signal']) ?? 'SIGTERM'), { all: f.all }),
    }),
    command({
      names: ['delete', 'rm'],
      args: '<id>',
      summary: 'delete a container',
      flags: { force: { type: 'boolean', short: 'f', default: false, describe: 'kill it first if it runs' } },
      run: (f, a) => rt().delete(str(a['id']), { force: f.force }),
    }),
    command({
      names: ['spec'],
      args: '',
      summary: 'write a default config.json',
      flags: {
        bundle: { type: 'string', short: 'b', default: '.', describe: 'path to the bundle' },
        rootless: { type: 'boolean', default: false, describe: 'for a container run by an unprivileged user' },
      },
      run: (f) => rt().spec({ bundle: f.bundle, rootless: f.rootless }),
    }),
    command({ names: ['features'], args: '', summary: 'print what this runtime supports (JSON)', flags: {}, run: () => io.out(JSON.stringify(rt().features(), null, '    ') + '\n') }),
    command({
      names: ['update'],
      args: '<id>',
      summary: 'change the cgroup limits of a running container',
      flags: {
        resources: { type: 'string', short: 'r', describe: 'LinuxResources JSON file, or - for stdin; other flags are then ignored' },
        ...Object.fromEntries(UPDATE_FLAGS.map(([name, , describe]) => [name, { type: 'string', describe }])),
        'cpu-shares': { type: 'string', describe: 'same as --cpu-share', hidden: true },
        'l3-cache-schema': { type: 'string', describe: 'Intel RDT/CAT L3 cache schema' },
        'mem-bw-schema': { type: 'string', describe: 'Intel RDT/MBA memory bandwidth schema' },
      } as Flags,
      run: (f, a) => {
        const { parseResourcesJson, resourcesFromFlags } = require('@runts/cgroups') as typeof import('@runts/cgroups');
        const file = f['resources'] as string | undefined;
        const patch = file !== undefined ? parseResourcesJson(readJson('resources', file), file === '-' ? 'stdin' : file) : resourcesFromFlags(updateFlags(f));
        const l3 = f['l3-cache-schema'] as string | undefined;
        const mb = f['mem-bw-schema'] as string | undefined;
        rt().update(str(a['id']), { resources: patch.resources, warnings: patch.warnings, ...(l3 ? { l3CacheSchema: l3 } : {}), ...(mb ? { memBwSchema: mb } : {}) });
      },
    }),
    command({ names: ['pause'], args: '<id>', summary: 'freeze every process of a container', flags: {}, run: (_, a) => rt().pause(str(a['id'])) }),
    command({ names: ['resume'], args: '<id>', summary: 'thaw a paused container', flags: {}, run: (_, a) => rt().resume(str(a['id'])) }),
    command({
      names: ['ps'],
      args: '<id> [ps-args...]',
      summary: 'list the processes of a container (host ps, filtered)',
      optionsEndAtArgs: true,
      flags: { format: { type: 'string', short: 'f', choices: ['table', 'json'], default: 'table', describe: 'table or json' } },
      run: (f, a) => {
        const pids = rt().processes(str(a['id']));
        if (f.format === 'json') return io.out(JSON.stringify(pids) + '\n');
        const args = (a['ps-args'] as string[] | undefined) ?? [];
        const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
        const r = spawnSync('ps', args.length ? args : ['-ef'], { encoding: 'utf8' });
        if (r.error) throw new RuntsError('ERR_SYSCALL', `ps: cannot run ps: ${(r.error as NodeJS.ErrnoException).code}`);
        if (r.status !== 0) throw new RuntsError('ERR_USAGE', `ps ${args.join(' ')}: exit status ${r.status}: ${(r.stderr + r.stdout).trim().split('\n')[0]}`);
        io.out(filterPs(r.stdout, pids));
      },
    }),
    command({
      names: ['events'],
      args: '<id>',
      summary: 'print stats and OOM events of a container as JSON lines',
      flags: {
        stats: { type: 'boolean', default: false, describe: 'print the stats once and exit' },
        interval: { type: 'string', default: '5s', describe: 'how often to print stats' },
      },
      run: (f, a) => rt().events(str(a['id']), { stats: f.stats, intervalMs: parseDuration(f.interval) }, (e) => io.out(toJson(e) + '\n')),
    }),
  ];
}
