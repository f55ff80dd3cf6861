// Regression tests for the runtime CVE classes (design §6): each tries the
// attack and asserts it fails. Plus seccomp notify with a listener that
// answers a syscall for the container.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { Env, RUNTS, TEST_RUNTS, TOP, baseConfig } from './lib/harness';
import { sleep, withShim } from './lib/shim';
import { Supervisor } from './lib/supervisor';

// The escape races below run for up to 20-45 s each.
t.setTimeout(5 * 60 * 1000);

const sh = (script: string) => baseConfig(['sh', '-c', script]);
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Runs argv as root with every capability but CAP_SYS_PTRACE: more than the
 * container has, so only dumpability decides whether it may look inside. */
const noPtrace = (argv: string[]) => spawnSync('setpriv', ['--bounding-set=-sys_ptrace', '--inh-caps=-all', ...argv], { encoding: 'utf8' });

/** A copy of the shared busybox rootfs this test may change. */
function ownRootfs(env: Env): string {
  const shared = JSON.parse(readFileSync(join(env.bundle(baseConfig(['true'])), 'config.json'), 'utf8')).root.path;
  const dir = join(env.dir, `rootfs-${Math.random().toString(36).slice(2)}`);
  cpSync(shared, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

function bundleWith(env: Env, cfg: any, rootfs: string): string {
  const b = join(env.dir, `own-${Math.random().toString(36).slice(2)}`);
  mkdirSync(b);
  writeFileSync(join(b, 'config.json'), JSON.stringify({ ...cfg, root: { path: rootfs } }));
  return b;
}

t.test('the init is not dumpable until it execs', async (t) => {
  const env = new Env(t);
  const id = env.id();
  t.equal(env.runts(['create', '--bundle', env.bundle(baseConfig(['sleep', '60'])), id]).code, 0);
  const pid = env.state(id).pid;
  const before = noPtrace(['cat', `/proc/${pid}/exe`]);
  t.not(before.status, 0, 'a root process without CAP_SYS_PTRACE cannot open the waiting init\'s exe');
  t.match(before.stderr, /Permission denied/);
  t.equal(env.runts(['start', id]).code, 0);
  const after = noPtrace(['sh', '-c', `cat /proc/${pid}/exe > /dev/null`]);
  t.equal(after.status, 0, `after execve it can (so the check above means something): ${after.stderr}`);
});

t.test('the stage is non-dumpable from its first instructions, before the C library runs', { skip: process.arch !== 'x64' && 'the entry point is x86_64 assembly' }, async (t) => {
  const env = new Env(t);
  const tool = join(env.dir, 'dumpable-steps');
  const cc = spawnSync('cc', ['-O2', '-o', tool, join(TOP, 'test', 'lib', 'dumpable-steps.c')], { encoding: 'utf8' });
  t.equal(cc.status, 0, cc.stderr);
  const r = spawnSync(tool, [join(TOP, 'bindings', 'runts-stage')], { encoding: 'utf8' });
  const steps = Number(r.stdout);
  // mov, mov, xor, syscall: a prctl in main came after ~32000 instructions of the C library's start-up.
  t.ok(steps >= 1 && steps <= 4, `non-dumpable after ${r.stdout.trim()} instructions ${r.stderr}`);
});

t.test('CVE-2019-5736 class: the host binary the init runs cannot be reached through /proc/<pid>/exe from inside', async (t) => {
  const env = new Env(t);
  const id = env.id();
  t.equal(env.runts(['create', '--bundle', env.bundle(baseConfig(['sleep', '60'])), id]).code, 0);
  const pid = env.state(id).pid;
  // Without a user namespace the init execs the native stage rather than staying a fork of node, from a sealed memfd.
  t.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:runts-stage \(deleted\)$/, 'the waiting init is an image of the stage executable, in memory');
  t.equal(readFileSync(`/proc/${pid}/comm`, 'utf8'), 'runts-stage\n');
  const exe = `/proc/${pid}/exe`;
  const hash = sha(exe);
  // A second container in the first one's pid namespace: root inside, the default capabilities.
  const inside = (script: string) => {
    const cfg = sh(script);
    cfg.linux.namespaces = cfg.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : n));
    return env.run(cfg);
  };
  const attack = inside('cat /proc/1/exe > /dev/null && echo READ; echo x >> /proc/1/exe && echo WROTE; (exec 3</proc/1/exe) && echo OPENED; true');
  t.equal(attack.code, 0, attack.stderr);
  t.notMatch(attack.stdout, /READ|WROTE|OPENED/, 'no read, write or open of the init\'s /proc/1/exe');
  t.equal(sha(exe), hash, 'the stage binary is unchanged');
  // F_GET_SEALS: F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE.
  const seals = spawnSync('python3', ['-c', `import fcntl, os; print(fcntl.fcntl(os.open('${exe}', os.O_RDONLY), 1034))`], { encoding: 'utf8' });
  t.equal(seals.stdout, '15\n', `the copy is sealed against any change: ${seals.stderr}`);
  t.equal(env.runts(['start', id]).code, 0);
  t.match(inside('cat /proc/1/exe > /dev/null && echo READ').stdout, /READ/, 'once it has exec\'d, the same read works (so the check above means something)');
});

t.test('CVE-2021-30465 class: a mount destination through a symlink stays inside the rootfs', async (t) => {
  const env = new Env(t);
  const host = join(env.dir, 'host-target');
  mkdirSync(host);
  const rootfs = ownRootfs(env);
  // Relative and absolute links that would leave the rootfs if followed on the host.
  symlinkSync(`${'../'.repeat(12)}${host.slice(1)}`, join(rootfs, 'rel'));
  symlinkSync(host, join(rootfs, 'abs'));
  mkdirSync(join(rootfs, host), { recursive: true });
  const cfg = sh(`mount | grep -c " ${host}/\\(rel\\|abs\\) " ; ls ${host}`);
  cfg.mounts.push({ destination: '/rel/rel', type: 'tmpfs', source: 'tmpfs' }, { destination: '/abs/abs', type: 'tmpfs', source: 'tmpfs' });
  const id = env.id();
  const r = env.runts(['run', '--bundle', bundleWith(env, cfg, rootfs), id]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '2\nabs\nrel\n', 'both mounts landed on the link targets resolved inside the rootfs');
  t.same(readdirSync(host), [], 'nothing was created or mounted in the host directory');
});

t.test('CVE-2024-21626 class: no host fd reaches the process, and cwd cannot leave the rootfs', async (t) => {
  const env = new Env(t);
  const fds = env.run(sh('ls /proc/self/fd'));
  t.equal(fds.code, 0, fds.stderr);
  t.equal(fds.stdout, '0\n1\n2\n3\n', 'only stdio (and the fd ls opens to list them)');
  for (let n = 3; n < 24; n++) {
    const cfg = sh('pwd -P; readlink /proc/self/cwd');
    cfg.process.cwd = `/proc/self/fd/${n}`;
    const r = env.run(cfg);
    t.notMatch(r.stdout, /unreachable/, `cwd /proc/self/fd/${n} does not leave the root`);
    t.ok(r.code === 0 || /^runts: process\.cwd[^\n]*\n$/.test(r.stderr), `cwd /proc/self/fd/${n}: runs inside or fails naming process.cwd: ${r.stderr}`);
  }
});

// Runs argv under a seccomp filter that fails close_range with ENOSYS, as a
// kernel before 5.9 would, with /dev/null leaked as fd 9 (not close-on-exec).
const NO_CLOSE_RANGE = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
ins = lambda code, jt, jf, k: struct.pack('HBBI', code, jt, jf, k)
prog = (ins(0x20, 0, 0, 0)              # ld nr
        + ins(0x15, 0, 1, 436)          # jeq close_range
        + ins(0x06, 0, 0, 0x00050000 | 38)  # ret ERRNO(ENOSYS)
        + ins(0x06, 0, 0, 0x7fff0000))  # ret ALLOW
buf = ctypes.create_string_buffer(prog)
fprog = struct.pack('HxxxxxxQ', len(prog) // 8, ctypes.addressof(buf))
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0):
    sys.exit('seccomp: ' + os.strerror(ctypes.get_errno()))
os.dup2(os.open('/dev/null', os.O_RDONLY), 9)
os.execv(sys.argv[1], sys.argv[1:])
`;

t.test('without close_range, fds are marked close-on-exec through /proc/self/fd', async (t) => {
  const env = new Env(t);
  const cfg = sh('ls /proc/self/fd; grep ^Seccomp: /proc/self/status');
  const r = spawnSync('python3', ['-c', NO_CLOSE_RANGE, RUNTS, '--root', env.root, 'run', '--bundle', env.bundle(cfg), env.id()], { encoding: 'utf8', timeout: 30000 });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '0\n1\n2\n3\nSeccomp:\t2\n', 'only stdio (and the fd ls opens), under the inherited filter: neither fd 9 nor the runtime\'s');

  // Without a proc mount, the image's own /proc/self/fd would list nothing to mark.
  const rootfs = ownRootfs(env);
  mkdirSync(join(rootfs, 'proc', 'self', 'fd'), { recursive: true });
  const fake = sh('ls /proc/self/fd');
  fake.mounts = fake.mounts.filter((m: any) => m.destination !== '/proc');
  fake.linux.maskedPaths = [];
  fake.linux.readonlyPaths = [];
  const f = spawnSync('python3', ['-c', NO_CLOSE_RANGE, RUNTS, '--root', env.root, 'run', '--bundle', bundleWith(env, fake, rootfs), env.id()], { encoding: 'utf8', timeout: 30000 });
  t.equal(f.status, 1, `refused: ${f.stdout}`);
  t.match(f.stderr, /^runts: process: close inherited fds on exec: ENOTSUP[^\n]*\n$/, 'a /proc/self/fd that is not procfs is not trusted');
});

t.test('CVE-2024-21626 class: a directory fd passed with --preserve-fds cannot carry cwd out of the root', async (t) => {
  const env = new Env(t);
  const host = join(env.dir, 'host-dir');
  mkdirSync(host);
  const dirFd = openSync(host, 'r');
  t.teardown(() => closeSync(dirFd));
  const cfg = sh('pwd -P; ls');
  cfg.process.cwd = '/proc/self/fd/3';
  const r = spawnSync(join(__dirname, '..', 'bin', 'runts'), ['--root', env.root, 'run', '--preserve-fds', '1', '--bundle', env.bundle(cfg), env.id()], {
    stdio: ['ignore', 'pipe', 'pipe', dirFd],
    encoding: 'utf8',
  });
  t.equal(r.status, 1, `refused: ${r.stdout}`);
  t.match(r.stderr, /^runts: process\.cwd: [^\n]*\n$/, 'naming process.cwd');
});

t.test('CVE-2025-31133 class: maskedPaths never bind a /dev/null that is not the real device', async (t) => {
  const env = new Env(t);
  const fake = join(env.dir, 'fake-null');
  writeFileSync(fake, 'attacker controlled\n');
  const cfg = sh('cat /proc/kcore | head -c 10');
  cfg.mounts.push({ destination: '/dev/null', type: 'bind', source: fake, options: ['bind'] });
  const r = env.run(cfg);
  t.equal(r.code, 1, 'create refuses');
  t.match(r.stderr, /^runts: linux\.maskedPaths\[\d+\]: [^\n]*\/dev\/null[^\n]*\n$/, 'and says why, in one line');
});

t.test('no inheritable or ambient capabilities unless the config asks', async (t) => {
  const env = new Env(t);
  const r = env.run(sh('grep -E "^Cap(Inh|Amb)" /proc/self/status'));
  t.equal(r.stdout, 'CapInh:\t0000000000000000\nCapAmb:\t0000000000000000\n');
  const cfg = sh('grep -E "^Cap(Inh|Amb)" /proc/self/status');
  cfg.process.capabilities.inheritable = ['CAP_KILL'];
  cfg.process.capabilities.ambient = ['CAP_KILL'];
  const asked = env.run(cfg);
  t.equal(asked.stdout, 'CapInh:\t0000000000000020\nCapAmb:\t0000000000000020\n', 'CAP_KILL (bit 5) when asked');
});

t.test('process attributes seen from inside: oomScoreAdj, scheduler, ioPriority, personality, sysctl, devices, seccomp', async (t) => {
  const env = new Env(t);
  const hostForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const cfg = sh([
    'cat /proc/self/oom_score_adj',
    'cut -d" " -f19 /proc/self/stat',
    'cut -d" " -f41 /proc/self/stat',
    'ionice -p $$',
    'uname -m',
    'cat /proc/sys/net/ipv4/ip_forward',
    'stat -c "%t:%T %a %u:%g" /dev/full-too',
    'head -c 3 /dev/full-too | wc -c',
    'grep "^Seccomp:" /proc/self/status',
    'mkdir /tmp/x 2>&1 || true',
  ].join('; '));
  cfg.process.oomScoreAdj = 500;
  cfg.process.scheduler = { policy: 'SCHED_BATCH', nice: 5 };
  cfg.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
  cfg.linux.personality = { domain: 'LINUX32' };
  cfg.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  cfg.linux.devices = [{ path: '/dev/full-too', type: 'c', major: 1, minor: 7, fileMode: 0o644, uid: 1000, gid: 1000 }];
  cfg.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), [
    '500',
    '5',
    '3',
    'best-effort: prio 4',
    'i686',
    '1',
    '1:7 644 1000:1000',
    '3',
    'Seccomp:\t2',
    "mkdir: can't create directory '/tmp/x': Operation not permitted",
  ]);
  t.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), hostForward, "the host's own sysctl is untouched");
});

// struct seccomp_notif is 80 bytes, seccomp_notif_resp 24: _IOWR('!', 0|1, ...).
const AGENT = `
import json, socket, struct, sys, fcntl, array
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1]); srv.listen(1); print('ready', flush=True)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
state = json.loads(msg)
print('state', state['metadata'] if 'metadata' in state else '', state['state']['status'], flush=True)
req = bytearray(80)
fcntl.ioctl(fds[0], 0xc0502100, req)
nid, pid, flags, nr = struct.unpack_from('=QIIi', req)
print('nr', nr, flush=True)
fcntl.ioctl(fds[0], 0xc0182101, bytearray(struct.pack('=QqiI', nid, 0, 0, 0)))
print('answered', flush=True)
`;

t.test('seccomp notify: the listener gets the fd and state, and answers mkdir for the container', async (t) => {
  const env = new Env(t);
  const sock = join(env.dir, 'agent.sock');
  const agent = spawn('python3', ['-c', AGENT, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => agent.kill('SIGKILL'));
  let out = '';
  agent.stdout.on('data', (d) => (out += d));
  for (let i = 0; i < 500 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
  const cfg = sh('mkdir /notified && echo mkdir-ok; test -d /notified && echo exists || echo absent');
  cfg.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: sock,
    listenerMetadata: 'runts-test',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
  };
  const r = env.run(cfg);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'mkdir-ok\nabsent\n', 'the agent answered success without making the dir');
  for (let i = 0; i < 200 && !out.includes('answered'); i++) await new Promise((r) => setTimeout(r, 10));
  t.match(out, /state runts-test creating\n/, 'state with listenerMetadata came with the fd');
  t.match(out, /nr (83|258)\n/, 'the notification was for mkdir or mkdirat');
  t.notOk(existsSync(join(env.dir, 'notified')));
});

t.test('installed builds ignore RUNTS_STAGE_EXE, RUNTS_STAGE_LIB and RUNTS_FAULT', async (t) => {
  const env = new Env(t);
  const marker = join(env.dir, 'stage-replaced');
  const evil = join(env.dir, 'evil-stage');
  writeFileSync(evil, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  const steer: Record<string, string> = { RUNTS_STAGE_EXE: evil, RUNTS_STAGE_LIB: evil, RUNTS_FAULT: 'claimed' };
  const bundle = env.bundle(sh('echo ran'));
  const bins = [join(TOP, 'bin', 'runts'), ...(existsSync(join(TOP, 'dist', 'runts')) ? [join(TOP, 'dist', 'runts')] : [])];
  for (const bin of bins) {
    for (const [name, value] of Object.entries(steer)) {
      const r = spawnSync(bin, ['--root', env.root, 'run', '--bundle', bundle, env.id()], { encoding: 'utf8', env: { ...process.env, RUNTS_LIB_DIR: join(env.dir, 'lib'), [name]: value } });
      t.equal(r.status, 0, `${bin} with ${name} set: ${r.stderr}`);
      t.equal(r.stdout, 'ran\n', `${bin} with ${name} set runs the container`);
    }
  }
  t.notOk(existsSync(marker), 'the program named by RUNTS_STAGE_EXE never ran');

  // The shim, under a runtsd started with the same environment.
  const sup = new Supervisor(t);
  const saved = { ...process.env };
  Object.assign(process.env, steer);
  try {
    await sup.start();
  } finally {
    for (const name of Object.keys(steer)) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
  const id = `steer-${process.pid}`;
  sup.ids.add(id);
  const r = sup.ctl(['run', '--rm', '--name', id, bundle]);
  t.equal(r.code, 0, `runtsctl run through a shim started with them: ${r.stderr}`);
  t.equal(r.stdout, 'ran\n');
  t.notOk(existsSync(marker), 'nor did the shim run it');

  // The tests' own build still obeys RUNTS_FAULT (test/faults.test.ts relies on it).
  const f = spawnSync(TEST_RUNTS, ['--root', env.root, 'create', '--bundle', bundle, env.id()], { env: { ...process.env, RUNTS_FAULT: 'claimed' } });
  t.equal(f.signal, 'SIGKILL', 'test/.bin/runts dies at the chosen step');
});

// Reads the session keyring's description and searches it for the key "marker".
const KEY_PROBE = `
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>
int main(void) {
  char buf[512];
  long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, buf, sizeof buf - 1);
  if (n >= 0 && n < (long)sizeof buf) { buf[n] = 0; printf("session %s\\n", buf); }
  long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", "marker", 0);
  if (id < 0) { printf("no marker\\n"); return 0; }
  n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
  if (n >= 0 && n < (long)sizeof buf) { buf[n] = 0; printf("read %s\\n", buf); }
  return 0;
}
`;

/** A static key prober, and the command prefix that runs a program in a new session keyring holding a secret "marker". */
function keyringSetup(env: Env): { probeCfg: (args?: string[]) => any; secret: string; inSession: string[] } {
  const src = join(env.dir, 'keyprobe.c');
  const probe = join(env.dir, 'keyprobe');
  writeFileSync(src, KEY_PROBE);
  const cc = spawnSync('cc', ['-static', '-O2', '-o', probe, src], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);
  const secret = `secret-${process.pid}`;
  const probeCfg = (args = ['/keyprobe']) => {
    const cfg = baseConfig(args);
    cfg.mounts.push({ destination: '/keyprobe', type: 'bind', source: probe, options: ['bind', 'ro'] });
    return cfg;
  };
  const inSession = ['keyctl', 'session', '-', 'sh', '-c', `keyctl add user marker ${secret} @s >/dev/null && exec "$@"`, 'sh'];
  return { probeCfg, secret, inSession };
}

t.test("a container gets its own session keyring: the caller's keys stay out (CLI)", async (t) => {
  const env = new Env(t);
  const { probeCfg, secret, inSession } = keyringSetup(env);
  const run = (id: string, extra: string[]) => spawnSync(inSession[0]!, [...inSession.slice(1), RUNTS, '--root', env.root, 'run', ...extra, '--bundle', env.bundle(probeCfg()), id], { encoding: 'utf8' });

  const id = env.id();
  const r = run(id, []);
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stdout, secret, "the caller's key is not readable inside");
  t.match(r.stdout, new RegExp(`^session keyring;0;0;3f1b0000;_ses\\.${id}\\n`), 'its own keyring _ses.<id>: no permission for group or others, search for its owner');

  const kept = run(env.id(), ['--no-new-keyring']);
  t.equal(kept.status, 0, kept.stderr);
  t.match(kept.stdout, `read ${secret}\n`, "--no-new-keyring keeps the caller's (so the probe above can see a key)");

  // exec joins the container's keyring by name, or keeps the caller's with the container.
  for (const extra of [[], ['--no-new-keyring']]) {
    const xid = env.id();
    // A detached container keeps its stdio: a file, not a pipe to wait on.
    const errFile = join(env.dir, `${xid}.err`);
    const errFd = openSync(errFile, 'w');
    const c = spawnSync(inSession[0]!, [...inSession.slice(1), RUNTS, '--root', env.root, 'run', '-d', ...extra, '--bundle', env.bundle(probeCfg(['sleep', '60'])), xid], { stdio: ['ignore', 'ignore', errFd] });
    closeSync(errFd);
    t.equal(c.status, 0, readFileSync(errFile, 'utf8'));
    const x = spawnSync(inSession[0]!, [...inSession.slice(1), RUNTS, '--root', env.root, 'exec', xid, '/keyprobe'], { encoding: 'utf8' });
    t.equal(x.status, 0, x.stderr);
    if (extra.length === 0) {
      t.match(x.stdout, new RegExp(`^session keyring;0;0;3f1b0000;_ses\\.${xid}\\n`), "an exec joins the container's keyring");
      t.notMatch(x.stdout, secret, "and cannot read the exec caller's key");
    } else {
      t.match(x.stdout, `read ${secret}\n`, "with --no-new-keyring an exec keeps its caller's keyring too");
    }
    env.runts(['delete', '--force', xid]);
  }
});

t.test("a container gets its own session keyring: the shim's keys stay out (runtsd, runts-shim)", async (t) => {
  const env = new Env(t);
  const { probeCfg, secret, inSession } = keyringSetup(env);
  const sup = new Supervisor(t);
  await sup.start(inSession);
  const id = `keys-${process.pid}`;
  sup.ids.add(id);
  const r = sup.ctl(['run', '--rm', '--name', id, env.bundle(probeCfg())]);
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, secret, "the shim's key is not readable inside");
  t.match(r.stdout, new RegExp(`^session keyring;0;0;3f1b0000;_ses\\.${id}\\n`), 'its own keyring');
});

// Directories another user owns (issue 27 item 4): the attacker is a uid no
// account has, and owns a directory an operator pointed runtsd at.
const ATTACKER = 64123;
const asAttacker = (script: string) => spawnSync('setpriv', [`--reuid=${ATTACKER}`, `--regid=${ATTACKER}`, '--clear-groups', '/bin/sh', '-c', script], { encoding: 'utf8' });

/** A dir the attacker owns, in a root-owned dir everyone may enter, and a root-owned sibling. */
function attackerHome(t: { teardown(fn: () => void): void }): { base: string; home: string } {
  const base = mkdtempSync(join(tmpdir(), 'runts-attack-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  const home = join(base, 'home');
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, ATTACKER, ATTACKER);
  return { base, home };
}

const started = (sup: Supervisor) => sup.start().then(() => true, () => false);
// The refusal is one line; runtsd's own start and stop lines may frame it.
const REFUSED = (flag: string, dir: string) => new RegExp(`^(runtsd: starting: [^\\n]*\\n)?runtsd: ${flag} ${dir}: [^\\n]*owned by uid ${ATTACKER}[^\\n]*\\n(runtsd: stopped\\n)?$`);

t.test("another user's state dir is refused: a planted shims symlink cannot make runtsd delete its target", async (t) => {
  const { base, home } = attackerHome(t);
  const victim = join(base, 'victim');
  mkdirSync(join(victim, 'dir'), { recursive: true });
  writeFileSync(join(victim, 'precious'), 'root data\n');
  const state = join(home, 'state');
  const plant = asAttacker(`mkdir ${state} && ln -s ${victim} ${state}/shims`);
  t.equal(plant.status, 0, plant.stderr);
  const sup = new Supervisor(t, { state });
  const up = await started(sup);
  // What runtsd retires on start is removed in the background: give it time to.
  if (up) await sup.until(() => readdirSync(victim).length === 0, 3000);
  t.same(readdirSync(victim).sort(), ['dir', 'precious'], "the symlink's target is intact");
  t.notOk(up, 'runtsd refuses the state dir');
  t.match(sup.log(), REFUSED('--state-dir', state), 'in one line naming it and why');
});

t.test("another user's state dir is refused: a swapped shim dir cannot send a container's output into a root-owned file", async (t) => {
  const env = new Env(t);
  const { base, home } = attackerHome(t);
  const victim = join(base, 'root-owned');
  writeFileSync(victim, 'root data\n');
  const state = join(home, 'state');
  t.equal(asAttacker(`mkdir ${state}`).status, 0);
  const sup = new Supervisor(t, { state });
  const up = await started(sup);
  if (up) {
    // The warm shim's dir, swapped for the attacker's own, where the log of the next container is a symlink.
    await sup.until(() => sup.allShimDirs().some((d) => existsSync(join(d, 'task.sock'))));
    const warm = basename(sup.allShimDirs()[0]!);
    const id = `swap-${process.pid}`;
    sup.ids.add(id);
    const swap = asAttacker(`cd ${state} && mv shims shims.old && mkdir -p shims/${warm}/logs && ln -s ../../shims.old/${warm}/task.sock shims/${warm}/task.sock && ln -s ${victim} shims/${warm}/logs/${id}.log`);
    t.equal(swap.status, 0, swap.stderr);
    sup.ctl(['run', '--rm', '--name', id, env.bundle(sh(`echo PWNED-${process.pid}`))]);
  }
  t.equal(readFileSync(victim, 'utf8'), 'root data\n', 'the root-owned file is unchanged');
  t.notOk(up, 'runtsd refuses the state dir');
  t.match(sup.log(), REFUSED('--state-dir', state), 'in one line naming it and why');
});

// Takes over the socket path and keeps the first bytes a client sends.
const LISTENER = `
import os, socket, sys
addr, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(addr)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX)
s.bind(addr)
os.chmod(addr, 0o777)
s.listen(1)
print('ready', flush=True)
s.settimeout(15)
c, _ = s.accept()
c.settimeout(3)
open(out, 'wb').write(c.recv(4096))
`;

t.test("another user's socket dir is refused: a replaced socket never gets root's runtsctl handshake", async (t) => {
  const { home } = attackerHome(t);
  const address = join(home, 'runtsd.sock');
  const got = join(home, 'got');
  const sup = new Supervisor(t, { address });
  const up = await started(sup);
  const listener = spawn('setpriv', [`--reuid=${ATTACKER}`, `--regid=${ATTACKER}`, '--clear-groups', '/usr/bin/python3', '-c', LISTENER, address, got], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => listener.kill('SIGKILL'));
  let out = '';
  listener.stdout.on('data', (d) => (out += d));
  await sup.until(() => out.includes('ready'), 5000);
  const ctl = sup.ctl(['ps'], 10000);
  listener.kill('SIGKILL');
  t.notMatch(existsSync(got) ? readFileSync(got, 'latin1') : '', 'PRI * HTTP/2.0', "the attacker's listener got nothing from root's runtsctl");
  t.match(ctl.stderr, new RegExp(`^runtsctl: --address ${home}: is owned by uid ${ATTACKER}, not by uid 0\\n$`), 'runtsctl refuses in one line');
  t.notOk(up, 'runtsd refuses the socket dir');
  t.match(sup.log(), REFUSED('--address', home), 'in one line naming it and why');
});

t.test("runts and runts-shim refuse another user's directories too, in one line", async (t) => {
  const env = new Env(t);
  const { home } = attackerHome(t);
  const root = join(home, 'root');
  t.equal(asAttacker(`mkdir ${root}`).status, 0);
  const r = spawnSync(RUNTS, ['--root', root, 'run', '--bundle', env.bundle(sh('true')), env.id()], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`^runts: --root ${root}: [^\\n]*owned by uid ${ATTACKER}[^\\n]*\\n$`));
  t.same(readdirSync(root), [], 'nothing was written there');
  const list = spawnSync(RUNTS, ['--root', root, 'list'], { encoding: 'utf8' });
  t.match(list.stderr, /^runts: --root /, 'nor is state read from there');
  const shim = spawnSync(join(TOP, 'bin', 'runts-shim'), ['--address', join(home, 'task.sock'), '--dir', root], { encoding: 'utf8', timeout: 10000 });
  t.equal(shim.status, 1);
  t.match(shim.stderr, new RegExp(`^runts-shim: --dir ${root}: [^\\n]*owned by uid ${ATTACKER}[^\\n]*\\n$`));
  t.notOk(existsSync(join(home, 'task.sock')), 'the shim made no socket');
});

/** The host files a container must never be able to change: the stage, node, the single executable if built, and the runtime under test ($RUNTS: runc too). */
function hostBinaries(): Map<string, string> {
  const files = [join(TOP, 'bindings', 'runts-stage'), realpathSync(process.execPath), join(TOP, 'dist', 'runts'), realpathSync(RUNTS)].filter((f) => existsSync(f));
  return new Map(files.map((f) => [f, sha(f)]));
}

const changed = (before: Map<string, string>) => [...before].filter(([f, h]) => sha(f) !== h).map(([f]) => f);

/** A rootfs of our own with test/lib/racer.c built static into it as /racer. */
function racerRootfs(env: Env): string {
  const rootfs = ownRootfs(env);
  const cc = spawnSync('cc', ['-static', '-O2', '-o', join(rootfs, 'racer'), join(TOP, 'test', 'lib', 'racer.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc racer.c: ${cc.stderr}`);
  return rootfs;
}

/** Starts a container whose init is the racer; returns its id and a stop() that waits for the racer's log. */
async function startRacer(t: { equal: (a: unknown, b: unknown) => void }, env: Env, rootfs: string, args: string[], caps: string[] = []): Promise<{ id: string; stop: () => Promise<string> }> {
  const cfg = baseConfig(['/racer', ...args]);
  for (const set of ['bounding', 'effective', 'permitted']) cfg.process.capabilities[set].push(...caps);
  const id = env.id();
  t.equal(env.runts(['create', '--bundle', bundleWith(env, cfg, rootfs), id]).code, 0);
  t.equal(env.runts(['start', id]).code, 0);
  const log = join(rootfs, 'racer.log');
  for (let i = 0; i < 500 && !(existsSync(log) && readFileSync(log, 'utf8').includes('READY')); i++) await sleep(10);
  return {
    id,
    stop: async () => {
      writeFileSync(join(rootfs, 'stop'), '');
      // The racer may be waiting out a catch (3 s at most).
      for (let i = 0; i < 500 && !readFileSync(log, 'utf8').includes('DONE'); i++) await sleep(10);
      return readFileSync(log, 'utf8');
    },
  };
}

/** Runs attack() up to `tries` times or for `ms`, stopping early once a host binary changed. */
async function race(tries: number, ms: number, attack: () => Promise<void> | void): Promise<number> {
  const before = hostBinaries();
  const end = Date.now() + ms;
  let n = 0;
  while (n < tries && Date.now() < end && changed(before).length === 0) {
    await attack();
    n++;
  }
  return n;
}

const tries = (log: string, word: string) => log.split('\n').filter((l) => l.startsWith(`${word} `));

t.test('CVE-2019-5736 class: an exec of a #!/proc/self/exe script cannot overwrite a host binary', async (t) => {
  const env = new Env(t);
  const rootfs = racerRootfs(env);
  rmSync(join(rootfs, 'bin', 'sh'));
  writeFileSync(join(rootfs, 'bin', 'sh'), '#!/proc/self/exe\n', { mode: 0o755 });
  const before = hostBinaries();
  const { id, stop } = await startRacer(t, env, rootfs, ['exe', '/racer.log', '/stop']);
  const n = await race(40, 20000, async () => {
    env.runts(['exec', id, '/bin/sh']);
    await sleep(20);
  });
  const log = await stop();
  t.comment(`${n} execs; the racer caught ${tries(log, 'CAUGHT').length} exes (${tries(log, 'CAUGHT').join(', ')}), wrote ${tries(log, 'WROTE').length}`);
  t.same(tries(log, 'WROTE'), [], 'the racer wrote to no binary it caught');
  t.same(changed(before), [], 'the stage, node and the single executable are unchanged');
});

t.test('CVE-2019-5736 class: a container whose entrypoint is /proc/self/exe cannot overwrite a host binary', async (t) => {
  const env = new Env(t);
  const rootfs = racerRootfs(env);
  const before = hostBinaries();
  const { id, stop } = await startRacer(t, env, rootfs, ['exe', '/racer.log', '/stop']);
  const pid = env.state(id).pid;
  // In the racer's pid namespace, with the same capabilities as the racer.
  const cfg = baseConfig(['/proc/self/exe']);
  cfg.linux.namespaces = cfg.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : n));
  const bundle = env.bundle(cfg);
  const n = await race(30, 20000, () => {
    env.runts(['run', '--bundle', bundle, env.id()]);
  });
  const log = await stop();
  t.comment(`${n} runs; the racer caught ${tries(log, 'CAUGHT').length} exes (${tries(log, 'CAUGHT').join(', ')}), wrote ${tries(log, 'WROTE').length}`);
  t.same(tries(log, 'WROTE'), [], 'the racer wrote to no binary it caught');
  t.same(changed(before), [], 'the stage, node and the single executable are unchanged');
});

t.test('CVE-2019-5736 class: an exec through runts-shim of a #!/proc/self/exe script cannot overwrite a host binary', async (t) => {
  const { env, s } = await withShim(t);
  const rootfs = racerRootfs(env);
  rmSync(join(rootfs, 'bin', 'sh'));
  writeFileSync(join(rootfs, 'bin', 'sh'), '#!/proc/self/exe\n', { mode: 0o755 });
  const before = hostBinaries();
  const id = env.id();
  await s.call('Create', { id, bundle: bundleWith(env, baseConfig(['/racer', 'exe', '/racer.log', '/stop']), rootfs), start: true });
  const log = join(rootfs, 'racer.log');
  for (let i = 0; i < 500 && !(existsSync(log) && readFileSync(log, 'utf8').includes('READY')); i++) await sleep(10);
  const proc = baseConfig(['/bin/sh']).process;
  let k = 0;
  const n = await race(30, 20000, async () => {
    const execId = `e${++k}`;
    await s.call('Exec', { id, execId, specJson: JSON.stringify(proc) });
    await s.call('Start', { id, execId }).catch(() => undefined);
    await s.call('Wait', { id, execId }).catch(() => undefined);
    await sleep(20);
  });
  writeFileSync(join(rootfs, 'stop'), '');
  for (let i = 0; i < 500 && !readFileSync(log, 'utf8').includes('DONE'); i++) await sleep(10);
  const out = readFileSync(log, 'utf8');
  t.comment(`${n} execs; the racer caught ${tries(out, 'CAUGHT').length} exes (${tries(out, 'CAUGHT').join(', ')}), wrote ${tries(out, 'WROTE').length}`);
  t.same(tries(out, 'WROTE'), [], 'the racer wrote to no binary it caught');
  t.same(changed(before), [], 'the stage, node and the single executable are unchanged');
  // The racer may have exited by now.
  await s.call('Kill', { id, signal: 9 }).catch(() => undefined);
  await s.call('Wait', { id });
  await s.call('Delete', { id });
});

t.test('exec: a CAP_SYS_PTRACE container never reaches the host through /proc/N/root or /proc/N/cwd of what runts runs', async (t) => {
  const env = new Env(t);
  const rootfs = racerRootfs(env);
  const marker = join(env.dir, 'host-marker');
  writeFileSync(marker, 'host\n');
  const { id, stop } = await startRacer(t, env, rootfs, ['root', '/racer.log', '/stop', marker.slice(1), relative(process.cwd(), marker)], ['CAP_SYS_PTRACE']);
  let failed = 0;
  const n = await race(50, 45000, () => {
    if (env.runts(['exec', id, 'true']).code !== 0) failed++;
  });
  const log = await stop();
  t.equal(failed, 0, 'every exec ran');
  t.comment(`${n} execs; the racer read ${tries(log, 'READ').length} times`);
  t.same(tries(log, 'READ'), [], 'no host file read through a process of the exec');
});

t.test('the stage reports a plan it refuses (EBADMSG and the step) instead of exiting silently', async (t) => {
  const stage = spawn(join(TOP, 'bindings', 'runts-stage'), ['3'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const sock = stage.stdio[3] as import('node:net').Socket;
  const reply: Buffer[] = [];
  sock.on('data', (d: Buffer) => reply.push(d));
  const exited = new Promise<number | null>((res) => stage.once('exit', res));
  // A good header with one op whose string points past the data.
  const plan = Buffer.alloc(32 + 56 + 8);
  plan.writeUInt32LE(0x53544e52, 0);
  plan.writeUInt32LE(1, 4);
  plan.writeUInt32LE(1, 8);
  plan.writeUInt32LE(32, 12);
  plan.writeInt32LE(3, 16);
  plan.writeUInt32LE(32 + 56, 20);
  plan.writeUInt32LE(8, 24);
  plan.writeInt32LE(-1, 28);
  plan.writeUInt32LE(4 /* OP_SETHOSTNAME */, 32);
  plan.writeBigInt64LE(4096n, 40);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(plan.length);
  sock.write(Buffer.concat([len, plan.subarray(0, 32 + 56)]));
  t.equal(await exited, 1);
  const msg = Buffer.concat(reply);
  t.equal(msg.length, 16, 'one message');
  t.same([msg.readUInt32LE(0), msg.readUInt32LE(4), msg.readInt32LE(8)], [2 /* MSG_ERROR */, 0, 74 /* EBADMSG */], 'an error at step 0: EBADMSG');
});

t.test('a cached stage memfd whose fd number was closed and reused is never exec\'d', async (t) => {
  const env = new Env(t);
  const { LinuxSys } = require('@runts/sys');
  const { encodePlan } = require('../packages/runtime/src/plan/encode');
  const sys = new LinuxSys();
  // A child that waits at a SYNC that is never answered: no namespace, nothing done to the host.
  const waitingExe = () => {
    const [parent, child] = sys.socketpair();
    const { pid, pidfd } = sys.spawn(encodePlan([{ op: 'SYNC', args: [1], path: 'p', what: 'wait' }], child, 64, parent), 0n);
    sys.close(child);
    try {
      sys.recvMsg(parent, 16);
      return readlinkSync(`/proc/${pid}/exe`);
    } finally {
      sys.pidfdSendSignal(pidfd, 9);
      while (!sys.tryWaitPidfd(pidfd));
      sys.close(pidfd);
      sys.close(parent);
    }
  };
  t.match(waitingExe(), /^\/memfd:runts-stage /);
  const memfd = readdirSync('/proc/self/fd').find((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:runts-stage');
    } catch {
      return false;
    }
  });
  t.ok(memfd, 'the copy is cached as an fd of this process');
  const copy = join(env.dir, 'stage-copy');
  cpSync(join(TOP, 'bindings', 'runts-stage'), copy);
  closeSync(Number(memfd));
  // Opened until the number comes back (a lower one may be free).
  const opened: number[] = [];
  t.teardown(() => opened.forEach((fd) => closeSync(fd)));
  while (opened.length < 1000 && opened[opened.length - 1] !== Number(memfd)) opened.push(openSync(copy, 'r'));
  t.equal(opened[opened.length - 1], Number(memfd), 'its number now names a writable file');
  t.match(waitingExe(), /^\/memfd:runts-stage /, 'a new sealed copy was made and exec\'d, not the file');
});

t.test('--preserve-fds N with fewer fds passed hands the container only the caller\'s, never Node\'s epoll, io_uring or pipes', async (t) => {
  const env = new Env(t);
  const passed = join(env.dir, 'passed');
  writeFileSync(passed, 'mine');
  const bundle = env.bundle(sh('for f in /proc/self/fd/*; do echo "${f##*/} $(readlink $f)"; done'));
  const out = join(env.dir, 'out');
  const fds = [openSync(out, 'w'), openSync(passed, 'r')];
  try {
    const r = spawnSync(RUNTS, ['--root', env.root, 'run', '--preserve-fds', '12', '--bundle', bundle, env.id()], { stdio: ['ignore', fds[0]!, 'pipe', fds[1]!], encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
  const links = new Map(readFileSync(out, 'utf8').trim().split('\n').map((l) => [Number(l.split(' ')[0]), l.split(' ').slice(1).join(' ')] as const));
  t.equal(links.get(3), passed, 'the fd the caller passed is there');
  const leaked = [...links].filter(([fd, l]) => fd > 2 && (l.startsWith('anon_inode:') || l.startsWith('pipe:')));
  t.same(leaked, [], 'none of runts\' own');
});
