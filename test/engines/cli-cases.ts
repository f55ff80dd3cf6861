// The cases podman and docker share: both CLIs take the same commands, so one
// table drives either. Engine-specific cases stay in their own test files.
import { existsSync, readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { onPty, waitFor, type Result } from './lib';

export interface DockerLike {
  /** Runs the CLI with these args. */
  cli(...args: string[]): Result;
  /** argv that runs the CLI with these args (for a pty). */
  argv(...args: string[]): string[];
  env: NodeJS.ProcessEnv;
  image: string;
  /** Flags every `run` gets (no network, our cgroup parent). */
  runArgs: string[];
  /** A unique container name. */
  name(n: string): string;
  /** The container's cgroup dir in a v1 controller. */
  cgroup(controller: string, id: string): string;
  why(r: Result): object;
}

export function dockerLikeCases(t: Test, c: DockerLike): void {
  const { cli, why } = c;
  const run = (...args: string[]) => cli('run', ...c.runArgs, ...args);
  const inspect = (format: string, name: string) => cli('inspect', '-f', format, name).stdout.trim();
  const state = (name: string) => inspect('{{.State.Status}}', name);
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim() : `(no ${f})`);

  t.test('run: output and exit 0', async (t) => {
    const r = run('--rm', c.image, 'echo', 'hello');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'hello\n', 'output', why(r));
  });

  t.test('run: a failing command\'s exit code', async (t) => {
    const r = run('--rm', c.image, 'sh', '-c', 'exit 3');
    t.equal(r.code, 3, 'exit code', why(r));
  });

  t.test('run --read-only: the root is read-only, /dev/shm stays writable', async (t) => {
    const r = run('--rm', '--read-only', c.image, 'sh', '-c', 'touch /x 2>/dev/null && echo rw || echo ro; echo shm > /dev/shm/f && cat /dev/shm/f');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'ro\nshm\n', 'output', why(r));
  });

  // The engines map the runtime's error text to 127 and 126.
  t.test('run: the runtime\'s error for a nonexistent command', async (t) => {
    const r = run('--rm', c.image, '/nonexistent');
    t.equal(r.code, 127, 'exit code', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the error names the command', why(r));
    t.match(r.stderr, /no such file or directory/i, 'error text', why(r));
  });

  t.test('run: the runtime\'s error for a non-executable command', async (t) => {
    const r = run('--rm', c.image, '/etc/passwd');
    t.equal(r.code, 126, 'exit code', why(r));
    t.match(r.stderr, /\/etc\/passwd/, 'the error names the command', why(r));
    t.match(r.stderr, /permission denied/i, 'error text', why(r));
  });

  // One long-running container shared by the cases below, in order.
  const d1 = c.name('d1');
  t.test('run -d and logs', async (t) => {
    const r = run('-d', '--name', d1, c.image, 'sh', '-c', 'echo started; exec sleep 1000');
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /^[0-9a-f]{64}\n$/, 'the container id', why(r));
    t.equal(state(d1), 'running');
    if (state(d1) === 'running') await waitFor('logs', () => cli('logs', d1).stdout.includes('started'), 10_000).catch(() => undefined);
    const l = cli('logs', d1);
    t.equal(l.code, 0, 'exit code', why(l));
    t.equal(l.stdout, 'started\n', 'logs', why(l));
  });

  t.test('exec: output and exit code', async (t) => {
    const r = cli('exec', d1, 'sh', '-c', 'echo in-exec; exit 4');
    t.equal(r.code, 4, 'exit code', why(r));
    t.equal(r.stdout, 'in-exec\n', 'output', why(r));
  });

  t.test('exec -it: a terminal', async (t) => {
    const r = onPty(c.argv('exec', '-it', d1, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-tty; exit 5'), { env: c.env });
    t.equal(r.code, 5, 'exit code', why(r));
    // The terminal echoes script(1)'s EOF (a NUL, or ^@ once echoctl is on) wherever it lands.
    t.match(r.stdout, /\/dev\/pts\/\d+\r?\n(?:\0|\^@)*both-tty/, 'output', why(r));
  });

  t.test('top', async (t) => {
    const r = cli('top', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /sleep 1000/, 'lists the process', why(r));
  });

  t.test('pause and unpause', async (t) => {
    let r = cli('pause', d1);
    t.equal(r.code, 0, 'pause exit code', why(r));
    t.equal(state(d1), 'paused');
    r = cli('unpause', d1);
    t.equal(r.code, 0, 'unpause exit code', why(r));
    t.equal(state(d1), 'running');
    r = cli('exec', d1, 'true');
    t.equal(r.code, 0, 'exec after unpause', why(r));
  });

  t.test('update: memory limit reaches the cgroup', async (t) => {
    const r = cli('update', '--memory', '64m', '--memory-swap', '128m', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    const id = inspect('{{.Id}}', d1);
    t.equal(read(`${c.cgroup('memory', id)}/memory.limit_in_bytes`), String(64 << 20), 'memory.limit_in_bytes', why(r));
  });

  t.test('stop: SIGTERM then SIGKILL', async (t) => {
    const r = cli('stop', '-t', '1', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(inspect('{{.State.Status}} {{.State.ExitCode}}', d1), 'exited 137');
  });

  t.test('restart: a stopped container runs again', async (t) => {
    const r = cli('restart', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    const x = cli('exec', d1, 'cat', '/proc/1/cmdline');
    t.equal(x.stdout, 'sleep\u00001000\u0000', 'the init runs', why(x));
  });

  t.test('restart: a running container', async (t) => {
    const pid = inspect('{{.State.Pid}}', d1);
    const r = cli('restart', '-t', '1', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    t.not(inspect('{{.State.Pid}}', d1), pid, 'a new init');
  });

  t.test('kill and wait', async (t) => {
    const r = cli('kill', '-s', 'KILL', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    const w = cli('wait', d1);
    t.equal(w.stdout.trim(), '137', 'exit status', why(w));
    t.equal(state(d1), 'exited');
  });

  t.test('rm -f: a running container', async (t) => {
    const name = c.name('rmf');
    let r = run('-d', '--name', name, c.image, 'sleep', '1000');
    t.equal(r.code, 0, 'run -d', why(r));
    const id = r.stdout.trim();
    r = cli('rm', '-f', name);
    t.equal(r.code, 0, 'rm -f', why(r));
    t.equal(cli('ps', '-aq', '--filter', `name=${name}`).stdout, '', 'gone from the engine');
    t.notOk(existsSync(c.cgroup('memory', id)), 'cgroup removed');
    r = cli('rm', '-f', d1);
    t.equal(r.code, 0, 'rm -f of a stopped one', why(r));
  });
}
