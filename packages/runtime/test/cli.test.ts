import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntsError } from '@runts/errors';
import type { State } from '@runts/oci';
import type { GlobalOptions, RuntimeApi } from '../src/cli/api';
import { main } from '../src/cli/main';
import { writeAll } from '@runts/cli';
import { filterPs, formatTable, parseDuration } from '../src/cli/commands';

type Call = [string, ...unknown[]];

/** A runtime that records what the CLI asked of it. */
function fake(overrides: Partial<RuntimeApi> = {}) {
  const calls: Call[] = [];
  const globals: GlobalOptions[] = [];
  const state: State = { ociVersion: '1.2.1', id: 'c1', status: 'running', pid: 42, bundle: '/b' };
  const rt: RuntimeApi = {
    create: async (id, o) => void calls.push(['create', id, o]),
    start: async (id) => void calls.push(['start', id]),
    run: async (id, o) => (calls.push(['run', id, o]), 7),
    exec: async (id, o) => (calls.push(['exec', id, o]), 3),
    baseProcess: () => ({ args: ['sh'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }),
    state: (id) => (calls.push(['state', id]), state),
    list: () => [state],
    kill: (id, sig, o) => void calls.push(['kill', id, sig, o]),
    delete: async (id, o) => void calls.push(['delete', id, o]),
    spec: async (o) => void calls.push(['spec', o]),
    features: () => ({ ociVersionMin: '1.0.0' }),
    update: (id, o) => (calls.push(['update', id, o]), o.resources),
    pause: (id) => void calls.push(['pause', id]),
    resume: (id) => void calls.push(['resume', id]),
    processes: (id) => (calls.push(['processes', id]), [42, 43]),
    events: async (id, o, out) => {
      calls.push(['events', id, o]);
      out({ type: 'stats', id, data: {} });
    },
    ...overrides,
  };
  return { calls, globals, factory: (g: GlobalOptions) => (globals.push(g), rt) };
}

/** Runs the CLI and captures stdout and stderr. */
async function cli(argv: string[], f = fake()) {
  let out = '';
  let err = '';
  const code = await main(argv, f.factory, { out: (s) => (out += s), err: (s) => (err += s) }, 'abc123');
  return { code, out, err, ...f };
}

t.test('--version: a version line and a commit line (docker parses both)', async (t) => {
  const r = await cli(['--version']);
  t.equal(r.code, 0);
  t.match(r.out, /^runts version \S+\ncommit: abc123\nspec: 1\.\d+\.\d+\n$/);
});

t.test('create passes runc flags through', async (t) => {
  const r = await cli(['--root', '/tmp/r', 'create', '--bundle', '/b', '--pid-file', '/p', '--console-socket', '/s', '--no-pivot', '--preserve-fds', '2', 'c1']);
  t.equal(r.code, 0);
  t.same(r.calls, [['create', 'c1', { bundle: '/b', pidFile: '/p', consoleSocket: '/s', noPivot: true, noNewKeyring: false, preserveFds: 2 }]]);
  t.equal(r.globals[0]!.root, '/tmp/r');
});

t.test('global flags after the command, and -b short form', async (t) => {
  const r = await cli(['create', '-b', '/b', 'c1', '--root', '/x', '--log', '/l', '--log-format', 'json', '--systemd-cgroup']);
  t.equal(r.code, 0);
  t.match(r.globals[0], { root: '/x', log: '/l', logFormat: 'json', systemdCgroup: true });
});

t.test('run returns the container exit code', async (t) => {
  const r = await cli(['run', '-d', '--bundle', '/b', 'c1']);
  t.equal(r.code, 7);
  t.match(r.calls[0], ['run', 'c1', { bundle: '/b', detach: true, keep: false }]);
});

t.test('kill: default SIGTERM, names and numbers, --all', async (t) => {
  t.match((await cli(['kill', 'c1'])).calls[0], ['kill', 'c1', 15, { all: false }]);
  t.match((await cli(['kill', 'c1', 'KILL'])).calls[0], ['kill', 'c1', 9]);
  t.match((await cli(['kill', '--all', 'c1', 'SIGUSR1'])).calls[0], ['kill', 'c1', 10, { all: true }]);
  t.match((await cli(['kill', 'c1', '2'])).calls[0], ['kill', 'c1', 2]);
  const bad = await cli(['kill', 'c1', 'SIGNOPE']);
  t.equal(bad.code, 1);
  t.equal(bad.err, 'runts: unknown signal "SIGNOPE"\n');
});

t.test('delete --force and rm alias', async (t) => {
  t.same((await cli(['delete', '--force', 'c1'])).calls, [['delete', 'c1', { force: true }]]);
  t.same((await cli(['rm', 'c1'])).calls, [['delete', 'c1', { force: false }]]);
});

t.test('state prints JSON; list table, json and quiet', async (t) => {
  const s = await cli(['state', 'c1']);
  t.match(JSON.parse(s.out), { id: 'c1', status: 'running', pid: 42 });
  const table = (await cli(['list'])).out.split('\n');
  t.match(table[0], /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
  t.match(table[1], /^c1\s+42\s+running\s+\/b/);
  t.same(JSON.parse((await cli(['list', '--format', 'json'])).out)[0].id, 'c1');
  t.equal((await cli(['list', '-q'])).out, 'c1\n');
});

t.test('formatTable pads columns to at least 12', async (t) => {
  const line = formatTable([]).split('\n')[0]!;
  t.equal(line.indexOf('PID'), 12);
});

t.test('exec with args builds the process from the container', async (t) => {
  const r = await cli(['exec', '-e', 'A=1', '--cwd', '/tmp', '-u', '1:2', '--cap', 'CAP_NET_ADMIN', '-t', 'c1', 'ls', '-l']);
  t.equal(r.code, 3);
  const opts = r.calls[0]![2] as { process: Record<string, unknown> };
  t.match(opts.process, { args: ['ls', '-l'], cwd: '/tmp', env: ['PATH=/bin', 'A=1'], terminal: true, user: { uid: 1, gid: 2 } });
  t.match(opts.process['capabilities'], { effective: ['CAP_NET_ADMIN'], bounding: ['CAP_NET_ADMIN'] });
});

t.test('exec --process reads and validates the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.json');
  require('node:fs').writeFileSync(file, JSON.stringify({ args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } }));
  const ok = await cli(['exec', '--process', file, '-d', 'c1']);
  t.equal(ok.code, 3);
  t.match(ok.calls[0], ['exec', 'c1', { process: { args: ['true'] }, detach: true }]);
  require('node:fs').writeFileSync(file, JSON.stringify({ args: [], cwd: 'rel', user: { uid: 0, gid: 0 } }));
  const bad = await cli(['exec', '--process', file, 'c1']);
  t.equal(bad.code, 1);
  t.match(bad.err, /^runts: .*(args|cwd).*\n$/);
  const missing = await cli(['exec', '--process', join(dir, 'nope'), 'c1']);
  t.match(missing.err, /cannot read .*nope: ENOENT/);
  const noCmd = await cli(['exec', 'c1']);
  t.equal(noCmd.err, 'runts: exec: no command given (args or --process)\n');
});

t.test('usage errors are one line, exit 1, no runtime call', async (t) => {
  for (const argv of [[], ['nope'], ['create'], ['start', 'a', 'b'], ['list', '--format', 'yaml'], ['create', '--bogus', 'c1']]) {
    const r = await cli(argv);
    t.equal(r.code, 1, argv.join(' '));
    t.equal(r.calls.length, 0);
    t.match(r.err, /^runts: [^\n]+\n$/, `${argv.join(' ')}: one line`);
  }
});

t.test('run takes --no-subreaper, as runc does, and says so in its help', async (t) => {
  t.equal((await cli(['run', '--no-subreaper', '-d', 'c1'])).code, 7);
  t.match((await cli(['help', 'run'])).out, /--no-subreaper\s+accepted for runc compatibility/);
});

t.test("an unknown flag: runc's shape, with the help to read", async (t) => {
  const r = await cli(['run', '--bogus', 'c1']);
  t.same([r.code, r.err], [1, 'runts: unknown flag --bogus (see runts run --help)\n']);
});

t.test('runtime errors: one line on stderr, one JSON line in --log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'log.json');
  const f = fake({
    start: async () => {
      throw new RuntsError('ERR_NOT_FOUND', 'container "c1" does not exist');
    },
  });
  const r = await cli(['--log', log, '--log-format', 'json', 'start', 'c1'], f);
  t.equal(r.code, 1);
  t.equal(r.err, 'runts: container "c1" does not exist\n');
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]!), { level: 'error', msg: 'container "c1" does not exist', time: /^\d{4}-\d\d-\d\dT/ });
});

t.test('--debug: steps with ms since start, to --log only (JSON lines), else to stderr; nothing without it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let debug: ((m: string) => void) | undefined;
  const f = fake({ start: async () => debug?.('start c1: a step') });
  const factory = f.factory;
  f.factory = (g: GlobalOptions, _warn?: (m: string) => void, d?: (m: string) => void) => ((debug = d), factory(g));

  const log = join(dir, 'log.json');
  const r = await cli(['--log', log, '--log-format', 'json', '--debug', 'start', 'c1'], f);
  t.same([r.code, r.err], [0, ''], 'with --log, nothing on stderr');
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.match(lines, [
    { level: 'debug', msg: `runts --log ${log} --log-format json --debug start c1`, ms: Number, time: /^\d{4}-/ },
    { level: 'debug', msg: 'start c1: a step', ms: Number },
    { level: 'debug', msg: 'start: done' },
  ]);
  t.ok(lines.every((l, i) => i === 0 || l.ms >= lines[i - 1].ms), 'ms grows');

  const text = await cli(['--debug', 'start', 'c1'], f);
  t.match(text.err, /^time="[^"]+" level=debug msg="runts --debug start c1" ms=[\d.]+\ntime="[^"]+" level=debug msg="start c1: a step" ms=[\d.]+\n/, 'without --log, on stderr');

  debug = undefined;
  const quiet = await cli(['--log', join(dir, 'quiet.json'), 'start', 'c1'], f);
  t.same([quiet.code, quiet.err, debug], [0, '', undefined], 'without --debug the runtime gets no debug function');
  t.notOk(existsSync(join(dir, 'quiet.json')), 'and no log file is made');
});

t.test('an unexpected exception still gives one line, no stack', async (t) => {
  const f = fake({
    state: () => {
      throw new TypeError('boom\n    at somewhere');
    },
  });
  const r = await cli(['state', 'c1'], f);
  t.equal(r.code, 1);
  t.equal(r.err, 'runts: boom\n');
});

t.test('exec options end at the id, like runc', async (t) => {
  t.match((await cli(['--root', '/r', 'exec', '-t', '--cwd', '/', 'c1', 'ls', '-l'])).calls[0], ['exec', 'c1', { process: { args: ['ls', '-l'], cwd: '/', terminal: true } }]);
  t.match((await cli(['exec', '--env=A=1', 'c1', '--', 'ls'])).calls[0], ['exec', 'c1', { process: { args: ['ls'], env: ['PATH=/bin', 'A=1'] } }]);
  const r = await cli(['exec', 'c1', 'sh', '-c', 'echo --tty']);
  t.match(r.calls[0], ['exec', 'c1', { process: { args: ['sh', '-c', 'echo --tty'], terminal: false } }]);
});

t.test('update: runc flags become a patch of only what was given', async (t) => {
  const r = await cli(['update', '--memory', '32m', '--memory-swap', '-1', '--cpu-share', '512', '--cpu-quota', '150000', '--pids-limit', '64', 'c1']);
  t.equal(r.code, 0, r.err);
  t.same(r.calls, [['update', 'c1', { resources: { memory: { limit: 32 << 20, swap: -1 }, cpu: { shares: 512, quota: 150000 }, pids: { limit: 64 } }, warnings: [] }]]);
  const s = await cli(['update', '--cpu-shares', '1024', '--kernel-memory', '1g', 'c1']);
  t.same(s.calls[0], ['update', 'c1', { resources: { cpu: { shares: 1024 } }, warnings: ['kernel memory settings are ignored and will be removed'] }], '--cpu-shares is accepted too');
  const bad = await cli(['update', '--memory', 'lots', 'c1']);
  t.equal(bad.code, 1);
  t.equal(bad.err, 'runts: invalid value for --memory: "lots" is not a size (e.g. 1024, 32m, 1g, or -1)\n');
  t.same(bad.calls, []);
  const rdt = await cli(['update', '--l3-cache-schema', 'L3:0=f', 'c1']);
  t.match(rdt.calls[0], ['update', 'c1', { l3CacheSchema: 'L3:0=f' }]);
});

t.test('update --resources FILE: JSON, other flags ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-upd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'r.json');
  require('node:fs').writeFileSync(file, '{"cpu":{"quota":50000},"pids":{"limit":10}}');
  const r = await cli(['update', '--resources', file, '--memory', '1g', 'c1']);
  t.equal(r.code, 0, r.err);
  t.same(r.calls, [['update', 'c1', { resources: { cpu: { quota: 50000 }, pids: { limit: 10 } }, warnings: [] }]]);
  const missing = await cli(['update', '-r', join(dir, 'nope.json'), 'c1']);
  t.match(missing.err, /^runts: --resources: cannot read .*nope\.json: ENOENT\n$/);
});

t.test('pause, resume, events, ps json', async (t) => {
  t.same((await cli(['pause', 'c1'])).calls, [['pause', 'c1']]);
  t.same((await cli(['resume', 'c1'])).calls, [['resume', 'c1']]);
  const e = await cli(['events', '--stats', 'c1']);
  t.same(e.calls, [['events', 'c1', { stats: true, intervalMs: 5000 }]]);
  t.same(JSON.parse(e.out), { type: 'stats', id: 'c1', data: {} });
  t.same((await cli(['events', '--interval', '250ms', 'c1'])).calls[0], ['events', 'c1', { stats: false, intervalMs: 250 }]);
  t.match((await cli(['events', '--interval', 'soon', 'c1'])).err, /invalid duration "soon"/);
  const ps = await cli(['ps', '--format', 'json', 'c1']);
  t.equal(ps.out, '[42,43]\n');
});

t.test('ps: options end at the id; the table keeps the header and the container\'s rows', async (t) => {
  const out = ['UID          PID    PPID  C STIME TTY          TIME CMD', 'root           1       0  0 03:00 ?        00:00:01 /sbin/init', 'root          42       1  0 03:01 ?        00:00:00 sleep 42', 'root         430       1  0 03:01 ?        00:00:00 sleep 430', 'root          43      42  0 03:01 ?        00:00:00 sh', ''].join('\n');
  t.equal(filterPs(out, [42, 43]), ['UID          PID    PPID  C STIME TTY          TIME CMD', 'root          42       1  0 03:01 ?        00:00:00 sleep 42', 'root          43      42  0 03:01 ?        00:00:00 sh', ''].join('\n'));
  t.equal(filterPs('  PID COMMAND\n    7 x\n', []), '  PID COMMAND\n');
  t.throws(() => filterPs('USER COMMAND\nroot x\n', [1]), { code: 'ERR_USAGE', message: /no PID column/ });
  const r = await cli(['ps', 'c1', '-o', 'pid,comm'], fake({ processes: () => [process.pid] }));
  t.equal(r.code, 0, r.err);
  t.same(r.out.trim().split('\n').map((l) => l.trim().split(/\s+/)[0]), ['PID', String(process.pid)], 'host ps ran with the given args, rows filtered');
});

t.test('durations as Go writes them', async (t) => {
  t.equal(parseDuration('5s'), 5000);
  t.equal(parseDuration('1m30s'), 90000);
  t.equal(parseDuration('100ms'), 100);
  t.equal(parseDuration('1.5h'), 5_400_000);
  t.throws(() => parseDuration('5'), { code: 'ERR_USAGE' });
  t.throws(() => parseDuration(''), { code: 'ERR_USAGE' });
});

t.test('a huge value in an error is clipped, the path kept', async (t) => {
  const f = fake({
    state: () => {
      throw new RuntsError('ERR_CONFIG_INVALID', `process.args[0]: executable file "${'A'.repeat(10 << 20)}" not found`);
    },
  });
  const r = await cli(['state', 'c1'], f);
  t.ok(r.err.length < 1100, `${r.err.length} bytes`);
  t.match(r.err, /^runts: process\.args\[0\]: executable file "AAA+… \(\d+ more bytes\)\n$/);
});

t.test('writeAll: every byte, through a full non-blocking pipe too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-write-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The parent's end of a child's stdin is a non-blocking pipe: 1 MiB fills it many times over.
  const out = join(dir, 'out');
  const cat = spawn('sh', ['-c', `cat > ${out}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const fd = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  const text = `${'é'.repeat(1 << 19)}end`;
  writeAll(fd, text);
  cat.stdin.end();
  await new Promise((res) => cat.on('exit', res));
  t.equal(readFileSync(out, 'utf8'), text);
});
