import t from 'tap';
import { defaultSpec, jsonPath, parseConfig, validateConfig, validateProcess } from '../src/index';

const base = () => JSON.parse(JSON.stringify(defaultSpec())) as any;

function fails(t: any, patch: (c: any) => void, path: string, msg?: RegExp) {
  const c = base();
  patch(c);
  t.throws(() => validateConfig(c), { code: 'ERR_CONFIG_INVALID', detail: { path } }, path);
  if (msg) t.throws(() => validateConfig(c), { message: msg });
}

t.test('the default specs are valid', async (t) => {
  t.ok(validateConfig(defaultSpec()));
  const rootless = defaultSpec({ rootless: true, uid: 1000, gid: 1000 });
  t.ok(validateConfig(rootless));
  t.same(rootless.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  t.notOk(rootless.linux?.namespaces?.some((n) => n.type === 'network'));
});

t.test('a config with every section', async (t) => {
  const c = base();
  c.hooks = { prestart: [{ path: '/bin/true', args: ['true'], env: ['A=1'], timeout: 5 }] };
  c.annotations = { a: 'b' };
  c.domainname = 'example';
  c.linux.namespaces.push({ type: 'user' }, { type: 'cgroup' }, { type: 'time' });
  c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
  c.linux.timeOffsets = { monotonic: { secs: 1, nanosecs: 2 } };
  c.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 }];
  c.linux.resources = { memory: { limit: 1 << 25, swap: 1 << 26 }, cpu: { shares: 512, quota: 150000, period: 100000, cpus: '0' }, pids: { limit: 64 } };
  c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] }] };
  c.linux.rootfsPropagation = 'rslave';
  c.linux.personality = { domain: 'LINUX' };
  c.process.scheduler = { policy: 'SCHED_BATCH', nice: 3 };
  c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
  c.process.oomScoreAdj = 100;
  c.process.consoleSize = { height: 24, width: 80 };
  c['org.example.extension'] = { anything: true };
  t.ok(validateConfig(c));
});

t.test('type errors name the JSON path', async (t) => {
  fails(t, (c) => (c.process.args = 'sh'), 'process.args', /process\.args: must be an array/);
  fails(t, (c) => (c.mounts[2].destination = 7), 'mounts[2].destination', /must be a string/);
  fails(t, (c) => delete c.process.cwd, 'process.cwd', /is required/);
  fails(t, (c) => (c.process.user.uid = -1), 'process.user.uid');
  fails(t, (c) => (c.linux.namespaces[0] = { type: 5 }), 'linux.namespaces[0].type');
  fails(t, (c) => delete c.ociVersion, 'ociVersion');
});

t.test('semantic rules', async (t) => {
  fails(t, (c) => (c.process.args = []), 'process.args', /process\.args: must be a non-empty array/);
  fails(t, (c) => (c.process.cwd = 'tmp'), 'process.cwd');
  fails(t, (c) => c.linux.namespaces.push({ type: 'foo' }), 'linux.namespaces[5].type', /unknown namespace type "foo"/);
  fails(t, (c) => c.linux.namespaces.push({ type: 'pid' }), 'linux.namespaces[5].type', /twice/);
  fails(t, (c) => c.linux.namespaces.push({ type: 'user', path: 'proc/1/ns/user' }), 'linux.namespaces[5].path');
  fails(t, (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 1 }]), 'linux.uidMappings');
  fails(t, (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'uts')), 'hostname');
  // A joined UTS namespace is enough (runtime-spec config.md "hostname"; runc agrees).
  const joined = base();
  joined.linux.namespaces = joined.linux.namespaces.map((n: any) => (n.type === 'uts' ? { type: 'uts', path: '/proc/1/ns/uts' } : n));
  t.ok(validateConfig(joined));
  fails(t, (c) => (c.hooks = { poststop: [{ path: 'relative' }] }), 'hooks.poststop[0].path');
  fails(t, (c) => (c.hooks = { poststop: [{ path: '/bin/x', timeout: 0 }] }), 'hooks.poststop[0].timeout');
  fails(t, (c) => c.process.rlimits.push({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }), 'process.rlimits[1].type');
  fails(t, (c) => c.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }), 'process.rlimits[1].type', /twice/);
  fails(t, (c) => (c.process.rlimits[0].soft = 2048), 'process.rlimits[0]');
  fails(t, (c) => c.process.capabilities.bounding.push('CAP_BOGUS'), 'process.capabilities.bounding[3]');
  fails(t, (c) => (c.linux.devices = [{ type: 'x', path: '/dev/x' }]), 'linux.devices[0].type');
  fails(t, (c) => (c.linux.devices = [{ type: 'c', path: 'dev/x', major: 1, minor: 1 }]), 'linux.devices[0].path');
  fails(t, (c) => (c.linux.rootfsPropagation = 'sideways'), 'linux.rootfsPropagation');
  fails(t, (c) => (c.linux.maskedPaths = ['proc/kcore']), 'linux.maskedPaths[0]');
  fails(t, (c) => (c.process.oomScoreAdj = 5000), 'process.oomScoreAdj');
});

t.test('bad JSON and non-objects', async (t) => {
  t.throws(() => parseConfig('{'), { code: 'ERR_CONFIG_INVALID', message: /^config\.json: invalid JSON/ });
  t.throws(() => parseConfig('[]'), { message: /config\.json: must be a JSON object/ });
});

t.test('process files for exec', async (t) => {
  t.ok(validateProcess({ user: { uid: 0, gid: 0 }, cwd: '/', args: ['sh'] }));
  t.throws(() => validateProcess({ user: { uid: 0, gid: 0 }, cwd: '/', args: [] }), { detail: { path: 'process.args' } });
});

t.test('JSON pointers become paths', async (t) => {
  t.equal(jsonPath('/process/args/0'), 'process.args[0]');
  t.equal(jsonPath('/linux/sysctl/net.ipv4.ip_forward'), 'linux.sysctl.net.ipv4.ip_forward');
  t.equal(jsonPath('', 'process'), 'process');
});
