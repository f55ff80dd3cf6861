import t from 'tap';
import { command, parse, type Command, type Flags } from '../src/args';

const global: Flags = {
  root: { type: 'string', default: '/run/runts', describe: 'state directory' },
  log: { type: 'string', describe: 'log file' },
  'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'log format' },
  debug: { type: 'boolean', default: false, describe: 'debug' },
  rootless: { type: 'string', describe: 'accepted', hidden: true },
};

const commands: Command[] = [
  command({
    names: ['create'],
    args: '<id>',
    summary: 'create a container',
    flags: {
      bundle: { type: 'string', short: 'b', default: '.', describe: 'bundle' },
      'pid-file': { type: 'string', describe: 'pid file' },
      'no-pivot': { type: 'boolean', default: false, describe: 'no pivot_root' },
      'preserve-fds': { type: 'number', default: 0, describe: 'fds' },
    },
    run: () => 0,
  }),
  command({ names: ['kill'], args: '<id> [signal]', summary: 'kill', flags: { all: { type: 'boolean', short: 'a', default: false, describe: 'all' } }, run: () => 0 }),
  command({
    names: ['exec'],
    args: '<id> [command...]',
    summary: 'exec',
    optionsEndAtArgs: true,
    flags: {
      tty: { type: 'boolean', short: 't', default: false, describe: 'tty' },
      env: { type: 'string', short: 'e', multiple: true, describe: 'env' },
      'additional-gids': { type: 'number', short: 'g', multiple: true, describe: 'gids' },
    },
    run: () => 0,
  }),
  command({ names: ['delete', 'rm'], args: '<id>', summary: 'delete', flags: { force: { type: 'boolean', short: 'f', default: false, describe: 'force' } }, run: () => 0 }),
  command({ names: ['spec'], args: '', summary: 'spec', flags: { rootless: { type: 'boolean', default: false, describe: 'rootless' } }, run: () => 0 }),
  command({ names: ['update'], args: '<id>', summary: 'update', flags: { memory: { type: 'string', describe: 'memory' } }, run: () => 0 }),
];

const p = (argv: string[]) => parse(argv, global, commands);

t.test('global options, command options, arguments, defaults', async (t) => {
  const r = p(['--root', '/r', '--log-format=json', 'create', '-b', '/b', '--pid-file', '/p', '--no-pivot', 'c1']);
  t.equal(r.command?.names[0], 'create');
  t.same(r.global, { root: '/r', 'log-format': 'json', debug: false });
  t.same(r.flags, { bundle: '/b', 'pid-file': '/p', 'no-pivot': true, 'preserve-fds': 0 });
  t.same(r.args, { id: 'c1' });
});

t.test('options after the argument and global options after the command', async (t) => {
  const r = p(['create', 'c1', '--bundle', '/b', '--root', '/x', '--preserve-fds', '3']);
  t.same(r.flags, { bundle: '/b', 'no-pivot': false, 'preserve-fds': 3 });
  t.equal(r.global['root'], '/x');
});

t.test('a command flag wins over a global of the same name', async (t) => {
  const r = p(['--rootless', 'true', 'spec', '--rootless']);
  t.equal(r.flags['rootless'], true);
  t.equal(r.global['rootless'], 'true');
});

t.test('optional argument and aliases', async (t) => {
  t.same(p(['kill', 'c1']).args, { id: 'c1', signal: undefined });
  t.same(p(['kill', '-a', 'c1', 'KILL']).args, { id: 'c1', signal: 'KILL' });
  t.equal(p(['rm', '-f', 'c1']).command?.names[0], 'delete');
});

t.test('exec: options end at the id; repeatable options', async (t) => {
  const r = p(['exec', '-t', '-e', 'A=1', '--env', 'B=2', '-g', '5', '-g', '6', 'c1', 'ls', '-l', '--tty']);
  t.same(r.flags, { tty: true, env: ['A=1', 'B=2'], 'additional-gids': [5, 6] });
  t.same(r.args, { id: 'c1', command: ['ls', '-l', '--tty'] });
  t.same(p(['exec', 'c1', '--', 'sh', '-c', 'x']).args, { id: 'c1', command: ['sh', '-c', 'x'] }, 'a -- after the id is dropped');
  t.same(p(['exec', '--', 'c1', 'true']).args, { id: 'c1', command: ['true'] });
});

t.test('values that start with a dash', async (t) => {
  t.equal(p(['update', '--memory', '-1', 'c1']).flags['memory'], '-1');
});

t.test('usage errors name what is wrong, in one line', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /a command is required/],
    [['nope'], /unknown command "nope"/],
    [['create'], /"create" requires exactly 1 argument\(s\), got 0/],
    [['create', 'a', 'b'], /"create" requires exactly 1 argument\(s\), got 2/],
    [['kill', 'a', 'b', 'c'], /"kill" requires 1 to 2 argument\(s\), got 3/],
    [['exec'], /"exec" requires at least 1 argument\(s\), got 0/],
    [['create', '--bogus', 'c1'], /^unknown flag --bogus \(see runts create --help\)$/],
    [['--bogus', 'create', 'c1'], /^unknown flag --bogus \(see runts --help\)$/],
    [['kill', '-x', 'c1'], /^unknown flag -x \(see runts kill --help\)$/],
    [['create', '--preserve-fds', 'x', 'c1'], /--preserve-fds: "x" is not an integer/],
    [['--log-format', 'yaml', 'create', 'c1'], /--log-format: "yaml" is not one of text, json/],
    [['create', 'c1', '--pid-file'], /--pid-file/],
  ];
  for (const [argv, re] of cases) {
    t.throws(() => p(argv), { code: 'ERR_USAGE', message: re }, argv.join(' '));
    try {
      p(argv);
    } catch (e) {
      t.notMatch((e as Error).message, /\n/, 'one line');
    }
  }
});

t.test('help: global and per command', async (t) => {
  const top = p(['--help']).help!;
  t.match(top, /COMMANDS:\n\s+create\s+create a container/);
  t.match(top, /--root value\s+state directory \(default: \/run\/runts\)/);
  t.notMatch(top, /--rootless/, 'hidden flags stay hidden');
  t.match(p(['create', '--help']).help!, /^usage: runts create \[command options\] <id>\n[\s\S]*-b, --bundle value/);
  t.equal(p(['exec', 'c1', 'ls', '-h']).help, undefined, 'exec passes -h to the command');
});

t.test("runc's help command, --version in the help", async (t) => {
  t.equal(p(['help']).help, p(['--help']).help, '`help` is --help');
  t.equal(p(['help', 'create']).help, p(['create', '--help']).help, '`help create` is create --help');
  t.equal(p(['h', 'rm']).help, p(['delete', '--help']).help, 'aliases both ways');
  t.match(p(['--help']).help!, /\n\s+help, h\s+show the commands/);
  t.throws(() => p(['help', 'nope']), { code: 'ERR_USAGE', message: 'no help topic for "nope" (see runts --help)' });
  t.match(p(['--help']).help!, /-v, --version\s+print the version/);
  t.equal(p(['--root', '/r', '--version']).version, true, '--version after other global options');
  t.throws(() => p(['create', '--version', 'c1']), { message: /^unknown flag --version/ }, 'a command does not take it, as in runc');
});
