import t from 'tap';
import { FlagError, parseFlags, type FlagSpecs } from '../src/flags';

const specs: FlagSpecs = {
  bundle: { type: 'string', short: 'b' },
  detach: { type: 'boolean', short: 'd' },
  tty: { type: 'boolean', short: 't' },
  signal: { type: 'string', short: 's' },
  env: { type: 'string', short: 'e', multiple: true },
  rm: { type: 'boolean' },
};

t.test('long options: bare, =value and value as the next argument', async (t) => {
  t.same(parseFlags(['--rm', '--bundle', '/b', 'c1', '--signal=KILL'], specs), { values: { rm: true, bundle: '/b', signal: 'KILL' }, positionals: ['c1'] });
  t.same(parseFlags(['--bundle='], specs).values, { bundle: '' });
});

t.test('short options: grouped booleans, attached and separate values', async (t) => {
  t.same(parseFlags(['-dt', '-s9', '-b', '/b'], specs).values, { detach: true, tty: true, signal: '9', bundle: '/b' });
  t.same(parseFlags(['-ds', 'TERM', 'c1'], specs), { values: { detach: true, signal: 'TERM' }, positionals: ['c1'] });
});

t.test('a string option takes the next argument even if it starts with a dash', async (t) => {
  t.same(parseFlags(['--signal', '-1', '-e', '--x'], specs).values, { signal: '-1', env: ['--x'] });
});

t.test('repeatable options collect; the last of the others wins', async (t) => {
  t.same(parseFlags(['-e', 'A=1', '--env', 'B=2', '--env=C=3', '-s', '1', '-s', '2'], specs).values, { env: ['A=1', 'B=2', 'C=3'], signal: '2' });
});

t.test('-- ends the options; a lone dash is an argument', async (t) => {
  t.same(parseFlags(['-d', '--', '-t', '--rm'], specs), { values: { detach: true }, positionals: ['-t', '--rm'] });
  t.same(parseFlags(['-', 'x'], specs).positionals, ['-', 'x']);
});

t.test('what is not allowed is named in one line', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--nope'], /^unknown flag --nope$/],
    [['-x'], /^unknown flag -x$/],
    [['-dx'], /^unknown flag -x$/],
    [['--rm=yes'], /^flag --rm takes no value$/],
    [['--bundle'], /^flag needs an argument: --bundle$/],
    [['-ds'], /^flag needs an argument: -s$/],
    [['--__proto__'], /^unknown flag --__proto__$/],
    [['--toString'], /^unknown flag --toString$/],
  ];
  for (const [argv, re] of cases) t.throws(() => parseFlags(argv, specs), Object.assign(new FlagError(''), { message: re }), argv.join(' '));
});
