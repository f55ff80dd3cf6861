// The main script of the single executable (make sea): one binary serves
// runts, runts-shim, runtsd and runtsctl, chosen by the name it was called by
// (a symlink) or by a first argument of that name. V8 reads a main script's
// whole source at every start, so this one is tiny: each entry is an asset
// compiled only when chosen (the runtime CLI never sees the ~2 MB of gRPC
// code), and TypeBox, needed only to explain a bad config, is one too.
// bin/runts and bin/runtsctl load their bundles through launch() below.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface Entry {
  cli(commit: string): void;
}

type Sea = typeof import('node:sea');

// containerd-shim-runts-v1: runts-shim as containerd's shim (its own entry, no grpc-js).
const NAMES = ['runts', 'runts-shim', 'runtsd', 'runtsctl', 'containerd-shim-runts-v1'];
const TYPEBOX = ['@sinclair/typebox', '@sinclair/typebox/value'];

/** runts commands that build a container: they run most of the bundle, and
 * load the cache that holds every function. Any other command loads the one
 * of the top level only and compiles the little it runs, rather than
 * deserializing the much larger cache of code it does not run (a create
 * would be slower with the small one; bench/NOTES.md). A wrong guess costs only time. */
const BUILDS = ['create', 'run', 'exec'];

export function cacheName(name: string, args: readonly string[]): string {
  return name === 'runts' && !args.some((a) => BUILDS.includes(a)) ? `${name}.js.lazy.cache` : `${name}.js.cache`;
}

/** Evaluates a CommonJS bundle, which carries its module wrapper (make's
 * CJS_WRAP), as module `file`, with the V8 code cache the build made for it
 * (scripts/code-cache.mts); a missing or stale cache costs only time. */
function evaluate(source: string, name: string, cachedData: Buffer | undefined, req: (id: string) => unknown, file: string): unknown {
  const { Script } = require('node:vm') as typeof import('node:vm');
  const script = new Script(source, { filename: name, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, req, module, file, dirname(file));
  return module.exports;
}

function asset(sea: Sea, name: string, req: (id: string) => unknown, cache = `${name}.js.cache`): unknown {
  return evaluate(sea.getAsset(`${name}.js`, 'utf8'), `${name}.js`, Buffer.from(sea.getRawAsset(cache)), req, process.execPath);
}

/** The launcher of a bin/ bundle: `file` with its cache beside it. The bundle
 * finds its externals (koffi, TypeBox) with this file's require: both are in
 * the same tree, and loading node:module for createRequire would slow every start. */
export function launch(file: string, commit: string): void {
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(join(dirname(file), cacheName(basename(file, '.js'), process.argv.slice(2))));
  } catch {
    // Not built: compile from source.
  }
  (evaluate(readFileSync(file, 'utf8'), file, cache, require, file) as Entry).cli(commit);
}

function run(sea: Sea): void {
  // A single executable's argv is [execPath, name as called, ...args].
  let name = basename(process.argv[1] ?? '');
  if (!NAMES.includes(name)) name = 'runts';
  const first = process.argv[2];
  if (first !== undefined && first !== name && NAMES.includes(first)) {
    name = first;
    process.argv.splice(2, 1);
  }
  // runtsd finds runts-shim and runts beside argv[1]: the installed symlinks
  // sit beside the real file, whatever PATH lookup or cwd the caller used.
  process.argv[1] = join(dirname(process.execPath), name);
  let typebox: Record<string, unknown> | undefined;
  const req = (id: string): unknown => (TYPEBOX.includes(id) ? (typebox ??= asset(sea, 'typebox', require) as Record<string, unknown>)[id] : require(id));
  (asset(sea, name, req, cacheName(name, process.argv.slice(2))) as Entry).cli(sea.getAsset('commit', 'utf8'));
}

// Outside the executable this file lends launch() to bin/.
const sea = require('node:sea') as Sea;
if (sea.isSea()) run(sea);
