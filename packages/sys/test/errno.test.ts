// Errno naming and the one-line syscall error: pure, no syscall made.
import t from 'tap';
import { RuntsError } from '@runts/errors';
import { errnoName, errnoOf, strerror, sysError } from '../src/errno';

t.test('errnos by name, and numbers no platform names', async (t) => {
  t.equal(errnoName(1), 'EPERM');
  t.equal(errnoName(2), 'ENOENT');
  t.equal(errnoName(104), 'ECONNRESET');
  t.equal(errnoName(11), 'EAGAIN', 'EAGAIN, not its alias EWOULDBLOCK');
  t.equal(errnoName(1234), 'errno 1234');
});

t.test('descriptions: ours for the common ones, else the name', async (t) => {
  t.equal(strerror(13), 'permission denied');
  t.equal(strerror(104), 'ECONNRESET');
  t.equal(strerror(1234), 'errno 1234');
});

t.test('sysError: one line with the syscall, what it acted on, the errno and its meaning', async (t) => {
  const e = sysError('mount', 1, '/x', { file: '/x' });
  t.ok(e instanceof RuntsError);
  t.equal(e.code, 'ERR_SYSCALL');
  t.equal(e.message, 'mount /x: EPERM (operation not permitted)');
  t.same(e.detail, { syscall: 'mount', errno: 'EPERM', file: '/x' });
  t.equal(sysError('socketpair', 24).message, 'socketpair: EMFILE (EMFILE)');
});

t.test('errnoOf: a RuntsError\'s errno, a Node error\'s code, else the fallback', async (t) => {
  t.equal(errnoOf(sysError('open', 2)), 'ENOENT');
  t.equal(errnoOf(Object.assign(new Error('x'), { code: 'EACCES' })), 'EACCES');
  t.equal(errnoOf(new Error('x')), 'EIO');
  t.equal(errnoOf(new Error('x'), ''), '');
  t.equal(errnoOf(undefined), 'EIO');
});
