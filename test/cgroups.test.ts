// Cgroups end to end (needs root): the seed mapping, OOM, a fork bomb, update,
// pause/resume, kill --all, ps and events, on real busybox containers. Every
// container gets its own absolute cgroupsPath; nothing else is touched.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { detectMode, realFs, v1Hierarchies, deviceProgram, attachDeviceProgram } from '../packages/cgroups/src/index';
import { LinuxSys } from '../packages/sys/src/index';
import { Env, TEST_RUNTS, baseConfig } from './lib/harness';

const MODE = detectMode(realFs);
const HIERARCHIES = MODE === 'v2' ? [] : v1Hierarchies(readFileSync('/proc/self/mountinfo', 'utf8'));

/** Host directory of cgroup `path` in the hierarchy holding `controller`. */
function dir(controller: string, path: string): string {
  const h = HIERARCHIES.find((x) => x.controllers.includes(controller));
  if (!h) throw new Error(`no ${controller} hierarchy`);
  return join(h.mountpoint, path);
}
const read = (controller: string, path: string, file: string) => readFileSync(join(dir(controller, path), file), 'utf8').trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A unique absolute cgroup path, and a teardown that removes what is left of it (empty dirs only). */
function cgPath(t: { teardown(fn: () => void): void }): string {
  const p = `/runts-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  t.teardown(() => {
    for (const h of HIERARCHIES) {
      const d = join(h.mountpoint, p);
      try {
        if (existsSync(d)) rmdirSync(d);
      } catch {
        /* still busy: delete --force in the Env teardown got it, or it is reported by the test */
      }
    }
  });
  return p;
}

function config(args: string[], path: string, resources: object): any {
  const c = baseConfig(args);
  c.linux.cgroupsPath = path;
  c.linux.resources = resources;
  return c;
}

async function waitFor(what: string, cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const MiB = 1 << 20;
const opts = { skip: MODE === 'v2' ? 'these checks read v1 files; this host is cgroup v2' : false };

t.test('seed mapping: 0.5 core request, 1.5 core limit, 32 MiB, 64 pids', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  // k8s: request 0.5 core → shares 0.5·1024; limit 1.5 cores → quota 1.5·100000 per 100 ms.
  const r = env.runts(['run', '-d', '--bundle', env.bundle(config(['sleep', '60'], path, { cpu: { shares: 512, quota: 150000, period: 100000 }, memory: { limit: 32 * MiB }, pids: { limit: 64 } })), id]);
  t.equal(r.code, 0, r.stderr);
  const got = {
    'cpu.shares': read('cpu', path, 'cpu.shares'),
    'cpu.cfs_quota_us': read('cpu', path, 'cpu.cfs_quota_us'),
    'cpu.cfs_period_us': read('cpu', path, 'cpu.cfs_period_us'),
    'memory.limit_in_bytes': read('memory', path, 'memory.limit_in_bytes'),
    'pids.max': read('pids', path, 'pids.max'),
  };
  t.same(got, { 'cpu.shares': '512', 'cpu.cfs_quota_us': '150000', 'cpu.cfs_period_us': '100000', 'memory.limit_in_bytes': String(32 * MiB), 'pids.max': '64' });
  t.comment(`read back: ${JSON.stringify(got)}`);
  const pid = env.state(id).pid;
  t.ok(read('memory', path, 'cgroup.procs').split('\n').includes(String(pid)), 'the init is in the memory cgroup');
  t.equal(env.runts(['delete', '--force', id]).code, 0);
  t.notOk(existsSync(dir('memory', path)), 'delete removed the cgroup');
});

t.test('OOM: a process allocating past 32 MiB is killed (137) and events reports it', opts, async (t) => {
  const env = new Env(t);
  const limits = { memory: { limit: 32 * MiB, swap: 32 * MiB } };
  // tail keeps the whole "line" of /dev/zero in memory: it allocates until killed.
  const run = env.run(config(['tail', '/dev/zero'], cgPath(t), limits));
  t.equal(run.code, 137, `run exits 128+SIGKILL (${run.stderr.trim()})`);

  const path = cgPath(t);
  const id = env.id();
  const r = env.runts(['run', '-d', '--bundle', env.bundle(config(['sh', '-c', 'sleep 2; exec tail /dev/zero'], path, limits)), id]);
  t.equal(r.code, 0, r.stderr);
  const events = env.spawnRunts(['events', '--interval', '1h', id]);
  let out = '';
  events.stdout.on('data', (d) => (out += d));
  events.stderr.on('data', (d) => (out += d));
  const code = await Promise.race([new Promise<number | null>((res) => events.on('exit', (c) => res(c))), sleep(20000).then(() => 'timeout' as const)]);
  if (code === 'timeout') events.kill('SIGKILL');
  t.equal(code, 0, 'events exits by itself once the container is gone');
  const lines = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // One event per kill the kernel counted, however many notifications v1 sent.
  const kills = Number(/^oom_kill (\d+)$/m.exec(read('memory', path, 'memory.oom_control'))?.[1]);
  t.ok(kills >= 1, `the kernel counted the kill (${kills})`);
  t.same(lines, Array.from({ length: kills }, () => ({ type: 'oom', id })), 'an oom event per kill, and nothing else');
  t.equal(env.state(id).status, 'stopped');
});

t.test('a fork bomb under pids.limit 64 is contained; kill --all ends it', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  const bomb = 'b() { b | b & }; b; sleep 1000';
  const r = env.runts(['run', '-d', '--bundle', env.bundle(config(['sh', '-c', bomb], path, { pids: { limit: 64 }, cpu: { quota: 50000, period: 100000 } })), id]);
  t.equal(r.code, 0, 'run -d');
  await waitFor('the bomb to hit the limit', () => /^max [1-9]/m.test(read('pids', path, 'pids.events')));
  await sleep(500);
  const current = Number(read('pids', path, 'pids.current'));
  t.ok(current <= 64, `pids.current ${current} stays within 64`);
  t.comment(`pids.current=${current}, ${read('pids', path, 'pids.events').replace('\n', ' ')}`);
  const host = spawnSync('/bin/true', { timeout: 5000 });
  t.equal(host.status, 0, 'the host still forks');
  const kill = env.runts(['kill', '--all', id, 'KILL']);
  t.equal(kill.code, 0, kill.stderr);
  await waitFor('the cgroup to empty', () => read('pids', path, 'cgroup.procs') === '');
  t.equal(env.runts(['delete', '--force', id]).code, 0);
  t.notOk(existsSync(dir('pids', path)));
});

t.test('update changes the files it is given and leaves the rest', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  const r = env.runts(['run', '-d', '--bundle', env.bundle(config(['sleep', '60'], path, { cpu: { shares: 512, quota: 150000, period: 100000 }, memory: { limit: 32 * MiB }, pids: { limit: 64 } })), id]);
  t.equal(r.code, 0, r.stderr);
  const u = env.runts(['update', '--memory', '64m', '--cpu-quota', '50000', id]);
  t.equal(u.code, 0, u.stderr);
  t.equal(read('memory', path, 'memory.limit_in_bytes'), String(64 * MiB));
  t.equal(read('cpu', path, 'cpu.cfs_quota_us'), '50000');
  t.equal(read('cpu', path, 'cpu.cfs_period_us'), '100000', 'period unchanged');
  t.equal(read('cpu', path, 'cpu.shares'), '512', 'shares unchanged');
  t.equal(read('pids', path, 'pids.max'), '64', 'pids unchanged');

  const file = join(env.dir, 'resources.json');
  writeFileSync(file, JSON.stringify({ pids: { limit: 100 }, cpu: { shares: 1024 } }));
  const j = env.runts(['update', '--resources', file, id]);
  t.equal(j.code, 0, j.stderr);
  t.equal(read('pids', path, 'pids.max'), '100');
  t.equal(read('cpu', path, 'cpu.shares'), '1024');
  t.equal(read('memory', path, 'memory.limit_in_bytes'), String(64 * MiB), 'the earlier update stays');

  const w = env.runts(['update', '--kernel-memory', '10m', id]);
  t.equal(w.code, 0);
  t.match(w.stderr, /warning: kernel memory settings are ignored/);
  const lack = env.runts(['update', '--l3-cache-schema', 'L3:0=f', id]);
  t.equal(lack.code, 1);
  t.match(lack.stderr, /^runts: Intel RDT\/CAT: l3 cache schema is not enabled/);
  t.equal(lack.stderr.trim().split('\n').length, 1, 'one line');
  if (!HIERARCHIES.some((h) => h.controllers.includes('hugetlb'))) {
    writeFileSync(file, JSON.stringify({ hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }));
    const h = env.runts(['update', '-r', file, id]);
    t.equal(h.stderr, 'runts: linux.resources.hugepageLimits[0]: the hugetlb controller is not available on this host\n', 'a controller the host lacks is named');
  }

  t.equal(env.runts(['kill', id, 'KILL']).code, 0);
  await waitFor('stop', () => env.state(id).status === 'stopped');
  const stopped = env.runts(['update', '--memory', '16m', id]);
  t.equal(stopped.code, 1);
  t.match(stopped.stderr, /is not running/);
});

t.test('the init and an exec join every hierarchy, themselves, before they run', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  const r = env.runts(['run', '-d', '--bundle', env.bundle(config(['sleep', '60'], path, {})), id]);
  t.equal(r.code, 0, r.stderr);
  const inAll = (pid: number) => HIERARCHIES.filter((h) => !readFileSync(join(h.mountpoint, path, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid))).map((h) => h.controllers.join(','));
  t.same(inAll(env.state(id).pid), [], 'the init is in each hierarchy');
  // The exec'd shell reports its own cgroups from inside: placed before it ran.
  const ex = env.runts(['exec', id, 'cat', '/proc/self/cgroup']);
  t.equal(ex.code, 0, ex.stderr);
  const lines = ex.stdout.trim().split('\n').filter((l) => !l.startsWith('0::'));
  t.equal(lines.length, HIERARCHIES.length, ex.stdout);
  t.same(lines.filter((l) => !l.endsWith(`:${path}`)), [], 'the exec is in the container cgroup of each hierarchy');
  t.equal(env.runts(['delete', '--force', id]).code, 0);

  // When a self-join fails, the runtime moves the process itself.
  const fallback = env.runts(['run', '-d', '--bundle', env.bundle(config(['sleep', '60'], path, {})), id], { env: { RUNTS_FAULT: 'join' }, bin: TEST_RUNTS });
  t.equal(fallback.code, 0, fallback.stderr);
  t.same(inAll(env.state(id).pid), [], 'after a failed self-join the init is still in each hierarchy');
  const ex2 = env.runts(['exec', id, 'cat', '/proc/self/cgroup'], { env: { RUNTS_FAULT: 'join' }, bin: TEST_RUNTS });
  t.equal(ex2.code, 0, ex2.stderr);
  t.same(ex2.stdout.trim().split('\n').filter((l) => !l.startsWith('0::') && !l.endsWith(`:${path}`)), [], 'and so is the exec');
});

t.test('pause and resume: status and freezer state; exec refused while paused', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(config(['sleep', '60'], path, {})), id]).code, 0);
  t.equal(env.runts(['pause', id]).code, 0);
  t.equal(env.state(id).status, 'paused');
  t.equal(read('freezer', path, 'freezer.state'), 'FROZEN');
  const ex = env.runts(['exec', id, 'true']);
  t.equal(ex.code, 1);
  t.match(ex.stderr, /paused/);
  t.match(env.runts(['pause', id]).stderr, /^runts: container not running\n$/);
  t.equal(env.runts(['resume', id]).code, 0);
  t.equal(env.state(id).status, 'running');
  t.equal(read('freezer', path, 'freezer.state'), 'THAWED');
  t.match(env.runts(['resume', id]).stderr, /^runts: container not paused\n$/);
  t.equal(env.runts(['exec', id, 'true']).code, 0);
});

t.test('kill --all on a paused container', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(config(['sh', '-c', 'sleep 100 & sleep 200 & wait'], path, {})), id]).code, 0);
  await waitFor('two children', () => read('pids', path, 'cgroup.procs').split('\n').length === 3);
  t.equal(env.runts(['pause', id]).code, 0);
  t.equal(env.runts(['kill', '--all', id, 'TERM']).code, 0);
  t.equal(env.state(id).status, 'paused', 'a signal other than KILL leaves it paused');
  t.equal(env.runts(['kill', '--all', id, 'KILL']).code, 0);
  await waitFor('the cgroup to empty', () => read('pids', path, 'cgroup.procs') === '');
  await waitFor('stopped', () => env.state(id).status === 'stopped');
  t.equal(read('freezer', path, 'freezer.state'), 'THAWED', 'thawed so the SIGKILLs land');
  t.equal(env.runts(['delete', id]).code, 0);
});

t.test('ps: json pids and the host ps table filtered to the container', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(config(['sh', '-c', 'sleep 100 & sleep 200 & wait'], path, {})), id]).code, 0);
  await waitFor('two children', () => read('pids', path, 'cgroup.procs').split('\n').length === 3);
  const j = env.runts(['ps', '--format', 'json', id]);
  t.equal(j.code, 0, j.stderr);
  const pids = JSON.parse(j.stdout) as number[];
  t.equal(pids.length, 3);
  t.ok(pids.includes(env.state(id).pid), 'the init is listed');
  const table = env.runts(['ps', id]);
  t.equal(table.code, 0, table.stderr);
  const rows = table.stdout.trim().split('\n');
  t.match(rows[0], /^UID\s+PID\s+PPID/, 'ps -ef header');
  t.equal(rows.length, 4);
  t.ok(rows.some((l) => /sleep 200/.test(l)) && rows.some((l) => /sleep 100/.test(l)));
  const custom = env.runts(['ps', id, '-o', 'pid,args']);
  t.equal(custom.code, 0, custom.stderr);
  t.same(custom.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).sort(), [...pids].sort(), 'ps args passed through');
});

t.test('events --stats: one JSON object in runc\'s shape', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(config(['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 60'], path, { memory: { limit: 32 * MiB }, pids: { limit: 64 } })), id]).code, 0);
  await sleep(300);
  const r = env.runts(['events', '--stats', id]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 1);
  const e = JSON.parse(lines[0]!);
  t.match(e, {
    type: 'stats',
    id,
    data: {
      cpu: { usage: { total: Number, percpu: Array, kernel: Number, user: Number }, throttling: { periods: Number, throttledPeriods: Number, throttledTime: Number } },
      memory: { usage: { limit: 32 * MiB, usage: Number, max: Number, failcnt: Number }, swap: Object, kernel: Object, raw: Object },
      pids: { current: 1, limit: 64 },
      blkio: Object,
      hugetlb: Object,
    },
  });
  t.ok(e.data.cpu.usage.total > 0, 'cpu time counted');
  t.ok(e.data.memory.usage.usage > 0, 'memory counted');
  t.comment(`cpu.total=${e.data.cpu.usage.total}ns memory.usage=${e.data.memory.usage.usage}`);

  // Without --stats: a stats line per interval until the container is gone.
  const events = env.spawnRunts(['events', '--interval', '200ms', id]);
  let out = '';
  events.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((res) => events.on('exit', (c) => res(c)));
  await waitFor('two stats lines', () => out.split('\n').filter(Boolean).length >= 2);
  t.equal(env.runts(['kill', id, 'KILL']).code, 0);
  const code = await Promise.race([exited, sleep(10000).then(() => 'timeout' as const)]);
  if (code === 'timeout') events.kill('SIGKILL');
  t.equal(code, 0, 'events ends with the container');
  t.ok(out.trim().split('\n').every((l) => JSON.parse(l).type === 'stats' && JSON.parse(l).id === id), 'every line a stats event');
});

// A JS number rounds 9223372036854771712 (v1's "no limit") to 9223372036854772000.
t.test('events --stats writes 64-bit counters with their exact digits', opts, async (t) => {
  const env = new Env(t);
  const path = cgPath(t);
  const id = env.id();
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(config(['sleep', '60'], path, { memory: { limit: 32 * MiB }, pids: { limit: 64 } })), id]).code, 0);
  const r = env.runts(['events', '--stats', id]);
  t.equal(r.code, 0, r.stderr);
  const usage = /"usage":\{"limit":(\d+),/.exec(r.stdout)?.[1];
  t.equal(usage, String(32 * MiB), 'the limit set');
  const kernel = read('memory', path, 'memory.kmem.limit_in_bytes');
  t.ok(BigInt(kernel) > BigInt(Number.MAX_SAFE_INTEGER), `kmem has no limit: ${kernel}`);
  t.equal(/"kernel":\{"limit":(\d+),/.exec(r.stdout)?.[1], kernel, 'an unlimited limit, digit for digit');
  t.match(r.stdout, /"hierarchical_memory_limit":33554432\b/);
});

const unified = '/sys/fs/cgroup/unified';
const bpfOpts = { skip: MODE === 'hybrid' && existsSync(join(unified, 'cgroup.procs')) ? false : 'needs the hybrid cgroup2 mount to attach to' };

t.test('v2 device program: loaded by the kernel, attached, and enforced', bpfOpts, async (t) => {
  const d = join(unified, `runts-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(d);
  t.teardown(() => {
    for (let i = 0; i < 100; i++) {
      try {
        rmdirSync(d);
        return;
      } catch {
        spawnSync('sleep', ['0.02']);
      }
    }
  });
  // Deny all, then the defaults (/dev/null among them); /dev/loop-control (10:237) stays denied.
  attachDeviceProgram(new LinuxSys(), d, deviceProgram([{ allow: false, access: 'rwm' }]));
  const r = spawnSync('sh', ['-c', `echo $$ > ${d}/cgroup.procs; echo x > /dev/null && echo null-ok; head -c 1 /dev/loop-control >/dev/null 2>&1 && echo loop-open || echo loop-denied`], { encoding: 'utf8' });
  t.equal(r.stdout, 'null-ok\nloop-denied\n', r.stderr);
  t.same(readdirSync(d).includes('cgroup.procs'), true);
});
