// Man page and completion from a table: escaping, hidden options, programs without commands.
import t from 'tap';
import { bashCompletion, manPage } from '../src/doc';
import type { Program } from '../src/args';

const prog: Program = {
  name: 'demo',
  section: 1,
  summary: 'a demo',
  description: ['.starts with a dot', 'a \\ backslash'],
  global: {
    'dry-run': { type: 'boolean', short: 'n', describe: 'do nothing' },
    mode: { type: 'string', choices: ['a', 'b'], default: 'a', describe: "'quoted" },
    secret: { type: 'string', describe: 'not shown', hidden: true },
  },
  commands: [],
};

t.test('roff: control characters at line starts and backslashes are escaped', async (t) => {
  const man = manPage(prog, '1.0', '2026-01-02');
  t.match(man, /^\.TH DEMO 1 "2026-01-02" "runts 1\.0" "User Commands"$/m);
  t.match(man, /^\\&\.starts with a dot$/m);
  t.match(man, /^a \\e backslash$/m);
  t.match(man, /^\\&'quoted \(one of: a, b\) \(default: a\)$/m);
  t.match(man, /^\\fB\\-n\\fR, \\fB\\-\\-dry\\-run\\fR$/m);
  t.match(man, /^\.SH OPTIONS$/m, 'no commands: OPTIONS, not GLOBAL OPTIONS');
  t.notMatch(man, /secret/);
});

t.test('completion of a program without commands: its options and their values', async (t) => {
  const c = bashCompletion(prog);
  t.match(c, /--dry-run -n --mode --help -h --version -v/);
  t.match(c, /--mode\) COMPREPLY=\(\$\(compgen -W "a b" -- "\$cur"\)\); return ;;/);
  t.notMatch(c, /secret/);
  t.match(c, /^complete -F _demo demo$/m);
});
