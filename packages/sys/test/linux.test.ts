// LinuxSys on what needs no privilege beyond a temp dir: the file calls the
// runtime makes on fifos and /proc knobs, and the socketpair it converses on.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRuntsError } from '@runts/errors';
import { LinuxSys } from '../src/linux';

const sys = new LinuxSys();

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const failure = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isRuntsError(e)) return e.message;
    throw e;
  }
  return 'returned';
};

t.test('mkfifo, chmod, chown and open: the exec fifo as create makes it', async (t) => {
  const fifo = join(scratch(t), 'exec.fifo');
  sys.mkfifo(fifo, 0o600);
  sys.chmod(fifo, 0o622);
  t.equal(statSync(fifo).mode & 0o777, 0o622, 'chmod is not subject to the umask');
  t.ok(statSync(fifo).isFIFO());
  if (sys.geteuid() === 0) {
    sys.chown(fifo, 1234, 5678);
    t.same([statSync(fifo).uid, statSync(fifo).gid], [1234, 5678]);
  }
  const fd = sys.open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  t.ok(fd > 2);
  sys.close(fd);
  t.equal(failure(() => sys.mkfifo(fifo, 0o600)), `mkfifo ${fifo}: EEXIST (file exists)`);
});

t.test('open and writeFile fail in one line naming the file', async (t) => {
  const none = join(scratch(t), 'none');
  t.equal(failure(() => sys.open(none, fsc.O_RDONLY)), `open ${none}: ENOENT (no such file or directory)`);
  t.equal(failure(() => sys.writeFile(none, 'x')), `open ${none}: ENOENT (no such file or directory)`, 'a knob is written, never created');
  t.equal(failure(() => sys.chmod(none, 0o600)), `chmod ${none}: ENOENT (no such file or directory)`);
  t.equal(failure(() => sys.chown(none, 0, 0)), `chown ${none}: ENOENT (no such file or directory)`);
});

t.test('writeFile replaces the content of a file that exists, in one write', async (t) => {
  const file = join(scratch(t), 'knob');
  writeFileSync(file, 'old value\n');
  sys.writeFile(file, '0 1000 1\n');
  t.equal(readFileSync(file, 'utf8'), '0 1000 1\n');
  t.equal(failure(() => sys.writeFile('/proc/self/oom_score_adj', 'not a number')), 'write /proc/self/oom_score_adj: EINVAL (invalid argument)');
});

t.test('a socketpair carries messages both ways, and EOF once one end closes', async (t) => {
  const [a, b] = sys.socketpair();
  t.teardown(() => sys.close(a));
  sys.write(a, Buffer.from('hello'));
  t.ok(sys.pollIn(b, 0));
  t.equal(sys.recvMsg(b, 5).data.toString(), 'hello');
  t.notOk(sys.pollIn(b, 0), 'nothing more to read');
  sys.close(b);
  t.equal(sys.recvMsg(a, 16).data.length, 0, 'EOF');
});
