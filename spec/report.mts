// make conformance-report: the suite against runts, runc and crun, one table
// of case × runtime into spec/RESULTS.md. Runs under Node's type stripping.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const TOP = resolve(import.meta.dirname, '..');
const NODE = join(TOP, 'node_modules', '.bin', 'node');
const TAP = join(TOP, 'node_modules', '.bin', 'tap');
const runtimes = [
  { name: 'runts', bin: join(TOP, 'bin', 'runts') },
  { name: 'runc', bin: '/usr/sbin/runc' },
  { name: 'crun', bin: '/usr/bin/crun' },
].filter((r) => existsSync(r.bin));
const files = readdirSync(join(TOP, 'spec', 'cases')).filter((f) => f.endsWith('.test.ts')).sort();

type Result = { status: 'pass' | 'fail' | 'skip'; why: string; known: boolean };
const results = new Map<string, Map<string, Result>>();
// known-failures.json lists each runtime's spec violations: make conformance
// marks them todo, this report still shows their real result.
const KNOWN: Record<string, Record<string, string> | undefined> = JSON.parse(readFileSync(join(TOP, 'spec', 'known-failures.json'), 'utf8'));

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

/** What a failed assertion's YAML diagnostics say was expected and seen (tap's found/wanted or diff). */
function expectedSeen(diag: string[]): string {
  const field = (k: string) => diag.find((l) => l.trimStart().startsWith(`${k}: `))?.trimStart().slice(k.length + 2);
  const found = field('found');
  const wanted = field('wanted') ?? (field('doNotWant') !== undefined ? `not ${field('doNotWant')}` : undefined);
  if (found !== undefined && wanted !== undefined) return `expected ${wanted}, saw ${found}`;
  const at = diag.findIndex((l) => /^ {10}diff: \|$/.test(l));
  const end = diag.findIndex((l, i) => i > at && !l.startsWith(' '.repeat(12)));
  const block = at < 0 ? [] : diag.slice(at + 1, end < 0 ? undefined : end);
  const diff = block.map((l) => l.trimStart()).filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+)/.test(l));
  const side = (c: string) => diff.filter((l) => l[0] === c).map((l) => l.slice(1).trim().replace(/,$/, '')).join(', ');
  return diff.length ? `expected ${side('-')}, saw ${side('+')}` : '';
}

for (const rt of runtimes) {
  process.stderr.write(`conformance: ${rt.name}\n`);
  for (const file of files) {
    const r = spawnSync(NODE, [TAP, '-R', 'tap', join('spec', 'cases', file)], { cwd: TOP, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, RUNTIME: rt.bin, RUNTIME_NAME: rt.name } });
    if (r.error) throw new Error(`${rt.name} ${file}: ${r.error.message}`);
    // Cases are the subtests one level down. A known failure's assertions are
    // todo, so its own line says ok: any failed assertion inside is a fail.
    let firstFailure = '';
    let diag: string[] | undefined;
    for (const line of r.stdout.split('\n')) {
      if (diag) {
        if (/^ {10}\.\.\.$/.test(line)) {
          const es = expectedSeen(diag);
          if (es) firstFailure += ` — ${es}`;
          diag = undefined;
        } else diag.push(line);
        continue;
      }
      const a = /^ {8}not ok \d+ - (.*?)(?: # TODO .*)?$/.exec(line);
      if (a && !firstFailure) {
        firstFailure = a[1]!;
        diag = [];
        continue;
      }
      const m = /^ {4}(not )?ok \d+ - (.*?)(?: # (SKIP|TODO)\s*(.*?))?(?: # time=.*)?$/.exec(line);
      if (!m) continue;
      const name = m[2]!;
      const key = `${file.replace('.test.ts', '')}: ${name}`;
      const status: Result['status'] = m[3] === 'SKIP' ? 'skip' : m[1] || firstFailure ? 'fail' : 'pass';
      if (!results.has(key)) results.set(key, new Map());
      const why = status === 'skip' ? m[4] ?? '' : status === 'fail' ? firstFailure : '';
      results.get(key)!.set(rt.name, { status, why: cell(why).slice(0, 220), known: KNOWN[rt.name]?.[key] !== undefined });
      firstFailure = '';
    }
  }
}

const version = (bin: string) => spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]!.replace(/^.*version\s*/, '');
const lines = [
  '# runtime-spec conformance',
  '',
  `${new Date().toISOString()} · ${runtimes.map((r) => `${r.name} ${version(r.bin)}`).join(' · ')}`,
  '',
  'Expectations come from the runtime-spec text; a fail names the first assertion that failed and what it expected and saw;',
  'a skip names the host feature missing. "(known)": listed in spec/known-failures.json, so `make conformance` marks it todo.',
  '',
  `| case | ${runtimes.map((r) => r.name).join(' | ')} |`,
  `| --- |${runtimes.map(() => ' --- |').join('')}`,
];
const totals = new Map(runtimes.map((r) => [r.name, { pass: 0, fail: 0, skip: 0 }]));
for (const [key, byRt] of results) {
  const cells = runtimes.map((rt) => {
    const r = byRt.get(rt.name);
    if (!r) return '–';
    totals.get(rt.name)![r.status]++;
    const known = r.known ? ' (known)' : '';
    return r.status === 'pass' ? `pass${r.known ? ' (listed as known failure)' : ''}` : `${r.status}${known}: ${r.why}`;
  });
  lines.push(`| ${key.replace(/\|/g, '\\|')} | ${cells.join(' | ')} |`);
}
lines.push(`| **total** | ${runtimes.map((r) => { const x = totals.get(r.name)!; return `${x.pass} pass, ${x.fail} fail, ${x.skip} skip`; }).join(' | ')} |`);
writeFileSync(join(TOP, 'spec', 'RESULTS.md'), lines.join('\n') + '\n');
process.stdout.write(lines.join('\n') + '\n');
