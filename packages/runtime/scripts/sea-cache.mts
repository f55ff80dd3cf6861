// make sea: the V8 code cache of each bundle the single executable carries as
// an asset, written beside it as FILE.cache. Run by the Node binary the
// executable is made of: V8 rejects a cache from another version or flags.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { Script } from 'node:vm';

const { wrap } = createRequire(import.meta.url)('../dist/cli/multicall.js') as { wrap(source: string): string };
for (const file of process.argv.slice(2)) {
  writeFileSync(`${file}.cache`, new Script(wrap(readFileSync(file, 'utf8')), { filename: basename(file) }).createCachedData());
}
