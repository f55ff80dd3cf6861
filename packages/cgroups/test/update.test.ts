// `update`: runc's flags and JSON → a patch; merging keeps what was not given.
import t from 'tap';
import { mergeResources, newManager, parseResourcesJson, parseSize, planUpdate, resourcesFromFlags } from '../src/index';
import { MOUNTINFO, OWN, v1fs } from './memfs';

t.test('sizes as runc reads them', async (t) => {
  t.equal(parseSize('1024', 'memory'), 1024);
  t.equal(parseSize('32m', 'memory'), 32 * 2 ** 20);
  t.equal(parseSize('32M', 'memory'), 32 * 2 ** 20);
  t.equal(parseSize('1g', 'memory'), 2 ** 30);
  t.equal(parseSize('1.5g', 'memory'), 1.5 * 2 ** 30);
  t.equal(parseSize('64MiB', 'memory'), 64 * 2 ** 20);
  t.equal(parseSize('2 kb', 'memory'), 2048);
  t.equal(parseSize('-1', 'memory'), -1);
  t.throws(() => parseSize('12q', 'memory-swap'), { code: 'ERR_USAGE', message: /--memory-swap: "12q" is not a size/ });
  t.throws(() => parseSize('-2', 'memory'), { code: 'ERR_USAGE' });
});

t.test('flags → a patch with only what was given', async (t) => {
  t.same(resourcesFromFlags({}).resources, {});
  const p = resourcesFromFlags({ memory: '32m', memorySwap: '-1', cpuShares: '512', cpuQuota: '150000', cpuPeriod: '100000', cpusetCpus: '0', pidsLimit: '64', blkioWeight: '500', cpuRtRuntime: '-1' });
  t.same(p.resources, {
    memory: { limit: 32 << 20, swap: -1 },
    cpu: { shares: 512, period: 100000, quota: 150000, realtimeRuntime: -1, cpus: '0' },
    blockIO: { weight: 500 },
    pids: { limit: 64 },
  });
  t.same(p.warnings, []);
  t.same(resourcesFromFlags({ blkioWeight: '0' }).resources, {}, 'blkio weight 0 means not given, as runc');
  const k = resourcesFromFlags({ kernelMemory: '10m' });
  t.same(k.resources, {}, 'kernel memory is ignored');
  t.match(k.warnings[0], /kernel memory settings are ignored/);
  t.throws(() => resourcesFromFlags({ cpuShares: '-5' }), { code: 'ERR_USAGE', message: /--cpu-shares: "-5" is not an unsigned integer/ });
  t.throws(() => resourcesFromFlags({ cpuQuota: 'lots' }), { message: /--cpu-quota/ });
});

t.test('--resources JSON is checked like config.json', async (t) => {
  const p = parseResourcesJson('{"memory":{"limit":1048576,"kernel":5},"devices":[{"allow":true,"access":"rwm"}],"cpu":{"shares":2}}', 'r.json');
  t.same(p.resources, { memory: { limit: 1048576 }, cpu: { shares: 2 } }, 'kernel memory and devices left out, as runc');
  t.equal(p.warnings.length, 1);
  t.throws(() => parseResourcesJson('{"memory":{"limit":"big"}}', 'r.json'), { code: 'ERR_CONFIG_INVALID', message: /^--resources r\.json: memory\.limit: must be/ });
  t.throws(() => parseResourcesJson('{oops', 'stdin'), { message: /^--resources stdin: invalid JSON/ });
  t.throws(() => parseResourcesJson('[1]', 'stdin'), { message: /must be a JSON object/ });
});

t.test('merge: given fields replace, the rest stay', async (t) => {
  const current = {
    cpu: { shares: 512, quota: 150000, period: 100000 },
    memory: { limit: 32 << 20, swap: 64 << 20 },
    pids: { limit: 64 },
    blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] },
  };
  const m = mergeResources(current, { cpu: { quota: 50000 }, blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 2 }, { major: 8, minor: 16, rate: 3 }] } });
  t.same(m.cpu, { shares: 512, quota: 50000, period: 100000 });
  t.same(m.memory, current.memory);
  t.same(m.pids, { limit: 64 });
  t.same(m.blockIO, { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 2 }, { major: 8, minor: 16, rate: 3 }] }, 'devices upserted by major:minor');
  t.equal(current.cpu.quota, 150000, 'the input is not changed');
  t.same(mergeResources(undefined, { pids: { limit: 5 } }), { pids: { limit: 5 } });
});

t.test('plan: partner fields written along (cpu.max, swap from limit, unlimited both)', async (t) => {
  const current = { cpu: { shares: 512, quota: 150000, period: 100000 }, memory: { limit: 32 << 20, swap: 64 << 20 } };
  const q = planUpdate(current, { cpu: { quota: 50000 } });
  t.same(q.writes, { cpu: { quota: 50000, period: 100000 } }, 'v2 cpu.max needs the old period');
  const s = planUpdate(current, { memory: { swap: 128 << 20 } });
  t.same(s.writes, { memory: { swap: 128 << 20, limit: 32 << 20 } });
  const u = planUpdate(current, { memory: { limit: -1 } });
  t.same(u.writes, { memory: { limit: -1, swap: -1 } }, 'unlimited memory lifts memsw too');
  t.same(u.merged.memory, { limit: -1, swap: -1 });
  t.same(u.merged.cpu, current.cpu);
});

t.test('zeros in a patch leave the current values (docker update sends every field)', async (t) => {
  const current = { cpu: { shares: 512, quota: 150000, period: 100000 }, blockIO: { weight: 500 } };
  const p = planUpdate(current, { cpu: { shares: 0, quota: 0, period: 0 }, memory: { limit: 64 << 20, kernel: 0 }, blockIO: { weight: 0 } });
  t.same(p.merged.cpu, current.cpu);
  t.same(p.merged.blockIO, current.blockIO);
  t.same(p.writes, { cpu: {}, memory: { limit: 64 << 20 }, blockIO: {} });
  t.same(parseResourcesJson('{"memory":{"kernel":0,"kernelTCP":0}}', 'stdin').warnings, [], 'no kernel-memory warning for zeros');
  t.same(parseResourcesJson('{"memory":{"kernel":1048576}}', 'stdin').warnings, ['kernel memory settings are ignored and will be removed']);
  t.same(resourcesFromFlags({ kernelMemory: '0' }).warnings, []);
});

t.test('update on a v1 hierarchy writes only what changed', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/u', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(1);
  m.set({ cpu: { shares: 512, quota: 150000, period: 100000 }, pids: { limit: 64 } });
  fs.writes.length = 0;
  const { writes } = planUpdate({ cpu: { shares: 512, quota: 150000, period: 100000 }, pids: { limit: 64 } }, { pids: { limit: 100 } });
  m.set(writes);
  t.same(fs.writes, [['/sys/fs/cgroup/pids/u/pids.max', '100']]);
  t.equal(fs.read('/sys/fs/cgroup/cpu,cpuacct/u/cpu.shares'), '512');
  t.throws(() => m.set({ cpu: { realtimeRuntime: 5 } }), { code: 'ERR_CGROUP', message: /^linux\.resources\.cpu\.realtimeRuntime: cpu\.rt_runtime_us does not exist on this host$/ });
  t.throws(() => m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), { message: /^linux\.resources\.hugepageLimits\[0\]: the hugetlb controller is not available on this host$/ });
});
