// The shim's warm-up before its first container: code run, nothing made.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../src/runtime';

t.test('warmUp runs the create path\'s pure code and leaves nothing behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-warmup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const sys = new Proxy({}, { get: (_o, name) => () => t.fail(`warmUp made a syscall: ${String(name)}`) });
  const rt = new Runtime({ root, sys: sys as never });
  t.doesNotThrow(() => rt.warmUp());
  t.notOk(existsSync(root), 'no state dir');
});
