// The V8 code cache of each bundle, written beside it as FILE.cache: for the
// single executable's assets (make sea) and for bin/runts and bin/runtsctl.
// Run by the Node binary that will load them: V8 rejects a cache from another
// version or flags.
//
// --eager: compile every function now, not only the top level. A one-shot
// command otherwise compiles each function it calls at every start (~10 ms of
// a `runts run`). V8 compiles eagerly under --no-lazy but hashes its flags into
// the cache, so the flag is set back before the cache is written; that cache is
// then accepted by a default Node. Residents keep lazy caches: they start once,
// and bytecode for code they never run would be heap they keep.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';

const { wrap } = createRequire(import.meta.url)('../dist/cli/multicall.js') as { wrap(source: string): string };
const args = process.argv.slice(2);
const eager = args[0] === '--eager';
for (const file of eager ? args.slice(1) : args) {
  if (eager) setFlagsFromString('--no-lazy');
  const script = new Script(wrap(readFileSync(file, 'utf8')), { filename: basename(file) });
  if (eager) setFlagsFromString('--lazy');
  writeFileSync(`${file}.cache`, script.createCachedData());
}
