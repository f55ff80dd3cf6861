// The main script of the single executable (make sea): one binary serves
// runts, runts-shim, runtsd and runtsctl, chosen by the name it was called by
// (a symlink) or by a first argument of that name. V8 reads a main script's
// whole source at every start, so this one is tiny: each entry is an asset
// compiled only when chosen (the runtime CLI never sees the ~2 MB of gRPC
// code), and TypeBox, needed only to explain a bad config, is one too.
import { basename, dirname, join } from 'node:path';

interface Entry {
  cli(commit: string): void;
}

type Sea = typeof import('node:sea');

const NAMES = ['runts', 'runts-shim', 'runtsd', 'runtsctl'];
const TYPEBOX = ['@sinclair/typebox', '@sinclair/typebox/value'];

/** The CommonJS wrapper; the build compiles the same text to make each asset's code cache. */
export function wrap(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

/** Evaluates the CommonJS bundle in asset `name.js` with the V8 code cache the build made for it. */
function evaluate(sea: Sea, name: string, req: (id: string) => unknown): unknown {
  const { Script } = require('node:vm') as typeof import('node:vm');
  const source = wrap(sea.getAsset(`${name}.js`, 'utf8'));
  const script = new Script(source, { filename: `${name}.js`, cachedData: Buffer.from(sea.getRawAsset(`${name}.js.cache`)) });
  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, req, module, process.execPath, dirname(process.execPath));
  return module.exports;
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
  const req = (id: string): unknown => (TYPEBOX.includes(id) ? (typebox ??= evaluate(sea, 'typebox', require) as Record<string, unknown>)[id] : require(id));
  (evaluate(sea, name, req) as Entry).cli(sea.getAsset('commit', 'utf8'));
}

// Outside the executable this file only lends wrap() to the build.
const sea = require('node:sea') as Sea;
if (sea.isSea()) run(sea);
