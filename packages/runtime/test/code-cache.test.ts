// The code caches the build makes (scripts/code-cache.mts): an eager one holds
// every function, and a plain Node accepts it; launch() runs a bundle with one,
// chosen by the command.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Script } from 'node:vm';
import { cacheName } from '../src/cli/multicall';

const SCRIPT = resolve(__dirname, '..', 'scripts', 'code-cache.mts');
const MULTICALL = resolve(__dirname, '..', 'dist', 'cli', 'multicall.js');
const BIN = resolve(__dirname, '..', '..', '..', 'bin');

const built = existsSync(join(BIN, 'runts.js.cache')) ? false : 'bin/ is not built';
// As make's CJS_WRAP leaves a bundle: the module wrapper is in the file.
const wrapped = (body: string) => `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
const BUNDLE = wrapped("exports.cli = (commit) => process.stdout.write(commit + ' ' + __filename + '\\n');");

function makeCache(t: { equal(a: unknown, b: unknown, m?: string): void }, file: string, eager: boolean, out = '.cache'): Buffer {
  const r = spawnSync(process.execPath, [SCRIPT, ...(eager ? ['--eager'] : []), '--out', out, file], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  return readFileSync(`${file}${out}`);
}

t.test('an eager cache holds the functions a lazy one leaves out, and this Node accepts it', { skip: built }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'runts.js');
  const source = readFileSync(join(BIN, 'runts.js'), 'utf8');
  writeFileSync(file, source);
  const lazy = makeCache(t, file, false);
  const eager = makeCache(t, file, true);
  // The lazy one holds the top level only (~15 kB), the eager one bytecode for every function (~480 kB).
  t.ok(eager.length > 10 * lazy.length, `eager ${eager.length} B vs lazy ${lazy.length} B`);
  t.notOk(new Script(source, { filename: file, cachedData: eager }).cachedDataRejected, 'accepted without --no-lazy');
  t.ok(new Script(`${source} `, { filename: file, cachedData: eager }).cachedDataRejected, 'and refused for other source');
});

t.test('launch() runs a bundle as its module, with or without a cache', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.js');
  writeFileSync(file, BUNDLE);
  const launch = () => spawnSync(process.execPath, ['-e', `require(${JSON.stringify(MULTICALL)}).launch(${JSON.stringify(file)}, "abc")`], { encoding: 'utf8' });
  const bare = launch();
  t.equal(bare.status, 0, bare.stderr);
  t.equal(bare.stdout, `abc ${file}\n`);
  makeCache(t, file, true);
  t.same(launch().stdout, bare.stdout, 'the same with its cache');
  writeFileSync(`${file}.cache`, 'not a cache');
  t.same(launch().stdout, bare.stdout, 'a bad cache costs only time');
});

t.test('a runts command that builds no container loads the lazy cache', async (t) => {
  t.equal(cacheName('runts', ['--root', '/x', 'state', 'c1']), 'runts.js.lazy.cache');
  t.equal(cacheName('runts', ['delete', '--force', 'c1']), 'runts.js.lazy.cache');
  for (const cmd of ['create', 'run', 'exec']) t.equal(cacheName('runts', ['--root', '/x', cmd, 'c1']), 'runts.js.cache', cmd);
  t.equal(cacheName('runtsctl', ['ps']), 'runtsctl.js.cache', 'runtsctl: always the eager one');
});

t.test('the build\'s caches for bin/runts and bin/runtsctl are accepted', { skip: built }, async (t) => {
  for (const cache of ['runts.js.cache', 'runts.js.lazy.cache', 'runtsctl.js.cache']) {
    const file = join(BIN, cache.replace(/\.js\..*/, '.js'));
    t.ok(statSync(join(BIN, cache)).mtimeMs >= statSync(file).mtimeMs, `${cache} is not older than its bundle`);
    t.notOk(new Script(readFileSync(file, 'utf8'), { filename: file, cachedData: readFileSync(join(BIN, cache)) }).cachedDataRejected, `${cache} accepted`);
  }
});
