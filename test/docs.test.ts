// The man pages and bash completions of runts, runtsd and runtsctl, as the
// build makes them (packages/cli/scripts/gen-docs.mts): every option of every
// table is in the page, the completion and the --help text, the pages render
// without a warning, and the completion offers what the tables hold.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandHelp, flagLines, HELP, type Program } from '@runts/cli';
import { optionsOf } from '@runts/cli/doc';
import { program } from '@runts/runtime/cli';
import { RUNTSCTL, RUNTSD } from '@runts/supervisor';

const NODE = join(__dirname, '..', 'node_modules', '.bin', 'node');
const PROGRAMS: Program[] = [program(), RUNTSD, RUNTSCTL];

const out = mkdtempSync(join(tmpdir(), 'runts-docs-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));
const gen = spawnSync(NODE, [join(__dirname, '..', 'packages', 'cli', 'scripts', 'gen-docs.mts'), out], { encoding: 'utf8' });
if (gen.status !== 0) throw new Error(`gen-docs failed: ${gen.stderr}`);

const roffDash = (s: string) => s.replace(/-/g, '\\-');
const complete = (file: string, fn: string, words: string[]) => {
  const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0 || r.stderr) throw new Error(`completion: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
};

for (const p of PROGRAMS) {
  t.test(p.name, async (t) => {
    const man = readFileSync(join(out, 'man', `${p.name}.${p.section}`), 'utf8');
    const comp = join(out, 'completion', p.name);
    const fn = `_${p.name}`;
    t.match(man, new RegExp(`^\\.TH ${p.name.toUpperCase()} ${p.section} `, 'm'));

    t.test('every option of the tables is in the man page, the completion and --help', async (t) => {
      const opts = optionsOf(p);
      t.ok(opts.length > 3);
      for (const { command, name, flag } of opts) {
        const where = command ? `${command} --${name}` : `--${name}`;
        // In the page: under the command's heading when it is a command's.
        const section = command ? man.slice(man.indexOf(`.SS "${command}`)) : man.slice(0, man.indexOf('.SH COMMANDS') >>> 0);
        t.ok(section.includes(`\\fB\\-\\-${roffDash(name)}\\fR`), `man: ${where}`);
        if (flag.short) t.ok(section.includes(`\\fB\\-${flag.short}\\fR`), `man: ${where} -${flag.short}`);
        const words = command ? [p.name, command, '-'] : [p.name, '-'];
        const offered = complete(comp, fn, words);
        t.ok(offered.includes(`--${name}`), `completion: ${where}`);
        if (flag.short) t.ok(offered.includes(`-${flag.short}`), `completion: ${where} -${flag.short}`);
        if (flag.choices) {
          const values = complete(comp, fn, [...words.slice(0, -1), `--${name}`, '']);
          t.same(values.sort(), [...flag.choices].sort(), `completion: ${where} values`);
        }
        const help = command ? commandHelp(p.commands.find((c) => c.names[0] === command)!, p.name) : flagLines({ ...p.global, ...HELP });
        t.match(help, new RegExp(`--${name}\\b`), `help: ${where}`);
      }
    });

    if (p.commands.length) {
      t.test('every command is in the page and completed', async (t) => {
        const offered = complete(comp, fn, [p.name, '']);
        for (const c of p.commands) {
          t.ok(man.includes(`.SS "${c.names[0]}`), `man: ${c.names[0]}`);
          for (const n of c.names) t.ok(offered.includes(n), `completion: ${n}`);
        }
        t.same(complete(comp, fn, [p.name, 'help', p.commands[0]!.names[0]!.slice(0, 2)]).length > 0, true, 'help COMMAND');
      });
    }

    if (p.listIds !== undefined) {
      t.test("a command's <id> is completed with the ids the program lists, asked with the global options given", async (t) => {
        // A stand-in for the program: it records its arguments and lists two containers as the real one would.
        const stub = join(out, `${p.name}-stub`);
        const listing = p.name === 'runts' ? 'web\njob' : 'CONTAINER ID   STATUS\nweb            Running\njob            Exited (0)';
        writeFileSync(stub, `#!/bin/sh\necho "$@" > ${stub}.args\necho nope >&2\nprintf '${listing}\\n'\n`, { mode: 0o755 });
        const global = p.name === 'runts' ? ['--root', '/r'] : ['--address', '/a.sock'];
        const withId = p.commands.find((c) => c.args.startsWith('<id>'))!.names[0]!;
        t.same(complete(comp, fn, [stub, ...global, withId, '']).sort(), ['job', 'web']);
        t.equal(readFileSync(`${stub}.args`, 'utf8'), `${[...global, ...p.listIds!.split(' | ')[0]!.split(' ')].join(' ')}\n`);
        t.same(complete(comp, fn, [stub, withId, 'w']), ['web'], 'by prefix, no global options');
        t.same(complete(comp, fn, [stub, withId, 'web', 'zz-no-such-file']), [], 'not the second argument');
      });
    }

    t.test('hidden options are in none of them', async (t) => {
      const globalPart = man.slice(0, man.indexOf('.SH COMMANDS') >>> 0);
      const offered = complete(comp, fn, [p.name, '-']);
      for (const [name, f] of Object.entries(p.global)) {
        if (!f.hidden) continue;
        t.notOk(globalPart.includes(`\\-\\-${roffDash(name)}`), `man: --${name}`);
        t.notOk(offered.includes(`--${name}`), `completion: --${name}`);
      }
    });

    t.test('the page renders without a warning, the completion parses', async (t) => {
      const groff = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(out, 'man', `${p.name}.${p.section}`)], { encoding: 'utf8' });
      if (groff.error) {
        // No groff: at least every request line is one the man macros know.
        const known = new Set(['TH', 'SH', 'SS', 'TP', 'PP', 'RS', 'RE', 'B', 'BR', '\\"']);
        for (const l of man.split('\n').filter((l) => l.startsWith('.'))) t.ok(known.has(l.slice(1).split(/[ "]/)[0]!), l);
      } else {
        t.equal(groff.status, 0);
        t.equal(groff.stderr, '', 'no warnings');
      }
      const rendered = spawnSync('man', ['-l', '-Tutf8', join(out, 'man', `${p.name}.${p.section}`)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } });
      // Piped, man overstrikes bold (X\bX): undone here.
      if (!rendered.error) t.match(rendered.stdout.replace(/.\x08/g, ''), new RegExp(`NAME\\s+${p.name} - `));
      const syntax = spawnSync('bash', ['-n', comp], { encoding: 'utf8' });
      t.equal(syntax.status, 0, syntax.stderr);
    });
  });
}
