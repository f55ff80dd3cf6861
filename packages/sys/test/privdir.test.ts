// privateDir: what makes a directory ours alone, and the one line that refuses one.
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRuntsError } from '@runts/errors';
import { privateDir } from '../src/privdir';

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'privdir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isRuntsError(e) && e.code === 'ERR_UNSAFE_DIR') return e.message;
    throw e;
  }
  return 'accepted';
};

t.test('made 0700 with its parents, and accepted again as it is', async (t) => {
  const base = scratch(t);
  const dir = join(base, 'a', 'b');
  t.equal(privateDir(dir, 'state', { create: true }), dir);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(privateDir(dir, 'state'), dir);
});

t.test('refused: missing (unless made), group/other writable, a symlink, a file, under a writable parent', async (t) => {
  const base = scratch(t);
  t.equal(refusal(() => privateDir(join(base, 'none'), 'state')), `state ${join(base, 'none')}: does not exist`);
  const open = join(base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o775);
  t.equal(refusal(() => privateDir(open, 'state')), `state ${open}: is writable by group or others (mode 0775)`);
  const link = join(base, 'link');
  mkdirSync(join(base, 'real'), { mode: 0o700 });
  symlinkSync(join(base, 'real'), link);
  t.equal(refusal(() => privateDir(link, '--root')), `--root ${link}: is a symlink`);
  const file = join(base, 'file');
  writeFileSync(file, '');
  t.equal(refusal(() => privateDir(file, '--root')), `--root ${file}: is not a directory`);
  const under = join(open, 'mine');
  mkdirSync(under, { mode: 0o700 });
  t.equal(refusal(() => privateDir(under, '--dir')), `--dir ${under}: ${open} is writable by group or others (mode 0775)`, 'a parent others can write could swap it');
  const sticky = join(base, 'sticky');
  mkdirSync(join(sticky, 'mine'), { recursive: true, mode: 0o700 });
  chmodSync(sticky, 0o1777);
  t.equal(privateDir(join(sticky, 'mine'), '--dir'), join(sticky, 'mine'), 'a sticky parent (as /tmp) is fine: others cannot rename what is ours');
});

t.test('a symlink among the parents is followed, and what it leads to is checked too', async (t) => {
  const base = scratch(t);
  const open = join(base, 'open');
  mkdirSync(join(open, 'state'), { recursive: true, mode: 0o700 });
  chmodSync(open, 0o777);
  symlinkSync(open, join(base, 'via'));
  t.match(refusal(() => privateDir(join(base, 'via', 'state'), 'state')), `state ${join(base, 'via', 'state')}: ${open} is writable by group or others`);
  mkdirSync(join(base, 'safe', 'state'), { recursive: true, mode: 0o700 });
  symlinkSync(join(base, 'safe'), join(base, 'alias'));
  t.equal(privateDir(join(base, 'alias', 'state'), 'state'), join(base, 'safe', 'state'), 'resolved through a safe link');
});
