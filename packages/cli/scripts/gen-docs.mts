// Writes the man pages and bash completions of runts, runtsd and runtsctl
// from their option tables (the ones --help prints), into OUT (default dist/):
// OUT/man/runts.8, runtsd.8, runtsctl.1 and OUT/completion/runts, runtsd, runtsctl.
// Run after tsc: it reads the compiled tables.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const { VERSION } = require('@runts/cli') as typeof import('@runts/cli');
const { bashCompletion, manPage } = require('@runts/cli/doc') as typeof import('@runts/cli/doc');
const { program } = require('@runts/runtime/cli') as { program(): import('@runts/cli').Program };
const { RUNTSD, RUNTSCTL } = require('@runts/supervisor') as { RUNTSD: import('@runts/cli').Program; RUNTSCTL: import('@runts/cli').Program };

/** The date of the commit built (SOURCE_DATE_EPOCH wins): the same tree makes the same pages. */
function buildDate(): string {
  const epoch = process.env['SOURCE_DATE_EPOCH'];
  if (epoch) return new Date(Number(epoch) * 1000).toISOString().slice(0, 10);
  try {
    return execFileSync('git', ['log', '-1', '--format=%cs'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

const out = resolve(process.argv[2] ?? 'dist');
const date = buildDate();
mkdirSync(join(out, 'man'), { recursive: true });
mkdirSync(join(out, 'completion'), { recursive: true });
for (const p of [program(), RUNTSD, RUNTSCTL]) {
  writeFileSync(join(out, 'man', `${p.name}.${p.section}`), manPage(p, VERSION, date));
  writeFileSync(join(out, 'completion', p.name), bashCompletion(p));
}
console.log(`gen-docs: ${out}/man, ${out}/completion (${date})`);
