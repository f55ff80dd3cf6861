// make conformance-report: the suite against runts, runc and crun, one table
// of case × runtime into spec/RESULTS.md. Runs under Node's type stripping.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
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

type Result = { status: 'pass' | 'fail' | 'skip'; why: string };
const results = new Map<string, Map<string, Result>>();

for (const rt of runtimes) {
  process.stderr.write(`conformance: ${rt.name}\n`);
  for (const file of files) {
    const r = spawnSync(NODE, [TAP, '-R', 'tap', join('spec', 'cases', file)], { cwd: TOP, encoding: 'utf8', env: { ...process.env, RUNTIME: rt.bin } });
    // Cases are the subtests one level down; the assertion that failed first says why.
    let firstFailure = '';
    for (const line of r.stdout.split('\n')) {
      const a = /^ {8}not ok \d+ - (.*)$/.exec(line);
      if (a && !firstFailure) firstFailure = a[1]!.replace(/\|/g, '\\|').slice(0, 120);
      const m = /^ {4}(not )?ok \d+ - (.*?)(?: # (SKIP|TODO)\s*(.*?))?(?: # time=.*)?$/.exec(line);
      if (!m) continue;
      const key = `${file.replace('.test.ts', '')}: ${m[2]}`;
      const status: Result['status'] = m[3] === 'SKIP' ? 'skip' : m[1] ? 'fail' : 'pass';
      if (!results.has(key)) results.set(key, new Map());
      results.get(key)!.set(rt.name, { status, why: status === 'skip' ? m[4] ?? '' : status === 'fail' ? firstFailure : '' });
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
  'Expectations come from the runtime-spec text; a fail names the first assertion that failed.',
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
    return r.status === 'pass' ? 'pass' : `${r.status}: ${r.why}`;
  });
  lines.push(`| ${key.replace(/\|/g, '\\|')} | ${cells.join(' | ')} |`);
}
lines.push(`| **total** | ${runtimes.map((r) => { const x = totals.get(r.name)!; return `${x.pass} pass, ${x.fail} fail, ${x.skip} skip`; }).join(' | ')} |`);
writeFileSync(join(TOP, 'spec', 'RESULTS.md'), lines.join('\n') + '\n');
process.stdout.write(lines.join('\n') + '\n');
