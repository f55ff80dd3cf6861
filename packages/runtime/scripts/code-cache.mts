// The V8 code cache of each bundle, written beside it as FILE.cache (or
// FILE<--out>): for the single executable's assets (make sea) and for
// bin/runts and bin/runtsctl. Each bundle carries CommonJS's wrapper (make's
// CJS_WRAP), so it is compiled as it is. Run by the Node binary that will load
// them: V8 rejects a cache from another version or flags.
//
// --eager: compile every function now, not only the top level. A one-shot
// command otherwise compiles each function it calls at every start, a large
// part of a `runts run` (bench/NOTES.md). V8 compiles eagerly under --no-lazy but hashes its flags into
// the cache, so the flag is set back before the cache is written; that cache is
// then accepted by a default Node. Residents keep lazy caches: they start once,
// and bytecode for code they never run would be heap they keep.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';

const { values, positionals } = parseArgs({ options: { eager: { type: 'boolean' }, out: { type: 'string', default: '.cache' } }, allowPositionals: true });
for (const file of positionals) {
  if (values.eager) setFlagsFromString('--no-lazy');
  const script = new Script(readFileSync(file, 'utf8'), { filename: basename(file) });
  if (values.eager) setFlagsFromString('--lazy');
  writeFileSync(`${file}${values.out}`, script.createCachedData());
}
