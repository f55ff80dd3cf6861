// config.md "process": terminal and consoleSize, through a console socket
// (the pty master arrives with SCM_RIGHTS), checked from inside with busybox.
import { Runtime, config, consoleSocket, said, suite } from '../lib/runtime';

const test = suite(__filename);

const CHECK = 'for fd in 0 1 2; do test -t $fd && echo "fd$fd tty" || echo "fd$fd not-tty"; done; stty size; echo END';

test('process.terminal with a console socket: stdio is the pty, consoleSize is its window size', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['sh', '-c', CHECK]);
  cfg.process.terminal = true;
  cfg.process.consoleSize = { height: 33, width: 101 };
  const id = rt.id();
  const sock = await consoleSocket(rt.dir, 'END');
  const c = rt.run(['create', '--console-socket', sock.path, '--bundle', rt.bundle(cfg), id]);
  t.equal(c.code, 0, `create with terminal: true and --console-socket succeeds${said(c)}`);
  const s = rt.run(['start', id]);
  t.equal(s.code, 0, `start succeeds${said(s)}`);
  const seen = (await sock.output).trim().split('\n');
  t.same(seen.slice(0, 3), ['fd0 tty', 'fd1 tty', 'fd2 tty'], 'config.md "terminal": the pty is duplicated on the standard streams (test -t 0/1/2)');
  t.equal(seen[3], '33 101', 'config.md "consoleSize": the terminal is height 33 × width 101 (stty size)');
});

test('process.consoleSize is ignored without a terminal', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['sh', '-c', 'test -t 0 && echo tty || echo not-tty']);
  cfg.process.consoleSize = { height: 33, width: 101 };
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), rt.id()]);
  t.equal(r.code, 0, `config.md "consoleSize": runtimes MUST ignore it when terminal is false${said(r)}`);
  t.equal(r.stdout.trim(), 'not-tty', 'terminal: false gives the process no pty');
});
