// RecordingSys: every call logged, the Nth call of a method failed on demand,
// the rest handed to an inner Sys or refused with ENOSYS.
import t from 'tap';
import { isRuntsError } from '@runts/errors';
import { RecordingSys } from '../src/recording';

const thrown = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isRuntsError(e)) return `${e.message} [${e.detail.errno}]`;
    throw e;
  }
  return 'returned';
};

t.test('calls are logged in order with their arguments and results, and go to the inner Sys', async (t) => {
  const sys = new RecordingSys({ geteuid: () => 0, kill: () => undefined, mkfifo: () => undefined });
  t.equal(sys.geteuid(), 0);
  sys.kill(42, 15);
  sys.mkfifo('/run/x/exec.fifo', 0o622);
  t.same(sys.calls, [
    { method: 'geteuid', args: [], result: 0 },
    { method: 'kill', args: [42, 15] },
    { method: 'mkfifo', args: ['/run/x/exec.fifo', 0o622] },
  ]);
  t.same(sys.methods(), ['geteuid', 'kill', 'mkfifo']);
});

t.test('the Nth call of a method fails with the errno given; the others do not', async (t) => {
  let closed = 0;
  const sys = new RecordingSys({ close: () => void closed++, kill: () => undefined }).failAt('close', 2, 9).failAt('close', 4, 4);
  sys.kill(1, 0);
  t.equal(thrown(() => sys.close(3)), 'returned');
  t.equal(thrown(() => sys.close(4)), 'close: EBADF (bad file descriptor) [EBADF]', 'counted per method: the kill does not count');
  t.equal(thrown(() => sys.close(5)), 'returned');
  t.equal(thrown(() => sys.close(6)), 'close: EINTR (interrupted system call) [EINTR]');
  t.equal(closed, 2, 'a failed call never reaches the inner Sys');
  t.same(sys.calls.map((c) => c.errno ?? '-'), ['-', '-', 'EBADF', '-', 'EINTR']);
});

t.test('what nobody scripted fails ENOSYS; an inner failure is logged too', async (t) => {
  const sys = new RecordingSys({
    open: () => {
      throw Object.assign(new Error('no'), { detail: { errno: 'ENOENT' } });
    },
  });
  t.equal(thrown(() => sys.pidfdOpen(1)), 'pidfdOpen: ENOSYS (function not implemented) [ENOSYS]');
  t.throws(() => sys.open('/nope', 0));
  t.equal(thrown(() => sys.mkfifo('/x', 0o600)), 'mkfifo /x: ENOSYS (function not implemented) [ENOSYS]', 'a path is named as LinuxSys names it');
  t.same(sys.calls, [
    { method: 'pidfdOpen', args: [1], errno: 'ENOSYS' },
    { method: 'open', args: ['/nope', 0], errno: 'ENOENT' },
    { method: 'mkfifo', args: ['/x', 0o600], errno: 'ENOSYS' },
  ]);
});

t.test('it is not mistaken for a promise', async (t) => {
  const sys = new RecordingSys();
  t.equal((sys as unknown as { then?: unknown }).then, undefined);
  t.equal(await Promise.resolve(sys), sys);
  t.same(sys.calls, []);
});
