// The journal: appended records, the last whole one wins; files replaced whole.
import t from 'tap';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendRecord, lastRecord, writeAtomic } from '../src/journal';

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the last whole record wins; a line cut short leaves the one before', async (t) => {
  const f = join(scratch(t), 'state.jsonl');
  appendRecord(f, { id: 'a', n: 1 });
  appendRecord(f, { id: 'a', n: 2 });
  t.equal(statSync(f).mode & 0o777, 0o600);
  t.same(lastRecord(readFileSync(f, 'utf8')), { id: 'a', n: 2 });
  appendFileSync(f, '{"id":"a","n":3');
  t.same(lastRecord(readFileSync(f, 'utf8')), { id: 'a', n: 2 }, 'cut short');
  t.same(lastRecord('{"id":"a"}\n{"other":1}\n', (v) => typeof (v as { id?: unknown }).id === 'string'), { id: 'a' }, 'one valid skips the rest');
  t.equal(lastRecord(''), undefined);
  t.equal(lastRecord('{"id":'), undefined);
});

t.test('writeAtomic replaces the file whole, with its mode, and leaves no temp file', async (t) => {
  const d = scratch(t);
  const f = join(d, 'x.json');
  writeAtomic(f, 'one');
  writeAtomic(f, Buffer.from('two'), 0o500);
  t.equal(readFileSync(f, 'utf8'), 'two');
  t.equal(statSync(f).mode & 0o777, 0o500);
  t.same(readdirSync(d), ['x.json']);
});

t.test('a symlink planted at the temporary name is replaced, not written through', async (t) => {
  const d = scratch(t);
  const victim = join(d, 'victim');
  writeFileSync(victim, 'keep');
  const f = join(d, 'x.json');
  symlinkSync(victim, join(d, `.x.json.${process.pid}.tmp`));
  writeAtomic(f, 'new');
  t.equal(readFileSync(victim, 'utf8'), 'keep');
  t.equal(readFileSync(f, 'utf8'), 'new');
  t.same(readdirSync(d).sort(), ['victim', 'x.json']);
  t.throws(() => readlinkSync(f), 'the file, not a link');
});

t.test('a failed write leaves the old file and no temp file', async (t) => {
  const d = scratch(t);
  const f = join(d, 'x.json');
  writeAtomic(f, 'old');
  t.throws(() => writeAtomic(join(d, 'missing', 'y'), 'z'), { code: 'ENOENT' });
  t.equal(readFileSync(f, 'utf8'), 'old');
  t.same(readdirSync(d), ['x.json']);
});
