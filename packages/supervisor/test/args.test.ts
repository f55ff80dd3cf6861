// runtsctl and runtsd command lines, and what runtsctl prints: no daemon needed.
import t from 'tap';
import { dirname, join } from 'node:path';
import { parseCtlArgs, UsageError, DEFAULT_ADDRESS } from '../src/ctl/args';
import { ago, eventLine, psTable, statusText } from '../src/ctl/format';
import { parseDaemonArgs } from '../src/daemon-args';
import { errorLine } from '../src/ctl/client';

t.test('global --address before the command, default otherwise', async (t) => {
  t.equal(parseCtlArgs(['ps']).address, DEFAULT_ADDRESS);
  t.equal(parseCtlArgs(['--address', '/tmp/x.sock', 'ps']).address, '/tmp/x.sock');
  t.equal(parseCtlArgs(['--address=/tmp/y.sock', 'ps']).address, '/tmp/y.sock');
  t.match(parseCtlArgs([]).command, { name: 'help', text: /^usage: runtsctl / });
  t.match(parseCtlArgs(['--help']).command, { name: 'help', text: /COMMANDS:\n(.*\n)*   ps +list containers/ });
  t.same(parseCtlArgs(['--version']).command, { name: 'version' });
  t.throws(() => parseCtlArgs(['--address']), UsageError);
  t.throws(() => parseCtlArgs(['--bogus', 'ps']), { name: 'UsageError', message: 'unknown flag --bogus' });
  t.throws(() => parseCtlArgs(['frobnicate']), /unknown command frobnicate/);
});

t.test('run', async (t) => {
  t.same(parseCtlArgs(['run', '/b', '--name', 'c1', '-d', '--rm', '--group', 'pod']).command, { name: 'run', bundle: '/b', id: 'c1', detach: true, rm: true, tty: false, interactive: false, group: 'pod' });
  const c = parseCtlArgs(['run', '-ti', '/b']).command;
  t.match(c, { name: 'run', tty: true, interactive: true, id: '', detach: false });
  t.match(parseCtlArgs(['run', 'rel']).command, { bundle: `${process.cwd()}/rel` }, 'bundle made absolute');
  t.throws(() => parseCtlArgs(['run']), /BUNDLE/);
  t.throws(() => parseCtlArgs(['run', '/b', '--nope']), { name: 'UsageError', message: 'unknown flag --nope' });
});

t.test('exec: options end at the id, the command keeps its own flags', async (t) => {
  t.same(parseCtlArgs(['exec', '-t', '-i', 'c1', 'sh', '-c', 'echo -n hi']).command, { name: 'exec', id: 'c1', args: ['sh', '-c', 'echo -n hi'], tty: true, interactive: true });
  t.same(parseCtlArgs(['exec', 'c1', 'ls', '-la']).command, { name: 'exec', id: 'c1', args: ['ls', '-la'], tty: false, interactive: false });
  t.throws(() => parseCtlArgs(['exec', 'c1']), /needs a command/);
  t.throws(() => parseCtlArgs(['exec']), UsageError);
});

t.test('ps, inspect, logs, kill, stop, rm, events, stats, wait', async (t) => {
  t.same(parseCtlArgs(['ps', '-a', '--format', 'json']).command, { name: 'ps', all: true, format: 'json' });
  t.same(parseCtlArgs(['ps']).command, { name: 'ps', all: false, format: 'table' });
  t.throws(() => parseCtlArgs(['ps', '--format', 'yaml']), /unknown format yaml/);
  t.same(parseCtlArgs(['inspect', 'a', 'b']).command, { name: 'inspect', ids: ['a', 'b'] });
  t.same(parseCtlArgs(['logs', '-f', 'a']).command, { name: 'logs', id: 'a', follow: true });
  t.same(parseCtlArgs(['kill', 'a']).command, { name: 'kill', id: 'a', signal: 15 });
  t.same(parseCtlArgs(['kill', '-s', 'KILL', 'a']).command, { name: 'kill', id: 'a', signal: 9 });
  t.same(parseCtlArgs(['stop', '-t', '3', 'a']).command, { name: 'stop', id: 'a', timeout: 3 });
  t.same(parseCtlArgs(['stop', 'a']).command, { name: 'stop', id: 'a', timeout: 10 });
  t.throws(() => parseCtlArgs(['stop', '-t', '1.5', 'a']), /whole seconds/);
  t.same(parseCtlArgs(['rm', '-f', 'a', 'b']).command, { name: 'rm', ids: ['a', 'b'], force: true });
  t.throws(() => parseCtlArgs(['rm']), /at least one ID/);
  t.same(parseCtlArgs(['events']).command, { name: 'events' });
  t.same(parseCtlArgs(['stats', 'a']).command, { name: 'stats', id: 'a' });
  t.same(parseCtlArgs(['wait', 'a']).command, { name: 'wait', id: 'a' });
  t.throws(() => parseCtlArgs(['wait', 'a', 'b']), /exactly one ID/);
});

t.test('COMMAND --help and help COMMAND show that command, its options and --help', async (t) => {
  for (const argv of [['kill', '--help'], ['kill', '-h', 'x'], ['help', 'kill']]) {
    const c = parseCtlArgs(argv).command;
    t.equal(c.name, 'help', argv.join(' '));
    const text = (c as { text: string }).text;
    t.match(text, /^usage: runtsctl kill \[command options\] <id>\n/);
    t.match(text, /-s, --signal value +the signal, by name or number \(default: TERM\)/);
    t.match(text, /-h, --help +show help/);
  }
  t.match(parseCtlArgs(['exec', '--help']).command, { name: 'help', text: /-t, --tty/ });
  t.same(parseCtlArgs(['exec', 'c1', 'ls', '--help']).command, { name: 'exec', id: 'c1', args: ['ls', '--help'], tty: false, interactive: false }, "after the id it is the command's");
  t.throws(() => parseCtlArgs(['help', 'nope']), /unknown command nope/);
  t.throws(() => parseCtlArgs(['kill', '-s', 'NOPE', 'a']), { name: 'UsageError', message: 'unknown signal "NOPE"' });
});

t.test('runtsd flags and defaults', async (t) => {
  const d = parseDaemonArgs([]);
  t.equal(d.address, '/run/runts/runtsd.sock');
  t.equal(d.stateDir, '/var/lib/runts');
    t.equal(d.shim, join(dirname(process.argv[1]!), 'runts-shim'), 'the runts-shim beside the started runtsd');
  t.same(parseDaemonArgs(['--address', '/tmp/a.sock', '--state-dir', '/tmp/s', '--shim', '/x/shim']), { address: '/tmp/a.sock', stateDir: '/tmp/s', shim: '/x/shim', warmShims: 1 });
  t.equal(parseDaemonArgs(['--warm-shims', '0']).warmShims, 0);
  t.throws(() => parseDaemonArgs(['--warm-shims', 'x']), /--warm-shims: "x" is not a count/);
  t.throws(() => parseDaemonArgs(['--nope']));
});

t.test('errors become one line: no daemon, or its own words', async (t) => {
  t.equal(errorLine({ code: 14, details: 'No connection established' }, '/run/runts/runtsd.sock'), 'cannot reach runtsd at /run/runts/runtsd.sock: is it running?');
  t.equal(errorLine({ code: 5, details: 'no such container: x' }, '/a'), 'no such container: x');
  t.equal(errorLine(new Error('first\nsecond'), '/a'), 'first');
});

t.test('ps table and status texts', async (t) => {
  const now = 100_000;
  const base = { bundle: '/b', pid: 0, exitStatus: 0, exitedAtMs: 0, createdAtMs: now - 5000, terminal: false, group: '', shimPid: 1, reason: '', autoRemove: false };
  const rows = [
    { ...base, id: 'web', status: 'running', pid: 4242, group: 'pod' },
    { ...base, id: 'job', status: 'stopped', exitStatus: 3, exitedAtMs: now - 61_000 },
    { ...base, id: 'lost', status: 'unknown', reason: 'shim exited' },
  ];
  const out = psTable(rows, now).split('\n');
  t.match(out[0], /^CONTAINER ID +STATUS +PID +GROUP +CREATED$/);
  t.match(out[1], /^web +Running +4242 +pod +5 seconds ago$/);
  t.match(out[2], /^job +Exited \(3\) 1 minute ago +- +- +5 seconds ago$/);
  t.match(out[3], /^lost +Unknown \(shim exited\)/);
  t.equal(out[1]!.indexOf('Running'), out[0]!.indexOf('STATUS'), 'columns line up');
  t.equal(statusText({ ...base, id: 'x', status: 'created' }, now), 'Created');
  t.equal(ago(now - 7200_000, now), '2 hours ago');
});

t.test('event lines are JSON with the container, topic and body', async (t) => {
  const line = eventLine({ containerId: 'c1', envelope: { seq: 3, timestampMs: 9, topic: '/tasks/exit', event: 'exit', exit: { containerId: 'c1', id: 'c1', pid: 5, exitStatus: 1, exitedAtMs: 9 } } });
  t.ok(line.endsWith('\n'));
  t.same(JSON.parse(line), { id: 'c1', seq: 3, timestampMs: 9, topic: '/tasks/exit', event: { containerId: 'c1', id: 'c1', pid: 5, exitStatus: 1, exitedAtMs: 9 } });
});
