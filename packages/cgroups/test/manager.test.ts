// Cgroup logic on an in-memory filesystem: no root, no host cgroups touched.
import t from 'tap';
import { posix } from 'node:path';
import { newManager, blkioToIoWeight, sharesToWeight, containerPath, v1Hierarchies, checkSystemdPath } from '../src/index';
import { MemFs, MOUNTINFO, OWN, V2Fs, v1fs } from './memfs';

t.test('hierarchies and paths', async (t) => {
  t.same(v1Hierarchies(MOUNTINFO).map((h) => h.controllers.join(',')), ['memory', 'cpu,cpuacct', 'pids', 'cpuset', 'freezer', 'blkio', 'devices']);
  t.equal(containerPath(undefined, 'c1', '/x'), '/runts/c1', 'default');
  t.equal(containerPath('/a/b', 'c1', '/x'), '/a/b', 'absolute');
  t.equal(containerPath('a/b', 'c1', '/x'), '/x/a/b', 'relative to our own cgroup, as runc');
  t.throws(() => containerPath('a/../../b', 'c', '/x'), { code: 'ERR_CGROUP' }, 'a relative path may not climb out');
  t.equal(containerPath('/a/../../b', 'c', '/x'), '/b', 'an absolute path stays inside the tree');
  const fs = v1fs();
  const m = newManager({ cgroupsPath: 'ctr', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  t.equal(m.mode, 'hybrid');
  t.equal(m.paths()['memory'], '/sys/fs/cgroup/memory/user.slice/ctr');
  t.equal(m.paths()['pids'], '/sys/fs/cgroup/pids/ctr');
});

t.test('apply creates the dirs, fills an empty cpuset, and reports what it made', async (t) => {
  const fs = v1fs();
  fs.files.set('/sys/fs/cgroup/cpuset/cpuset.cpus', '0-1');
  fs.files.set('/sys/fs/cgroup/cpuset/cpuset.mems', '0');
  const m = newManager({ cgroupsPath: '/a/b', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  const made = m.apply(42);
  t.ok(made.includes('/sys/fs/cgroup/pids/a') && made.includes('/sys/fs/cgroup/pids/a/b'));
  t.equal(fs.read('/sys/fs/cgroup/cpuset/a/b/cpuset.cpus'), '0-1');
  t.equal(fs.read('/sys/fs/cgroup/pids/a/b/cgroup.procs'), '42');
  m.destroy(made);
  t.notOk(fs.exists('/sys/fs/cgroup/pids/a'), 'created parents removed');
  t.ok(fs.exists('/sys/fs/cgroup/pids'), 'hierarchy root kept');
});

t.test('create makes the dirs without moving anyone; enter moves; v1 offers its tasks files for a self-join', async (t) => {
  const fs = v1fs();
  fs.files.set('/sys/fs/cgroup/cpuset/cpuset.cpus', '0-1');
  fs.files.set('/sys/fs/cgroup/cpuset/cpuset.mems', '0');
  const m = newManager({ cgroupsPath: '/a', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.create();
  t.ok(fs.exists('/sys/fs/cgroup/pids/a'));
  t.equal(fs.read('/sys/fs/cgroup/pids/a/cgroup.procs'), '', 'no pid written by create');
  t.same(m.selfJoinFiles(), Object.values(m.paths()).map((d) => `${d}/tasks`));
  m.enter(9);
  t.equal(fs.read(`${m.paths()['memory']}/cgroup.procs`), '9');
  const v2 = newManager({ id: 'c', fs: new MemFs(true, { '/sys/fs/cgroup': ['cgroup.procs'] }), ownCgroup: '0::/' });
  t.equal(v2.mode, 'v2');
  t.same(v2.selfJoinFiles(), [], 'v2: a thread cannot leave its domain, so no self-join');
});

t.test('v1 resources: the seed mapping and more', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/k8s/pod', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(1);
  m.set({
    cpu: { shares: 512, quota: 150000, period: 100000 },
    memory: { limit: 32 << 20, swap: 64 << 20, swappiness: 0, disableOOMKiller: true },
    pids: { limit: 64 },
    blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
  });
  const at = (c: string, f: string) => fs.read(`/sys/fs/cgroup/${c}/k8s/pod/${f}`);
  t.equal(at('cpu,cpuacct', 'cpu.shares'), '512', '0.5 core request');
  t.equal(at('cpu,cpuacct', 'cpu.cfs_quota_us'), '150000', '1.5 core limit');
  t.equal(at('cpu,cpuacct', 'cpu.cfs_period_us'), '100000');
  t.equal(at('memory', 'memory.limit_in_bytes'), String(32 << 20));
  t.equal(at('memory', 'memory.memsw.limit_in_bytes'), String(64 << 20));
  t.equal(at('memory', 'memory.oom_control'), '1');
  t.equal(at('pids', 'pids.max'), '64');
  t.equal(at('blkio', 'blkio.bfq.weight'), '500', 'BFQ kernels have only blkio.bfq.weight');
  t.equal(at('blkio', 'blkio.throttle.read_bps_device'), '8:0 1000');
  const devWrites = fs.writes.filter(([p]) => p.includes('/devices/k8s/pod/devices.')).map(([p, d]) => `${posix.basename(p)} ${d}`);
  t.same(devWrites.slice(0, 2), ['devices.deny a *:* rwm', 'devices.allow c 10:229 rw']);
  t.ok(devWrites.includes('devices.allow c 1:3 rwm'), '/dev/null stays usable');
  m.set({ pids: { limit: 0 } });
  t.equal(at('pids', 'pids.max'), 'max');
});

t.test('zeros engines send for "unset" are not written (docker: blockIO.weight 0, cpu.shares 0)', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/z', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(1);
  fs.writes.length = 0;
  m.set({
    cpu: { shares: 0, quota: 0, period: 0, realtimePeriod: 0, realtimeRuntime: 0 },
    memory: { limit: 0, reservation: 0, swap: 0, kernel: 0, kernelTCP: 0 },
    blockIO: { weight: 0, leafWeight: 0, weightDevice: [{ major: 8, minor: 0, weight: 0 }] },
  });
  t.same(fs.writes, [], 'nothing written');
  m.set({ cpu: { shares: 0, quota: 50000 }, blockIO: { weight: 0, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 0 }] } });
  t.same(fs.writes.map(([p]) => posix.basename(p)), ['cpu.cfs_quota_us', 'blkio.throttle.read_bps_device'], 'only the non-zero fields (a throttle rate 0 removes the limit)');
});

t.test('v1: missing controllers and v2-only settings are errors naming the path', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/x', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(1);
  t.throws(() => m.set({ rdma: { mlx4_0: { hcaHandles: 1 } } }), { code: 'ERR_CGROUP', message: /linux\.resources\.rdma\.mlx4_0: the rdma controller is not available/ });
  t.throws(() => m.set({ unified: { 'memory.high': '1' } }), { message: /linux\.resources\.unified/ });
  t.throws(() => m.set({ network: { classID: 1 } }), { message: /linux\.resources\.network\.classID/ });
});

t.test('freeze, thaw, pids, stats', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/x', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(7);
  m.freeze();
  t.ok(m.isFrozen());
  m.thaw();
  t.notOk(m.isFrozen());
  t.same(m.pids(), [7]);
  fs.files.set('/sys/fs/cgroup/memory/x/memory.usage_in_bytes', '4096');
  fs.files.set('/sys/fs/cgroup/pids/x/pids.current', '3');
  const s = m.stats();
  t.equal(s.memory.usage.usage, 4096n);
  t.equal(s.pids.current, 3n);
});

t.test('v2: conversions and files', async (t) => {
  t.equal(sharesToWeight(1024), 39);
  t.equal(sharesToWeight(2), 1);
  t.equal(sharesToWeight(262144), 10000);
  t.equal(blkioToIoWeight(10), 1);
  t.equal(blkioToIoWeight(1000), 10000);
  const fs = new V2Fs(['cpu', 'memory', 'pids']);
  const m = newManager({ cgroupsPath: '/pod/c', id: 'c', fs, ownCgroup: '0::/' });
  t.equal(m.mode, 'v2');
  m.apply(9);
  m.set({ cpu: { shares: 512, quota: 150000, period: 100000 }, memory: { limit: 100, swap: 300 }, pids: { limit: 64 }, unified: { 'memory.high': '50' } });
  const at = (f: string) => fs.read(`/sys/fs/cgroup/pod/c/${f}`);
  t.equal(at('cpu.weight'), String(sharesToWeight(512)));
  t.equal(at('cpu.max'), '150000 100000');
  t.equal(at('memory.max'), '100');
  t.equal(at('memory.swap.max'), '200', 'swap alone, not memory+swap');
  t.equal(at('memory.high'), '50');
  t.same(m.mountSources(), [{ name: '', hostPath: '/sys/fs/cgroup/pod/c', links: [] }]);
});

const ALL = ['cpuset', 'cpu', 'io', 'memory', 'pids'];
const LIMITS = { cpu: { shares: 512, quota: 150000, period: 100000, cpus: '0' }, memory: { limit: 32 << 20 }, pids: { limit: 64 } };

t.test('v2: the default parent gets the controllers enabled on the way down, so limits land', async (t) => {
  const fs = new V2Fs(ALL);
  const m = newManager({ id: 'c1', fs, ownCgroup: '0::/' });
  const made = m.apply(9);
  t.same(made, ['/sys/fs/cgroup/runts', '/sys/fs/cgroup/runts/c1']);
  m.set(LIMITS);
  const at = (f: string) => fs.read(`/sys/fs/cgroup/runts/c1/${f}`);
  t.equal(at('memory.max'), String(32 << 20));
  t.equal(at('cpu.weight'), String(sharesToWeight(512)));
  t.equal(at('cpu.max'), '150000 100000');
  t.equal(at('cpuset.cpus'), '0');
  t.equal(at('pids.max'), '64');
  for (const p of ['/sys/fs/cgroup', '/sys/fs/cgroup/runts']) t.same(fs.read(`${p}/cgroup.subtree_control`).split(' ').sort(), [...ALL].sort(), `${p} passes every controller on, as runc`);
  t.notOk(fs.writes.some(([p]) => p === '/sys/fs/cgroup/runts/c1/cgroup.subtree_control'), "the container's own cgroup enables nothing: it holds the processes");
});

t.test('v2: a nested cgroupsPath through a parent someone else made gets them in every level', async (t) => {
  const fs = new V2Fs(ALL, ['memory']);
  fs.made('/sys/fs/cgroup/deep');
  const m = newManager({ cgroupsPath: '/deep/a/b', id: 'c', fs, ownCgroup: '0::/' });
  t.same(m.apply(9), ['/sys/fs/cgroup/deep/a', '/sys/fs/cgroup/deep/a/b'], 'the engine\'s parent is not ours to remove');
  m.set(LIMITS);
  t.equal(fs.read('/sys/fs/cgroup/deep/a/b/memory.max'), String(32 << 20));
  t.equal(fs.read('/sys/fs/cgroup/deep/a/b/pids.max'), '64');
  for (const p of ['/sys/fs/cgroup/deep', '/sys/fs/cgroup/deep/a']) t.match(fs.read(`${p}/cgroup.subtree_control`), /memory/);
  m.destroy(m.create());
});

t.test('v2: update enables a controller create could not, and a controller that cannot be enabled is named with its cgroup', async (t) => {
  const fs = new V2Fs(['cpu', 'memory', 'pids'], ['memory', 'pids']);
  // A delegated subtree: the root's subtree_control is not ours to write.
  fs.refuse.set('/sys/fs/cgroup', 'EACCES');
  fs.made('/sys/fs/cgroup/user');
  const m = newManager({ cgroupsPath: '/user/c', id: 'c', fs, ownCgroup: '0::/' });
  fs.refuse.set('/sys/fs/cgroup/user', 'EBUSY');
  m.apply(9);
  t.throws(() => m.set({ pids: { limit: 8 } }), { code: 'ERR_CGROUP', message: 'linux.resources.pids: cannot enable the pids controller in /sys/fs/cgroup/user/cgroup.subtree_control: EBUSY' });
  fs.refuse.delete('/sys/fs/cgroup/user');
  m.set({ pids: { limit: 8 }, memory: { limit: 4096 } });
  t.equal(fs.read('/sys/fs/cgroup/user/c/pids.max'), '8', 'enabled at set time');
  t.throws(() => m.set({ cpu: { shares: 512 } }), { code: 'ERR_CGROUP', message: 'linux.resources.cpu: cannot enable the cpu controller in /sys/fs/cgroup/cgroup.subtree_control: EACCES' });
  t.throws(() => m.set({ cpu: { cpus: '0' } }), { message: 'linux.resources.cpu.cpus: the cpuset controller is not available in /sys/fs/cgroup (not in its cgroup.controllers: not enabled or not delegated above it)' });
  t.throws(() => m.set({ unified: { 'io.weight': '10' } }), { message: /^linux\.resources\.unified\.io\.weight: the io controller is not available in \/sys\/fs\/cgroup / });
  m.set({ unified: { 'memory.high': '100', 'cgroup.max.depth': '2' } });
  t.equal(fs.read('/sys/fs/cgroup/user/c/memory.high'), '100');
});

t.test('killAll: cgroup.kill on v2, none on v1 (the caller signals each pid)', async (t) => {
  const fs = new V2Fs(ALL);
  const m = newManager({ cgroupsPath: '/k', id: 'c', fs, ownCgroup: '0::/' });
  m.apply(9);
  t.ok(m.killAll());
  t.same(fs.writes.at(-1), ['/sys/fs/cgroup/k/cgroup.kill', '1']);
  fs.files.delete('/sys/fs/cgroup/k/cgroup.kill');
  t.notOk(m.killAll(), 'a kernel before 5.14 has no cgroup.kill');
  const v1 = newManager({ cgroupsPath: '/k', id: 'c', fs: v1fs(), mountinfo: MOUNTINFO, ownCgroup: OWN });
  t.notOk(v1.killAll());
});

t.test('systemd paths without systemd', async (t) => {
  const fs = v1fs();
  t.throws(() => checkSystemdPath('system.slice:runts:c1', fs), { code: 'ERR_CGROUP', message: /systemd is not running/ });
  t.throws(() => checkSystemdPath('/not/systemd', fs), { message: /slice:prefix:name/ });
});
