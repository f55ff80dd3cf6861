// Integration tests: real busybox containers run by bin/runts (needs root).
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync, chmodSync, chownSync, symlinkSync, utimesSync } from 'node:fs';
import { execSync, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Env, RUNTS, baseConfig } from './lib/harness';

const sh = (script: string) => baseConfig(['sh', '-c', script]);

t.test('run: output, exit codes and signals', async (t) => {
  const env = new Env(t);
  const ok = env.run(sh('echo hello'));
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout, 'hello\n');
  t.equal(env.run(sh('exit 42')).code, 42);
  t.equal(env.run(sh('kill -TERM $$; exit 3')).code, 3, 'pid 1 ignores a SIGTERM it has no handler for');
  t.same(execSync('ls ' + env.root).toString().trim(), '', 'run deletes the container after it exits');
});

t.test('run in the foreground: a signal from outside gives 128+signal', async (t) => {
  const env = new Env(t);
  const id = env.id();
  const child = env.spawnRunts(['run', '--bundle', env.bundle(sh('sleep 60')), id]);
  const code = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  for (let i = 0; i < 500 && env.runts(['state', id]).stdout.indexOf('"running"') < 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(env.runts(['kill', id, 'KILL']).code, 0);
  t.equal(await code, 137);
});

t.test('namespaces isolate the container', async (t) => {
  const env = new Env(t);
  const r = env.run(sh('echo pid=$$; hostname; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; for n in ipc mnt uts net; do readlink /proc/self/ns/$n; done'));
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], 'pid=1', 'pid namespace: the process is PID 1');
  t.equal(lines[1], 'runts-test', 'uts namespace: own hostname');
  t.equal(lines[2], 'lo', 'network namespace: loopback only');
  for (const [i, ns] of ['ipc', 'mnt', 'uts', 'net'].entries()) {
    t.not(lines[3 + i], readlinkSync(`/proc/self/ns/${ns}`), `own ${ns} namespace`);
  }
  t.equal(hostname(), execSync('hostname').toString().trim(), 'host hostname untouched');
});

t.test('joining a namespace by path', async (t) => {
  const env = new Env(t);
  const a = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(sh('sleep 30')), a]).code, 0);
  const pid = env.state(a).pid as number;
  const cfg = sh('readlink /proc/self/ns/net; readlink /proc/self/ns/uts');
  cfg.linux.namespaces = cfg.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: `/proc/${pid}/ns/net` } : n));
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  const [net, uts] = r.stdout.trim().split('\n');
  t.equal(net, readlinkSync(`/proc/${pid}/ns/net`), 'joined the first container\'s network namespace');
  t.not(uts, readlinkSync(`/proc/${pid}/ns/uts`), 'kept its own uts namespace');
});

t.test('rootfs: /proc, devices, symlinks, masked and read-only paths', async (t) => {
  const env = new Env(t);
  const r = env.run(sh([
    'stat -c "%t:%T %a" /dev/null',
    'readlink /dev/fd',
    'echo x > /dev/null && echo null-ok',
    'wc -c < /proc/keys',
    'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-rw || echo sys-ro',
    'head -c 4 /dev/zero | wc -c',
    'grep -c " /dev/pts " /proc/self/mounts',
  ].join('; ')));
  t.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split('\n');
  t.equal(out[0], '1:3 666', '/dev/null is char 1:3 mode 0666');
  t.equal(out[1], '/proc/self/fd');
  t.equal(out[2], 'null-ok');
  t.equal(out[3], '0', '/proc/keys is masked');
  t.equal(out[4], 'sys-ro', '/proc/sys is read-only');
  t.equal(out[5], '4');
  t.equal(out[6], '1', 'devpts mounted');
});

t.test('root.readonly and bind mounts with options', async (t) => {
  const env = new Env(t);
  const host = join(env.dir, 'shared');
  mkdirSync(host);
  writeFileSync(join(host, 'from-host'), 'hi\n');
  const cfg = sh('cat /data/from-host; touch /data/new && echo data-rw; touch /ro/x 2>/dev/null || echo ro-ok; touch /rootfile 2>/dev/null || echo root-ro');
  cfg.root.readonly = true;
  cfg.mounts.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'rw'] });
  cfg.mounts.push({ destination: '/ro', type: 'bind', source: host, options: ['bind', 'ro'] });
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hi\ndata-rw\nro-ok\nroot-ro\n');
  t.ok(existsSync(join(host, 'new')), 'write through the bind mount reached the host');
});

// podman run --read-only mounts /tmp, /var/tmp and /run this way.
t.test("tmpcopyup: a tmpfs over a directory starts with the directory's contents", async (t) => {
  const env = new Env(t);
  const host = join(env.dir, 'tree');
  mkdirSync(join(host, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(host, 'file'), 'content\n');
  chmodSync(join(host, 'file'), 0o640);
  chownSync(join(host, 'file'), 0, 1001);
  chownSync(join(host, 'sub'), 1000, 1001);
  writeFileSync(join(host, 'sub', 'deeper', 'x'), 'deep\n');
  chmodSync(join(host, 'sub'), 0o711);
  symlinkSync('/etc/passwd', join(host, 'link'));
  execSync(`mkfifo ${join(host, 'fifo')}`);
  utimesSync(join(host, 'file'), 1000000, 1000000);
  const cfg = sh([
    'grep " /data " /proc/self/mounts | tail -n 1 | cut -d" " -f3',
    'cd /data && stat -c "%n %a %u:%g %F" file sub link fifo && stat -c %Y file',
    'cat file sub/deeper/x; readlink link',
    'echo new > /data/file && cat /data/file',
    'touch /ro/y 2>/dev/null || echo ro-ok; cat /ro/file',
  ].join('; '));
  cfg.mounts.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro'] });
  cfg.mounts.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid', 'mode=755'] });
  cfg.mounts.push({ destination: '/ro', type: 'bind', source: host, options: ['rbind', 'ro'] });
  cfg.mounts.push({ destination: '/ro', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'ro'] });
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), [
    'tmpfs',
    'file 640 0:1001 regular file', 'sub 711 1000:1001 directory', 'link 777 0:0 symbolic link', 'fifo 644 0:0 fifo',
    '1000000',
    'content', 'deep', '/etc/passwd',
    'new',
    'ro-ok', 'content',
  ]);
  t.equal(readFileSync(join(host, 'file'), 'utf8'), 'content\n', 'the writes stayed in the tmpfs');
});

t.test('process: env, cwd, user, groups, umask, rlimits', async (t) => {
  const env = new Env(t);
  const cfg = sh('echo $GREETING; pwd; id -u; id -g; id -G; umask; ulimit -n');
  cfg.process.env.push('GREETING=hello world');
  cfg.process.cwd = '/tmp';
  cfg.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 };
  cfg.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), ['hello world', '/tmp', '1000', '1000', '1000 10 20', '0027', '321']);
});

t.test('capabilities and no_new_privs', async (t) => {
  const env = new Env(t);
  const r = env.run(sh('grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status'));
  t.equal(r.code, 0, r.stderr);
  // AUDIT_WRITE 29, KILL 5, NET_BIND_SERVICE 10, SYS_ADMIN 21, SETUID 7, SETGID 6
  const mask = ((1n << 29n) | (1n << 5n) | (1n << 10n) | (1n << 21n) | (1n << 7n) | (1n << 6n)).toString(16).padStart(16, '0');
  t.match(r.stdout, new RegExp(`CapEff:\\s+${mask}`));
  t.match(r.stdout, new RegExp(`CapBnd:\\s+${mask}`));
  t.match(r.stdout, /NoNewPrivs:\s+1/);
});

t.test('lifecycle: create, start, state, kill, delete', async (t) => {
  const env = new Env(t);
  const id = env.id();
  const pidFile = join(env.dir, 'init.pid');
  const b = env.bundle(sh('sleep 30'));
  const c = env.runts(['create', '--bundle', b, '--pid-file', pidFile, id]);
  t.equal(c.code, 0, c.stderr);
  const created = env.state(id);
  t.equal(created.status, 'created');
  t.equal(created.id, id);
  t.equal(created.bundle, b);
  t.type(created.pid, 'number');
  t.equal(readFileSync(pidFile, 'utf8'), String(created.pid), 'pid file holds the pid without a newline');
  t.match(readFileSync(`/proc/${created.pid}/cmdline`, 'utf8'), /^\S+/, 'init waits before exec');

  t.equal(env.runts(['create', '--bundle', b, id]).code, 1, 'create with an existing id fails');
  t.equal(env.runts(['start', id]).code, 0);
  t.equal(env.state(id).status, 'running');
  t.match(readFileSync(`/proc/${created.pid}/cmdline`, 'utf8'), /^sleep\0/);
  const again = env.runts(['start', id]);
  t.not(again.code, 0, 'start twice fails');
  const del = env.runts(['delete', id]);
  t.not(del.code, 0, 'delete of a running container without --force fails');
  t.match(del.stderr, /not stopped/);

  const list = env.runts(['list', '--format', 'json']);
  t.same(JSON.parse(list.stdout).map((s: any) => s.id), [id]);
  t.equal(env.runts(['list', '-q']).stdout, `${id}\n`);

  t.equal(env.runts(['kill', id, 'KILL']).code, 0);
  for (let i = 0; i < 200 && env.state(id).status !== 'stopped'; i++) execSync('sleep 0.01');
  t.equal(env.state(id).status, 'stopped');
  const late = env.runts(['kill', id, 'TERM']);
  t.not(late.code, 0, 'kill of a stopped container fails');
  t.equal(late.stderr, 'runts: container not running\n', "runc's words, which containerd's runc shim matches");
  t.equal(env.runts(['delete', id]).code, 0);
  t.not(env.runts(['state', id]).code, 0, 'state of a deleted container fails');
  t.notOk(existsSync(join(env.root, id)));
});

// Engines match some of these words (packages/runtime/src/wording.ts): containerd's
// CRI sends one more kill after an exit, and takes only "container not running"
// or "no such process" for "already gone".
t.test("errors in runc's words, side by side with runc", async (t) => {
  const env = new Env(t);
  const runcRoot = join(env.dir, 'runc');
  type Run = (args: string[], stdio?: 'pipe' | 'ignore') => { code: number; stdout: string; stderr: string };
  const runc: Run = (args, stdio = 'pipe') => {
    const r = spawnSync('/usr/sbin/runc', ['--root', runcRoot, ...args], { stdio: ['ignore', stdio, stdio], encoding: 'utf8', timeout: 30000 });
    return { code: r.status ?? 137, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  t.teardown(() => {
    for (const id of existsSync(runcRoot) ? readdirSync(runcRoot) : []) runc(['delete', '--force', id]);
  });
  // The message alone: runc prints `time=… level=error msg="…"`, runts `runts: …`.
  const words = (stderr: string) => /msg="([^"]*)"/.exec(stderr)?.[1] ?? stderr.replace(/^runts: /, '').trim();
  const steps = (run: Run, id: string, b: string) => {
    const out: string[] = [];
    const say = (args: string[]) => {
      const r = run(args);
      out.push(`${args[0]}: ${r.code === 0 ? 'ok' : words(r.stderr).replace(id, 'ID')}`);
    };
    say(['kill', `${id}-missing`, 'KILL']);
    t.equal(run(['run', '-d', '--bundle', b, id], 'ignore').code, 0, 'run -d');
    say(['start', id]);
    say(['delete', id]);
    say(['resume', id]);
    t.equal(run(['exec', id, 'kill', '-USR1', '1'], 'ignore').code, 0, 'exec tells the init to exit');
    for (let i = 0; i < 500 && !/"stopped"/.test(run(['state', id]).stdout); i++) execSync('sleep 0.01');
    say(['kill', id, 'KILL']);
    say(['kill', '--all', id, 'KILL']);
    say(['pause', id]);
    say(['start', id]);
    say(['delete', id]);
    return out;
  };
  // The init exits on its own, as a CRI container does before the plugin's last kill.
  const b = env.bundle(sh('trap "exit 0" USR1; while :; do sleep 0.1; done'));
  const ours = steps((args) => env.runts(args), env.id(), b);
  const theirs = steps(runc, env.id('runc'), b);
  t.same(ours, theirs, 'runts says what runc says');
  t.match(ours[4], /^kill: .*container not running/, 'kill after the exit: containerd takes it as already gone');
  t.same(ours, ['kill: container does not exist', 'start: cannot start an already running container', 'delete: cannot delete container ID that is not stopped: running', 'resume: container not paused', 'kill: container not running', 'kill: ok', 'pause: container not running', 'start: cannot start a container that has stopped', 'delete: ok']);
});

t.test('exec: joins the container, passes its own flags, returns its exit code', async (t) => {
  const env = new Env(t);
  const id = env.id();
  const cfg = sh('sleep 60');
  cfg.hostname = 'inside';
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(cfg), id]).code, 0);
  const e = env.runts(['exec', '-e', 'X=1', '--cwd', '/tmp', id, 'sh', '-c', 'echo $X $(pwd) $(hostname) $$; ls -d /proc/1']);
  t.equal(e.code, 0, e.stderr);
  t.match(e.stdout, /^1 \/tmp inside \d+\n\/proc\/1\n$/);
  t.not(e.stdout.split(' ')[3], '1', 'exec is not the init');
  t.equal(env.runts(['exec', id, 'sh', '-c', 'exit 5']).code, 5);
  t.equal(env.runts(['exec', '-u', '1000:1000', id, 'id', '-u']).stdout, '1000\n');
  const pidFile = join(env.dir, 'exec.pid');
  t.equal(env.runts(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30']).code, 0);
  t.match(readFileSync(pidFile, 'utf8'), /^\d+$/);
  const bad = env.runts(['exec', id, 'no-such-binary']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /^runts: [^\n]*no-such-binary[^\n]*\n$/);
});

t.test('delete --force of a running container', async (t) => {
  const env = new Env(t);
  const id = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(sh('sleep 60')), id]).code, 0);
  const pid = env.state(id).pid;
  const r = env.runts(['delete', '--force', id]);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), 'init killed');
  t.notOk(existsSync(join(env.root, id)));
  // Engines clean up after a failed create this way; runc exits 0, silently.
  const gone = env.runts(['delete', '--force', id]);
  t.same([gone.code, gone.stderr], [0, ''], 'delete --force of a container that does not exist');
  t.not(env.runts(['delete', id]).code, 0, 'without --force it is an error');
});

t.test('hooks run in order with the state on stdin', async (t) => {
  const env = new Env(t);
  const log = join(env.dir, 'hooks.log');
  const hook = join(env.dir, 'hook.sh');
  // A slow startContainer hook: poststart must still wait for it (and the exec after it).
  writeFileSync(hook, `#!/bin/sh\nstate=$(cat)\n[ "$1" = startContainer ] && sleep 0.3\necho "$1 $(echo "$state" | grep -o '"status":"[a-z]*"')" >> ${log}\n`);
  chmodSync(hook, 0o755);
  const cfg = sh(`echo main >> ${log}`);
  // The log path must exist inside the container too: bind the test dir at the same path.
  cfg.mounts.push({ destination: env.dir, type: 'bind', source: env.dir, options: ['rbind'] });
  const kinds = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
  cfg.hooks = Object.fromEntries(kinds.map((k) => [k, [{ path: hook, args: ['hook', k] }]]));
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  t.same(lines.filter((l) => l !== 'main').map((l) => l.split(' ')[0]), kinds, 'the six hooks ran in the spec order');
  t.match(lines.join('\n'), /prestart "status":"created"/);
  t.match(lines.join('\n'), /poststop "status":"stopped"/);
});

t.test('a failing hook fails create and leaves nothing behind', async (t) => {
  const env = new Env(t);
  const cfg = sh('true');
  cfg.hooks = { createRuntime: [{ path: '/bin/false' }] };
  const id = env.id();
  const r = env.runts(['create', '--bundle', env.bundle(cfg), id]);
  t.not(r.code, 0);
  t.match(r.stderr, /hooks\.createRuntime\[0\]/);
  t.notOk(existsSync(join(env.root, id)), 'no state dir');
});

// The seccomp filter and startContainer hooks come after create has returned:
// start (or exec) reports their failure, naming the step, and the init is gone.
t.test('a step after the exec fifo that fails is reported by start and by exec', async (t) => {
  const env = new Env(t);
  const cfg = sh('sleep 10');
  cfg.process.noNewPrivileges = false;
  // The kernel refuses this flag without a listener: EINVAL from seccomp().
  cfg.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const id = env.id();
  t.equal(env.runts(['create', '--bundle', env.bundle(cfg), id]).code, 0, 'create succeeds: the filter is not loaded yet');
  const exec = env.runts(['exec', id, 'true']);
  t.equal(exec.code, 1);
  t.equal(exec.stderr, 'runts: linux.seccomp: load the seccomp filter: EINVAL (invalid argument)\n', 'exec says which step failed');
  const start = env.runts(['start', id]);
  t.equal(start.code, 1);
  t.equal(start.stderr, 'runts: linux.seccomp: load the seccomp filter: EINVAL (invalid argument)\n', 'start says which step failed');
  t.equal(env.state(id).status, 'stopped');

  const hooked = sh('true');
  hooked.hooks = { startContainer: [{ path: '/bin/false' }] };
  const run = env.run(hooked);
  t.equal(run.code, 1);
  t.equal(run.stderr, 'runts: hooks.startContainer[0]: hook /bin/false exited with status 1\n', 'a failed startContainer hook fails start (runtime.md "start")');
});

t.test('bad configs: one line naming the JSON path, nothing left behind', async (t) => {
  const env = new Env(t);
  const cases: [string, (c: any) => void, RegExp][] = [
    ['empty args', (c) => (c.process.args = []), /process\.args/],
    ['missing bind source', (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/nonexistent-runts', options: ['bind'] }), /mounts\[6\]/],
    ['unknown executable', (c) => (c.process.args = ['no-such-binary']), /^runts: process\.args\[0\]: exec "no-such-binary": executable file not found in \$PATH$/m],
    // docker turns these words into exit codes 127 and 126.
    ['missing executable path', (c) => (c.process.args = ['/no/such/binary']), /process\.args\[0\]: exec "\/no\/such\/binary": no such file or directory/],
    ['file that is not executable', (c) => (c.process.args = ['/etc/passwd']), /process\.args\[0\]: exec "\/etc\/passwd": permission denied/],
    ['bad cwd', (c) => (c.process.cwd = '/no/such/dir'), /process\.cwd/],
    ['unknown namespace', (c) => c.linux.namespaces.push({ type: 'bogus' }), /linux\.namespaces\[5\]/],
    ['AppArmor profile, no AppArmor', (c) => (c.process.apparmorProfile = 'runts-default'), /process\.apparmorProfile: AppArmor is not enabled/],
    ['SELinux label, no SELinux', (c) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0'), /process\.selinuxLabel: .*SELinux is disabled/],
  ];
  for (const [name, patch, re] of cases) {
    const cfg = sh('true');
    patch(cfg);
    const id = env.id();
    const r = env.runts(['create', '--bundle', env.bundle(cfg), id]);
    t.not(r.code, 0, `${name}: fails`);
    t.match(r.stderr, re, `${name}: names the path`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    t.notMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    t.notOk(existsSync(join(env.root, id)), `${name}: no state dir`);
  }
  const out = execSync(`grep -c ${env.dir} /proc/self/mountinfo || true`).toString().trim();
  t.equal(out, '0', 'no mounts left on the host');
});

t.test('--log --log-format json writes exactly one JSON line per failure', async (t) => {
  const env = new Env(t);
  const logFile = join(env.dir, 'log.json');
  const cfg = sh('true');
  cfg.process.args = [];
  const r = env.runts(['--log', logFile, '--log-format', 'json', 'create', '--bundle', env.bundle(cfg), env.id()]);
  t.not(r.code, 0);
  const lines = readFileSync(logFile, 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  t.equal(rec.level, 'error');
  t.match(rec.msg, /process\.args/);
  t.ok(!Number.isNaN(Date.parse(rec.time)));
});

t.test('--debug: the log gets each setup step with its time, one JSON line each', async (t) => {
  const env = new Env(t);
  const logFile = join(env.dir, 'debug.json');
  const id = env.id();
  const r = env.runts(['--log', logFile, '--log-format', 'json', '--debug', 'run', '--bundle', env.bundle(sh('true')), id]);
  t.same([r.code, r.stderr], [0, ''], 'with --log, stderr stays quiet');
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.ok(lines.every((l) => l.level === 'debug' && typeof l.ms === 'number' && typeof l.msg === 'string'), 'level, msg and ms on every line');
  t.ok(lines.every((l, i) => i === 0 || l.ms >= lines[i - 1].ms), 'ms grows');
  const msgs = lines.map((l) => l.msg as string);
  for (const step of [/^runts /, /config\.json read/, /cgroups .* ready/, /plan op \d+: mount proc on \/proc \(mounts\[0\]\)/, /init cloned, pid \d+/, /init at plan op \d+\/\d+ .*: sync/, /created; init \d+ waits/, /init took the go/, /the process runs/, /^delete /, /^run: done, exit status 0$/]) {
    t.ok(msgs.some((m) => step.test(m)), `a line for ${step}`);
  }
  // Without --debug a run that succeeds writes nothing.
  const quiet = join(env.dir, 'quiet.json');
  t.equal(env.runts(['--log', quiet, 'run', '--bundle', env.bundle(sh('true')), env.id()]).code, 0);
  t.notOk(existsSync(quiet));
});

// script(1) gives runts a real terminal; runts holds the container's pty and relays it, as runc.
t.test('run -t and exec -t from a terminal: a pty of its size from the start, resized on SIGWINCH', async (t) => {
  const env = new Env(t);
  const onPty = (cmd: string) => spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'], input: '' }).stdout;
  const runts = `${RUNTS} --root ${env.root}`;
  const tty = sh('stty size; tty; exit 3');
  tty.process.terminal = true;
  const out = onPty(`stty rows 33 cols 77; ${runts} run --bundle ${env.bundle(tty)} ${env.id()}; echo "rc=$?"`);
  t.match(out, /^(?:\0|\^@)*33 77\r+\n/, "run -t: the terminal's size before the process starts");
  t.match(out, /\/dev\/pts\/\d+\r+\n/, 'stdin is a tty');
  t.match(out, /rc=3/, 'exit code');

  const winch = { ...tty, process: { ...tty.process, args: ['sh', '-c', 'sleep 2; stty size'] } };
  const w = onPty(`stty rows 33 cols 77; ${runts} run --bundle ${env.bundle(winch)} ${env.id()} & sleep 1; stty rows 40 cols 90; kill -WINCH $!; wait $!`);
  t.match(w, /40 90/, 'resized on SIGWINCH');

  const bg = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(sh('sleep 1000')), bg]).code, 0);
  const ex = onPty(`stty rows 20 cols 60; ${runts} exec -t ${bg} sh -c 'stty size; tty; exit 6'; echo "rc=$?"`);
  t.match(ex, /^(?:\0|\^@)*20 60\r+\n/, "exec -t without --console-socket: the terminal's size from the start");
  t.match(ex, /\/dev\/pts\/\d+\r+\n/, 'exec -t: stdin is a tty');
  t.match(ex, /rc=6/, 'exec -t: its exit code');
  const detached = env.runts(['exec', '-t', '-d', bg, 'true']);
  t.not(detached.code, 0);
  t.match(detached.stderr, /console.socket/, 'a detached exec with a terminal still needs a console socket, as in runc');
});

t.test('an init that dies during setup is reported with its wait status and its last step', async (t) => {
  const env = new Env(t);
  const cfg = baseConfig(['true']);
  // A createRuntime hook gets the init's pid on stdin and kills it mid-setup.
  cfg.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'kill -9 $(sed \'s/.*"pid":\\([0-9]*\\).*/\\1/\')'] }] };
  const id = env.id();
  const r = env.runts(['create', '--bundle', env.bundle(cfg), id]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^runts: container init was killed by signal 9 \(SIGKILL\) during setup, after step \d+ of \d+ \(hooks: run prestart and createRuntime hooks\), without reporting an error\n$/);
  t.same(env.runts(['list', '-q']).stdout, '', 'no container left');
});
