// The cgroup v2 cases, run inside the test VM (test/v2/stage2.sh) against runts
// and runc side by side; every value is read back from the cgroup files. Prints
// TAP, and tap's summary line for .ci/run. Plain JavaScript: no loader to start
// under an emulated CPU.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = process.argv[2];
const CG = '/sys/fs/cgroup';
const MiB = 1 << 20;
const RUNTIMES = { runts: join(repo, 'bin/runts'), runc: '/usr/sbin/runc' };
const work = '/tmp/v2';
const rootfs = join(work, 'rootfs');
let n = 0;
let failed = 0;

function ok(cond, name, diag) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond && diag !== undefined) for (const l of String(typeof diag === 'string' ? diag : JSON.stringify(diag)).split('\n')) console.log(`  # ${l}`);
}
const same = (got, want, name) => ok(JSON.stringify(got) === JSON.stringify(want), name, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
const comment = (s) => console.log(`# ${s}`);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const read = (dir, file) => readFileSync(join(dir, file), 'utf8').trim();
const tryRead = (dir, file) => {
  try {
    return read(dir, file);
  } catch (e) {
    return `(${e.code})`;
  }
};

/** Output goes to files: a detached container must not hold our pipes. */
let seq = 0;
function exec(cmd, args, opts = {}) {
  const out = join(work, `out-${++seq}`);
  const err = join(work, `err-${seq}`);
  const fds = [openSync(out, 'w'), openSync(err, 'w')];
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', fds[0], fds[1]], timeout: 120000, ...opts });
    return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}

function rt(name, args, opts) {
  return exec(RUNTIMES[name], ['--root', join(work, `state-${name}`), ...args], opts);
}

function baseConfig(args, extra = {}) {
  const c = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: { bounding: ['CAP_KILL', 'CAP_SETUID', 'CAP_SETGID'], effective: ['CAP_KILL', 'CAP_SETUID', 'CAP_SETGID'], permitted: ['CAP_KILL', 'CAP_SETUID', 'CAP_SETGID'] },
      noNewPrivileges: true,
    },
    root: { path: rootfs },
    hostname: 'v2',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }], resources: {}, ...extra },
  };
  return c;
}

let bundles = 0;
function bundle(config, owner) {
  const b = join(work, `bundle-${++bundles}`);
  mkdirSync(b, { recursive: true });
  writeFileSync(join(b, 'config.json'), JSON.stringify(config));
  if (owner !== undefined) {
    chownSync(b, owner, owner);
    chownSync(join(b, 'config.json'), owner, owner);
  }
  return b;
}

/** The cgroup directory of a live process, from /proc/<pid>/cgroup. */
function cgroupOf(pid) {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return join(CG, line.slice(3));
}
function statePid(name, id) {
  const r = rt(name, ['state', id]);
  return r.code === 0 ? JSON.parse(r.stdout) : { status: `state failed: ${r.stderr.trim()}`, pid: 0 };
}
function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    sleep(50);
  }
  return true;
}
const weight = (shares) => Math.floor(1 + ((shares - 2) * 9999) / 262142);
let ids = 0;
const newId = (name, what) => `${name}-${what}-${++ids}`;
/** run -d; returns the init's cgroup dir, or '' (and a failed check) when the run failed. */
function runDetached(name, id, config, what) {
  const r = rt(name, ['run', '-d', '--bundle', bundle(config), id]);
  ok(r.code === 0, `${name}: ${what}: run -d`, r.stderr);
  if (r.code !== 0) return '';
  return cgroupOf(statePid(name, id).pid);
}
function deleteGone(name, id, dir, what) {
  const d = rt(name, ['delete', '--force', id]);
  ok(d.code === 0 && !existsSync(dir), `${name}: ${what}: delete removes ${dir}`, d.stderr);
}

function setupRootfs() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) mkdirSync(join(rootfs, d));
  chmodSync(work, 0o755);
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'cat', 'sleep', 'tail', 'grep', 'echo', 'ls', 'true', 'head']) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
}

const cases = {
  seed(name) {
    // k8s: request 0.5 core -> shares 512; limit 1.5 cores -> 150000 per 100000; 32 MiB; 64 pids. A nested path the runtime creates.
    const id = newId(name, 'seed');
    const dir = runDetached(name, id, baseConfig(['sleep', '600'], { cgroupsPath: `/v2test-${name}/pod/${id}`, resources: { cpu: { shares: 512, quota: 150000, period: 100000 }, memory: { limit: 32 * MiB }, pids: { limit: 64 } } }), 'seed mapping');
    if (!dir) return;
    const got = { dir, 'cpu.weight': tryRead(dir, 'cpu.weight'), 'cpu.max': tryRead(dir, 'cpu.max'), 'memory.max': tryRead(dir, 'memory.max'), 'pids.max': tryRead(dir, 'pids.max') };
    same(got, { dir: `${CG}/v2test-${name}/pod/${id}`, 'cpu.weight': String(weight(512)), 'cpu.max': '150000 100000', 'memory.max': String(32 * MiB), 'pids.max': '64' }, `${name}: seed mapping on a nested cgroupsPath: 0.5 core -> cpu.weight ${weight(512)}, 1.5 cores -> "150000 100000", 32 MiB, 64 pids`);
    deleteGone(name, id, dir, 'seed');
  },
  defaultParent(name) {
    const id = newId(name, 'default');
    const dir = runDetached(name, id, baseConfig(['sleep', '600'], { resources: { memory: { limit: 16 * MiB }, pids: { limit: 20 } } }), 'no cgroupsPath');
    if (!dir) return;
    same([tryRead(dir, 'memory.max'), tryRead(dir, 'pids.max')], [String(16 * MiB), '20'], `${name}: no cgroupsPath: limits land in the default parent (${dir})`);
    deleteGone(name, id, dir, 'no cgroupsPath');
  },
  oom(name) {
    const limits = { memory: { limit: 32 * MiB, swap: 32 * MiB } };
    const r = rt(name, ['run', '--bundle', bundle(baseConfig(['tail', '/dev/zero'], { cgroupsPath: `/v2test-${name}/oom-fg`, resources: limits })), newId(name, 'oomfg')]);
    ok(r.code === 137, `${name}: OOM: tail /dev/zero under 32 MiB exits 137 (got ${r.code})`, r.stderr);
    // The container allocates only once events runs (its first stats line): events reads its baseline at start.
    const id = newId(name, 'oom');
    const gate = join(work, `gate-${id}`);
    mkdirSync(gate);
    const c = baseConfig(['sh', '-c', 'while [ ! -e /gate/go ]; do sleep 0.1; done; exec tail /dev/zero'], { cgroupsPath: `/v2test-${name}/oom/${id}`, resources: limits });
    c.mounts.push({ destination: '/gate', type: 'bind', source: gate, options: ['rbind', 'ro'] });
    const dir = runDetached(name, id, c, 'OOM');
    if (!dir) return;
    const evOut = join(work, `events-${id}`);
    const fd = openSync(evOut, 'w');
    const ev = spawn(RUNTIMES[name], ['--root', join(work, `state-${name}`), 'events', '--interval', '1s', id], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    ok(waitFor(() => readFileSync(evOut, 'utf8').includes('"stats"'), 30000), `${name}: OOM: events is up (a stats line)`, readFileSync(evOut, 'utf8'));
    writeFileSync(join(gate, 'go'), '');
    const stopped = waitFor(() => statePid(name, id).status === 'stopped', 60000);
    ok(stopped, `${name}: OOM: the container stops`);
    const memEvents = tryRead(dir, 'memory.events');
    const kills = Number(/^oom_kill (\d+)$/m.exec(memEvents)?.[1] ?? 0);
    ok(kills >= 1, `${name}: OOM: memory.events counts oom_kill ${kills}`, memEvents);
    waitFor(() => ev.exitCode !== null || readFileSync(evOut, 'utf8').includes('"oom"'), 10000);
    if (ev.exitCode === null) ev.kill('SIGKILL');
    const lines = readFileSync(evOut, 'utf8').trim().split('\n').filter(Boolean);
    ok(lines.some((l) => /"type":"oom"/.test(l)), `${name}: OOM: events reports an oom event`, lines.join('\n') || '(no output)');
    deleteGone(name, id, dir, 'OOM');
  },
  cgroupns(name) {
    // Inside: a cgroup namespace, the container's own cgroup mounted at /sys/fs/cgroup, its cpuset.
    const c = baseConfig(['sh', '-c', 'cat /proc/self/cgroup /sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max; grep Cpus_allowed_list /proc/self/status'], {
      cgroupsPath: `/v2test-${name}/ns`,
      resources: { cpu: { cpus: '1', mems: '0', quota: 20000, period: 100000 }, pids: { limit: 32 } },
    });
    c.linux.namespaces.push({ type: 'cgroup' });
    c.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
    const r = rt(name, ['run', '--bundle', bundle(c), newId(name, 'ns')]);
    same(r.stdout.trim().split('\n'), ['0::/', '1', '20000 100000', '32', 'Cpus_allowed_list:\t1'], `${name}: cgroup namespace: the container sees itself at "/" and its own cpuset.cpus, cpu.max, pids.max; it runs on cpu 1 only${r.code ? ` (exit ${r.code}: ${r.stderr.trim()})` : ''}`);
  },
  forkBomb(name) {
    const id = newId(name, 'bomb');
    const dir = runDetached(name, id, baseConfig(['sh', '-c', 'b() { b | b & }; b; sleep 1000'], { cgroupsPath: `/v2test-${name}/bomb`, resources: { pids: { limit: 64 }, cpu: { quota: 50000, period: 100000 } } }), 'fork bomb');
    if (!dir) return;
    const hit = waitFor(() => /^max [1-9]/m.test(tryRead(dir, 'pids.events')), 60000);
    const current = Number(tryRead(dir, 'pids.current'));
    ok(hit && current <= 64, `${name}: fork bomb: pids.max 64 holds (pids.current ${current}, pids.events "${tryRead(dir, 'pids.events')}")`);
    ok(spawnSync('/bin/true').status === 0, `${name}: fork bomb: the host still forks`);
    // Frozen first: kill --all must get through the freezer (cgroup.kill does).
    const p = rt(name, ['pause', id]);
    const k = rt(name, ['kill', '--all', id, 'KILL']);
    const empty = waitFor(() => tryRead(dir, 'cgroup.procs') === '', 30000);
    ok(p.code === 0 && k.code === 0 && empty, `${name}: kill --all on the paused bomb empties the cgroup`, `${p.stderr}${k.stderr} procs: ${tryRead(dir, 'cgroup.procs').split('\n').length}`);
    deleteGone(name, id, dir, 'fork bomb');
  },
  devices(name) {
    // Deny all; /dev/ttyS0 (4:64) read-only; /dev/ttyS1 (4:65) exists but is not allowed.
    const c = baseConfig(
      ['sh', '-c', '(: < /dev/ttyS0) && echo read-ok; (: > /dev/ttyS0) 2>&1 | grep -q "not permitted" && echo write-denied; (: < /dev/ttyS1) 2>&1 | grep -q "not permitted" && echo open-denied; echo x > /dev/null && echo null-ok'],
      {
        cgroupsPath: `/v2test-${name}/dev`,
        devices: [
          { path: '/dev/ttyS0', type: 'c', major: 4, minor: 64, fileMode: 0o666, uid: 0, gid: 0 },
          { path: '/dev/ttyS1', type: 'c', major: 4, minor: 65, fileMode: 0o666, uid: 0, gid: 0 },
        ],
        resources: { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 4, minor: 64, access: 'r' }] },
      },
    );
    const r = rt(name, ['run', '--bundle', bundle(c), newId(name, 'dev')]);
    same(r.stdout.trim().split('\n'), ['read-ok', 'write-denied', 'open-denied', 'null-ok'], `${name}: device eBPF program: read-only open allowed, write open and an unlisted device denied, /dev/null usable${r.code ? ` (exit ${r.code}: ${r.stderr.trim()})` : ''}`);
  },
  unified(name) {
    const id = newId(name, 'unified');
    const dir = runDetached(name, id, baseConfig(['sleep', '600'], { cgroupsPath: `/v2test-${name}/unified`, resources: { unified: { 'memory.high': String(20 * MiB), 'pids.max': '20', 'cpu.weight': '300' } } }), 'unified');
    if (!dir) return;
    same([tryRead(dir, 'memory.high'), tryRead(dir, 'pids.max'), tryRead(dir, 'cpu.weight')], [String(20 * MiB), '20', '300'], `${name}: unified keys written as given (memory.high, pids.max, cpu.weight)`);
    deleteGone(name, id, dir, 'unified');
  },
  lifecycle(name) {
    // update, pause/resume through cgroup.freeze, events --stats, then delete.
    const id = newId(name, 'life');
    const dir = runDetached(name, id, baseConfig(['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 600'], { cgroupsPath: `/v2test-${name}/life/${id}`, resources: { memory: { limit: 32 * MiB }, cpu: { quota: 100000, period: 100000 } } }), 'lifecycle');
    if (!dir) return;
    const u = rt(name, ['update', '--memory', '64m', '--cpu-quota', '50000', '--pids-limit', '10', id]);
    same([u.code, tryRead(dir, 'memory.max'), tryRead(dir, 'cpu.max'), tryRead(dir, 'pids.max')], [0, String(64 * MiB), '50000 100000', '10'], `${name}: update: memory.max, cpu.max, pids.max${u.code ? ` (${u.stderr.trim()})` : ''}`);
    const p = rt(name, ['pause', id]);
    same([p.code, tryRead(dir, 'cgroup.freeze'), /^frozen 1$/m.test(tryRead(dir, 'cgroup.events')), statePid(name, id).status], [0, '1', true, 'paused'], `${name}: pause: cgroup.freeze 1, cgroup.events frozen 1, status paused`);
    const r = rt(name, ['resume', id]);
    same([r.code, tryRead(dir, 'cgroup.freeze'), /^frozen 0$/m.test(tryRead(dir, 'cgroup.events')), statePid(name, id).status], [0, '0', true, 'running'], `${name}: resume: cgroup.freeze 0, frozen 0, status running`);
    const s = rt(name, ['events', '--stats', id]);
    let e = {};
    try {
      e = JSON.parse(s.stdout.trim().split('\n')[0]);
    } catch {}
    const d = e.data ?? {};
    const got = { type: e.type, memLimit: d.memory?.usage?.limit, memUsage: (d.memory?.usage?.usage ?? 0) > 0, pids: d.pids, cpu: (d.cpu?.usage?.total ?? 0) > 0, anon: typeof d.memory?.raw?.anon };
    same(got, { type: 'stats', memLimit: 64 * MiB, memUsage: true, pids: { current: 1, limit: 10 }, cpu: true, anon: 'number' }, `${name}: events --stats: v2 memory (limit from memory.max, raw memory.stat), pids, cpu usage`);
        const parent = `${CG}/v2test-${name}/life`;
    const del = rt(name, ['delete', '--force', id]);
    const left = existsSync(parent) ? readdirSync(parent, { withFileTypes: true }).filter((x) => x.isDirectory()).map((x) => x.name) : [];
    ok(del.code === 0 && !existsSync(dir) && left.length === 0 && statePid(name, id).pid === 0, `${name}: delete removes the cgroup and the state`, `${del.stderr} left: ${left}`);
  },
  rootless(name) {
    // A delegated subtree, as systemd makes one: the user owns v2user (and its procs/subtree_control), its shell sits in a leaf.
    const uid = 1000; // v2user in the VM's /etc/passwd
    const home = join(work, `home-${name}`);
    mkdirSync(home, { recursive: true });
    chownSync(home, uid, uid);
    const deleg = `${CG}/v2user-${name}`;
    mkdirSync(`${deleg}/shell`, { recursive: true });
    for (const p of [deleg, `${deleg}/cgroup.procs`, `${deleg}/cgroup.subtree_control`, `${deleg}/cgroup.threads`, `${deleg}/shell`, `${deleg}/shell/cgroup.procs`]) chownSync(p, uid, uid);
    const env = { PATH: '/usr/sbin:/usr/bin', HOME: home, XDG_RUNTIME_DIR: home };
    // Moving into the subtree takes root (the source cgroup is the root's); then su to the user.
    // (su would take the runtime's flags as its own: the command goes through the environment, no spaces in it.)
    const asUser = (args) => exec('/bin/sh', ['-c', `echo $$ > ${deleg}/shell/cgroup.procs && exec busybox su -m -s /bin/sh v2user -c 'exec $V2_ARGV'`], { env: { ...env, V2_ARGV: [RUNTIMES[name], '--root', join(home, 'state'), ...args].join(' ') }, cwd: home });
    const sp = asUser(['spec', '--rootless', '--bundle', home]);
    if (!(sp.code === 0)) return ok(false, `${name}: rootless: spec --rootless`, sp.stderr);
    const spec = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    const config = (cgroupsPath, args) => {
      const c = structuredClone(spec);
      c.root = { path: rootfs, readonly: true };
      c.process.args = args;
      c.process.terminal = false;
      c.linux.cgroupsPath = cgroupsPath;
      c.linux.resources = { memory: { limit: 32 * MiB }, pids: { limit: 16 } };
      return c;
    };
    const id = newId(name, 'rootless');
    const r = asUser(['run', '-d', '--bundle', bundle(config(`/v2user-${name}/${id}`, ['sleep', '600']), uid), id]);
    const dir = `${deleg}/${id}`;
    same([r.code, tryRead(dir, 'memory.max'), tryRead(dir, 'pids.max')], [0, String(32 * MiB), '16'], `${name}: rootless in a delegated subtree: limits land${r.code ? ` (${r.stderr.trim()})` : ''}`);
    const d = asUser(['delete', '--force', id]);
    ok(d.code === 0 && !existsSync(dir), `${name}: rootless: delete removes ${dir}`, d.stderr);
    const out = asUser(['run', '--bundle', bundle(config(`/elsewhere-${name}/${id}`, ['true']), uid), `${id}x`]);
    ok(out.code !== 0 && out.stderr.includes(`${CG}/elsewhere-${name}`), `${name}: rootless: limits outside the delegated subtree are refused, naming the path`, `exit ${out.code}: ${out.stderr.trim()}`);
    comment(`${name} outside the subtree: exit ${out.code}: ${out.stderr.trim().split('\n').pop()}`);
  },
};

function shim() {
  const t0 = Date.now();
  // runtsd and its shim on v2: runtsctl run with limits, stats through the shim. No warm shim:
  // its boot would only compete for the emulated CPU with the one the run starts.
  const dir = join(work, 'runtsd');
  mkdirSync(dir);
  const address = join(dir, 'runtsd.sock');
  const log = openSync(join(dir, 'runtsd.log'), 'w');
  const d = spawn(join(repo, 'bin/runtsd'), ['--address', address, '--state-dir', join(dir, 'state'), '--warm-shims', '0'], { stdio: ['ignore', log, log], env: { ...process.env, RUNTSD_SHIM_TIMEOUT_MS: '90000' } });
  closeSync(log);
  const ctl = (args) => exec(join(repo, 'bin/runtsctl'), ['--address', address, ...args]);
  try {
    // Polled through the file, not runtsctl: each runtsctl is a node start, and the CPU is emulated.
    const up = waitFor(() => existsSync(address), 120000) && ctl(['ps']).code === 0;
    if (!up) return ok(false, 'shim: runtsd starts', readFileSync(join(dir, 'runtsd.log'), 'utf8'));
    comment(`runtsd up: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const b = bundle(baseConfig(['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 600'], { resources: { memory: { limit: 48 * MiB }, pids: { limit: 30 }, cpu: { quota: 50000, period: 100000 } } }));
    const r = exec(join(repo, 'bin/runtsctl'), ['--address', address, 'run', b, '--name', 'shimv2', '-d'], { timeout: 180000 });
    comment(`run -d done: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    ok(r.code === 0, 'runts-shim: runtsctl run -d with limits', `${r.stderr}runtsd.log: ${readFileSync(join(dir, 'runtsd.log'), 'utf8').slice(-1500)}`);
    const ins = ctl(['inspect', 'shimv2']);
    let pid = 0;
    try {
      const j = JSON.parse(ins.stdout);
      pid = (Array.isArray(j) ? j[0] : j).pid;
    } catch {}
    const cg = pid ? cgroupOf(pid) : '';
    same(cg ? [tryRead(cg, 'memory.max'), tryRead(cg, 'pids.max'), tryRead(cg, 'cpu.max')] : ins.stdout, [String(48 * MiB), '30', '50000 100000'], `runts-shim: the limits are in the container's cgroup (${cg})`);
    const s = ctl(['stats', 'shimv2']);
    let st = {};
    try {
      st = JSON.parse(s.stdout);
    } catch {}
    const flat = JSON.stringify(st);
    ok(s.code === 0 && flat.includes(String(48 * MiB)) && /"pids":\{[^}]*"limit":30/.test(flat), 'runts-shim: runtsctl stats shows the v2 memory limit and pids', `${s.stderr} ${flat.slice(0, 600)}`);
    comment(`stats done: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const rm = ctl(['rm', '-f', 'shimv2']);
    ok(rm.code === 0 && (!cg || !existsSync(cg)), 'runts-shim: rm -f removes the container and its cgroup', rm.stderr);
  } finally {
    d.kill('SIGKILL');
  }
}

function containerdShim() {
  // containerd (Debian's 1.6) with containerd-shim-runts-v1 on v2: ctr decodes the shim's
  // cgroup v2 Metrics and prints them; ctr task ps shows an exec's ProcessDetails.
  const ctd = spawnSync('containerd', ['--version']);
  if (ctd.error) return console.log(`ok ${++n} - containerd-shim: ctr task metrics on v2 # SKIP no containerd`);
  const dir = join(work, 'containerd');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  symlinkSync(join(repo, 'bin/containerd-shim-runts-v1'), join(dir, 'bin/containerd-shim-runts-v1'));
  const sock = join(dir, 'containerd.sock');
  writeFileSync(join(dir, 'config.toml'), [
    'version = 2', `root = "${dir}/root"`, 'state = "/run/containerd"',
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.overlayfs"]',
    '[grpc]', `  address = "${sock}"`, '[ttrpc]', `  address = "${sock}.ttrpc"`, '[plugins."io.containerd.internal.v1.opt"]', `  path = "${dir}/opt"`, '',
  ].join('\n'));
  const log = openSync(join(dir, 'containerd.log'), 'w');
  const d = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log], env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
  closeSync(log);
  const ctr = (args) => exec('ctr', ['--address', sock, '-n', 'v2', ...args]);
  const logTail = () => readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-1500);
  try {
    if (!waitFor(() => existsSync(sock), 60000)) return ok(false, 'containerd-shim: containerd starts', logTail());
    // A rootfs of our own (no image to import), read-only as ctr leaves it.
    const r = ctr(['run', '-d', '--runtime', 'io.containerd.runts.v1', '--memory-limit', String(48 * MiB), '--rootfs', rootfs, 'c1', 'sleep', '600']);
    if (r.code !== 0) return ok(false, 'containerd-shim: ctr run -d', `${r.stderr}${logTail()}`);
    const m = ctr(['task', 'metrics', 'c1']);
    const v = Object.fromEntries(m.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2));
    same([m.code, v['pids.current'], v['memory.usage_limit'], Number(v['memory.usage']) > 0, 'cpu.usage_usec' in v], [0, '1', String(48 * MiB), true, true],
      'containerd-shim: ctr task metrics prints the v2 table (pids.current, memory.usage_limit, memory.usage, cpu.usage_usec)');
    const x = ctr(['task', 'exec', '-d', '--exec-id', 'x1', 'c1', 'sleep', '600']);
    const ps = ctr(['task', 'ps', 'c1']);
    ok(x.code === 0 && /^\d+\s+&ProcessDetails\{ExecID:x1,/m.test(ps.stdout), 'containerd-shim: ctr task ps shows the exec\'s ProcessDetails', `${x.stderr}${ps.stdout}${ps.stderr}`);
    ctr(['task', 'kill', '-a', '-s', 'SIGKILL', 'c1']);
    waitFor(() => /\sSTOPPED\s*$/m.test(ctr(['task', 'ls']).stdout), 30000);
    const del = ctr(['task', 'delete', 'c1']);
    ok(del.code === 0, 'containerd-shim: task delete', del.stderr);
    ctr(['container', 'delete', 'c1']);
  } finally {
    d.kill('SIGKILL');
  }
}

setupRootfs();
const only = (process.env.V2_CASES ?? '').split(',').filter(Boolean);
const names = Object.keys(cases).filter((c) => only.length === 0 || only.includes(c));
console.log('TAP version 14');
const t0 = Date.now();
for (const c of names) {
  for (const name of Object.keys(RUNTIMES)) {
    const t = Date.now();
    try {
      cases[c](name);
    } catch (e) {
      ok(false, `${name}: ${c} threw`, e.stack);
    }
    comment(`${name} ${c}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}
if (only.length === 0 || only.includes('shim')) {
  const t = Date.now();
  try {
    shim();
  } catch (e) {
    ok(false, 'shim threw', e.stack);
  }
  comment(`shim: ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
if (only.length === 0 || only.includes('containerdShim')) {
  const t = Date.now();
  try {
    containerdShim();
  } catch (e) {
    ok(false, 'containerd-shim threw', e.stack);
  }
  comment(`containerd-shim: ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
console.log(`1..${n}`);
comment(`cases: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`# { total: ${n}, pass: ${n - failed}, fail: ${failed} }`);
process.exitCode = failed ? 1 : 0;
