// Stats in runc's `events` shape, and the OOM watch, on fake filesystems.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newManager, realFs, watchOom, type CgroupFs, type OomSys } from '../src/index';
import { MOUNTINFO, OWN, V2Fs, v1fs } from './memfs';

const keys = (o: object) => Object.keys(o).sort();

t.test('v1 stats: runc shape, values from the files', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/s', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(1);
  const set = (c: string, f: string, v: string) => fs.files.set(`/sys/fs/cgroup/${c}/s/${f}`, v);
  set('cpu,cpuacct', 'cpuacct.usage', '5000');
  set('cpu,cpuacct', 'cpuacct.usage_percpu', '2000 3000 \n');
  set('cpu,cpuacct', 'cpuacct.stat', 'user 3\nsystem 1\n');
  set('cpu,cpuacct', 'cpu.stat', 'nr_periods 10\nnr_throttled 4\nthrottled_time 777\n');
  set('memory', 'memory.usage_in_bytes', '4096');
  set('memory', 'memory.max_usage_in_bytes', '8192');
  set('memory', 'memory.limit_in_bytes', '33554432');
  set('memory', 'memory.failcnt', '2');
  set('memory', 'memory.memsw.usage_in_bytes', '5000');
  set('memory', 'memory.stat', 'cache 12\nrss 34\ntotal_cache 56\n');
  set('pids', 'pids.current', '3');
  fs.files.set('/sys/fs/cgroup/pids/s/pids.max', 'max');
  fs.files.set('/sys/fs/cgroup/blkio/s/blkio.throttle.io_service_bytes_recursive', '8:0 Read 100\n8:0 Write 200\nTotal 300\n');
  const s = m.stats();
  t.same(keys(s), ['blkio', 'cpu', 'hugetlb', 'memory', 'pids']);
  t.same(s.cpu, { usage: { total: 5000n, percpu: [2000n, 3000n], kernel: 10_000_000n, user: 30_000_000n }, throttling: { periods: 10n, throttledPeriods: 4n, throttledTime: 777n } });
  t.same(s.memory.usage, { limit: 33554432n, usage: 4096n, max: 8192n, failcnt: 2n });
  t.same(keys(s.memory), ['cache', 'kernel', 'kernelTCP', 'raw', 'swap', 'usage']);
  t.equal(s.memory.swap.usage, 5000n, 'v1 reports memsw as swap, like runc');
  t.equal(s.memory.cache, 56n);
  t.same(s.memory.raw, { cache: 12n, rss: 34n, total_cache: 56n });
  t.same(s.pids, { current: 3n, limit: 0n }, 'max reads as 0, like runc');
  t.same(s.blkio.ioServiceBytesRecursive, [{ major: 8, minor: 0, op: 'Read', value: 100n }, { major: 8, minor: 0, op: 'Write', value: 200n }]);
});

t.test('64-bit counters are exact: the unlimited v1 memory limit is not rounded', async (t) => {
  const fs = v1fs();
  const m = newManager({ cgroupsPath: '/s', id: 'c', fs, mountinfo: MOUNTINFO, ownCgroup: OWN });
  m.apply(1);
  fs.files.set('/sys/fs/cgroup/memory/s/memory.limit_in_bytes', '9223372036854771712\n');
  fs.files.set('/sys/fs/cgroup/memory/s/memory.stat', 'hierarchical_memory_limit 9223372036854771712\n');
  const s = m.stats();
  t.equal(s.memory.usage.limit, 9223372036854771712n);
  t.equal(s.memory.raw['hierarchical_memory_limit'], 9223372036854771712n);
});

t.test('v2 stats: ns from usec, io.stat split into ops', async (t) => {
  const fs = new V2Fs(['cpu', 'io', 'memory', 'pids']);
  const m = newManager({ cgroupsPath: '/p', id: 'c', fs, ownCgroup: '0::/' });
  m.apply(5);
  const set = (f: string, v: string) => fs.files.set(`/sys/fs/cgroup/p/${f}`, v);
  set('cpu.stat', 'usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 2\nnr_throttled 1\nthrottled_usec 3\n');
  set('memory.current', '100');
  set('memory.max', 'max');
  set('memory.events', 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n');
  set('io.stat', '8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n');
  const s = m.stats();
  t.same(s.cpu.usage, { total: 10_000n, percpu: [], kernel: 4000n, user: 6000n });
  t.same(s.cpu.throttling, { periods: 2n, throttledPeriods: 1n, throttledTime: 3000n });
  t.same(s.memory.usage, { usage: 100n, max: 0n, limit: 0n, failcnt: 7n });
  t.same(s.blkio.ioServiceBytesRecursive, [{ major: 8, minor: 0, op: 'Read', value: 10n }, { major: 8, minor: 0, op: 'Write', value: 20n }]);
  t.same(s.blkio.ioServicedRecursive.map((e) => e.value), [1n, 2n]);
});

t.test('OOM watch v2: counts oom_kill increases since the watch began', async (t) => {
  const fs = new V2Fs(['memory']);
  const m = newManager({ cgroupsPath: '/o', id: 'c', fs, ownCgroup: '0::/' });
  m.apply(5);
  const ev = '/sys/fs/cgroup/o/memory.events';
  fs.files.set(ev, 'oom 2\noom_kill 2\n');
  const sys: OomSys = { eventfd: () => t.fail('no eventfd on v2') as never, read: () => 0, close: () => undefined };
  const w = watchOom(m, sys, fs);
  t.equal(w.poll(), 0, 'earlier kills are not reported');
  fs.files.set(ev, 'oom 3\noom_kill 3\n');
  t.equal(w.poll(), 1);
  t.equal(w.poll(), 0);
  w.close();
});

t.test('OOM watch v1: eventfd registered on memory.oom_control', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-oom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'memory.oom_control'), 'oom_kill_disable 0\n');
  writeFileSync(join(dir, 'cgroup.event_control'), '');
  // A plain v1 host, whatever this machine is.
  const fs: CgroupFs = { ...realFs, fsType: () => 0x01021994, exists: (p) => p !== '/sys/fs/cgroup/unified' && realFs.exists(p) };
  const m = newManager({ paths: { memory: dir }, fs });
  let pending = 0n;
  const closed: number[] = [];
  const sys: OomSys = {
    eventfd: (init, flags) => {
      t.equal(init, 0);
      t.ok(flags & 0o4000, 'non-blocking: a poll never hangs');
      return 77;
    },
    read: (fd, buf) => {
      t.equal(fd, 77);
      if (pending === 0n) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      Buffer.from(buf.buffer, buf.byteOffset, 8).writeBigUInt64LE(pending);
      pending = 0n;
      return 8;
    },
    close: (fd) => void closed.push(fd),
  };
  const w = watchOom(m, sys, fs);
  t.match(readFileSync(join(dir, 'cgroup.event_control'), 'utf8'), /^77 \d+$/, '"<eventfd> <oom_control fd>"');
  t.equal(w.poll(), 0);
  pending = 2n;
  t.equal(w.poll(), 2);
  pending = 1n;
  rmSync(join(dir, 'cgroup.event_control'));
  t.equal(w.poll(), 0, 'the signal of a removed cgroup is no OOM');
  w.close();
  w.close();
  t.same(closed, [77], 'closed once');
  const noMem = newManager({ paths: { pids: dir }, fs });
  t.throws(() => watchOom(noMem, sys, fs), { code: 'ERR_CGROUP', message: /memory controller is not available/ });
});

t.test('OOM watch v1 with the kill count (Linux 4.13+): one event per kill, however many notifications', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-oom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const control = join(dir, 'memory.oom_control');
  const state = (disabled: number, kills: number) => writeFileSync(control, `oom_kill_disable ${disabled}\nunder_oom 0\noom_kill ${kills}\n`);
  state(0, 3);
  writeFileSync(join(dir, 'cgroup.event_control'), '');
  const fs: CgroupFs = { ...realFs, fsType: () => 0x01021994, exists: (p) => p !== '/sys/fs/cgroup/unified' && realFs.exists(p) };
  let pending = 0n;
  const sys: OomSys = {
    eventfd: () => 77,
    read: (_fd, buf) => {
      if (pending === 0n) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      Buffer.from(buf.buffer, buf.byteOffset, 8).writeBigUInt64LE(pending);
      pending = 0n;
      return 8;
    },
    close: () => undefined,
  };
  const w = watchOom(newManager({ paths: { memory: dir }, fs }), sys, fs);
  t.equal(w.poll(), 0, 'kills before the watch are not reported');
  pending = 2n;
  state(0, 4);
  t.equal(w.poll(), 1, 'two notifications, one kill');
  pending = 1n;
  t.equal(w.poll(), 0, 'a notification without a kill');
  state(0, 6);
  t.equal(w.poll(), 2, 'kills counted without a notification (the poll at exit)');
  pending = 1n;
  state(1, 6);
  t.equal(w.poll(), 1, 'the OOM killer disabled: the notification is the event');
  w.close();
});
