// Stats to containerd's cgroup metrics. The stats are
// `runts events --stats` output as it came: v1 from this (hybrid) host, v2 from
// the cgroup v2 VM (test/v2), each a container under a 64 MiB memory limit and
// pids.max 20 that wrote 8 MiB to a tmpfs.
import t from 'tap';
import { detectMode, realFs } from '@runts/cgroups';
import { codec } from '@runts/proto/light';
import { metricsAny, metricsV1, metricsV2, V1_METRICS, V2_METRICS, type StatsJson } from '../src/metrics';

const V1 = '{"cpu":{"usage":{"total":5701354,"percpu":[3950079,1751275],"kernel":0,"user":0},"throttling":{"periods":0,"throttledPeriods":0,"throttledTime":0}},'
  + '"memory":{"cache":8388608,"usage":{"limit":67108864,"usage":8785920,"max":9945088,"failcnt":0},"swap":{"limit":9223372036854771712,"usage":8785920,"max":9945088,"failcnt":0},'
  + '"kernel":{"limit":9223372036854771712,"usage":94208,"max":208896,"failcnt":0},"kernelTCP":{"limit":9223372036854771712,"usage":0,"max":0,"failcnt":0},'
  + '"raw":{"cache":8388608,"rss":57344,"rss_huge":0,"shmem":8388608,"mapped_file":0,"dirty":0,"writeback":0,"workingset_refault_anon":0,"workingset_refault_file":0,"swap":0,'
  + '"swapcached":0,"pgpgin":2347,"pgpgout":283,"pgfault":372,"pgmajfault":0,"inactive_anon":8425472,"active_anon":4096,"inactive_file":0,"active_file":0,"unevictable":0,'
  + '"hierarchical_memory_limit":67108864,"hierarchical_memsw_limit":9223372036854771712,"total_cache":8388608,"total_rss":57344}},'
  + '"pids":{"current":1,"limit":20},"blkio":{"ioServiceBytesRecursive":[],"ioServicedRecursive":[]},"hugetlb":{}}';

const V2 = '{"cpu":{"usage":{"total":428909000,"percpu":[],"kernel":332253000,"user":96655000},"throttling":{"periods":0,"throttledPeriods":0,"throttledTime":0}},'
  + '"memory":{"cache":8388608,"usage":{"usage":8945664,"max":10194944,"limit":67108864,"failcnt":0},"swap":{"usage":0,"max":0,"limit":0,"failcnt":0},'
  + '"kernel":{"usage":94208,"max":0,"limit":0,"failcnt":0},"kernelTCP":{"usage":0,"max":0,"limit":0,"failcnt":0},'
  + '"raw":{"anon":49152,"file":8388608,"kernel":94208,"kernel_stack":0,"pagetables":20480,"sec_pagetables":0,"percpu":0,"sock":0,"vmalloc":0,"shmem":8388608,"zswap":0,'
  + '"zswapped":0,"file_mapped":0,"file_dirty":0,"file_writeback":0,"swapcached":0,"anon_thp":0,"file_thp":0,"shmem_thp":0,"inactive_anon":8433664,"active_anon":4096,'
  + '"inactive_file":0,"active_file":0,"unevictable":0,"slab_reclaimable":25648,"slab_unreclaimable":19904,"slab":45552,"workingset_refault_anon":0,"workingset_refault_file":0,'
  + '"workingset_activate_anon":0,"workingset_activate_file":0,"workingset_restore_anon":0,"workingset_restore_file":0,"workingset_nodereclaim":0,"pgscan":0,"pgsteal":0,'
  + '"pgscan_kswapd":0,"pgscan_direct":0,"pgsteal_kswapd":0,"pgsteal_direct":0,"pgfault":380,"pgmajfault":0,"pgrefill":0,"pgactivate":0,"pgdeactivate":0,"pglazyfree":0,'
  + '"pglazyfreed":0,"zswpin":0,"zswpout":0,"thp_fault_alloc":0,"thp_collapse_alloc":0}},'
  + '"pids":{"current":1,"limit":20},"blkio":{"ioServiceBytesRecursive":[],"ioServicedRecursive":[]},"hugetlb":{}}';

// Decoded messages are read field by field: tap compares what they hold.
type Obj = Record<string, any>;
const decode = (a: { type_url: string; value: Buffer }): Obj => codec(a.type_url).decode(a.value);

t.test('v1: the values ctr task metrics prints on a v1 host', async (t) => {
  const a = metricsAny(V1, false);
  t.equal(a.type_url, V1_METRICS);
  const m = decode(a);
  t.same(m.pids, { current: 1, limit: 20 });
  t.same(m.cpu.usage, { total: 5701354, kernel: 0, user: 0, perCpu: [3950079, 1751275] });
  t.match(m.memory, { cache: 8388608, rss: 57344, pgPgIn: 2347, pgPgOut: 283, pgFault: 372, inactiveAnon: 8425472, activeAnon: 4096, hierarchicalMemoryLimit: 67108864 });
  t.same(m.memory.usage, { limit: 67108864, usage: 8785920, max: 9945088, failcnt: 0 });
  t.equal(m.memory.swap.limit, 9223372036854771712, 'an unlimited limit keeps its value');
  t.same(m.memory.kernel, { limit: 9223372036854771712, usage: 94208, max: 208896, failcnt: 0 });
});

t.test('v2: the values ctr task metrics prints on a v2 host, cpu back in microseconds', async (t) => {
  const a = metricsAny(V2, true);
  t.equal(a.type_url, V2_METRICS);
  const m = decode(a);
  // ctr's v2 table: pids.current/limit, cpu.*_usec, nr_periods, nr_throttled, memory.usage/usage_limit/swap_*.
  t.same(m.pids, { current: 1, limit: 20 });
  t.same(m.cpu, { usageUsec: 428909, userUsec: 96655, systemUsec: 332253, nrPeriods: 0, nrThrottled: 0, throttledUsec: 0 });
  t.match(m.memory, { usage: 8945664, usageLimit: 67108864, swapUsage: 0, swapLimit: 0 });
  t.match(m.memory, { anon: 49152, file: 8388608, shmem: 8388608, inactiveAnon: 8433664, activeAnon: 4096, slab: 45552, slabReclaimable: 25648, slabUnreclaimable: 19904, pgfault: 380 });
  t.same(m.memoryEvents, { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 });
  t.equal(m.io, null, 'no block device, no io');
  t.same(m.hugetlb, []);
});

t.test('v2: field numbers are containerd\'s (pids 1, cpu 2, memory 4 with usage 32), not v1\'s', async (t) => {
  const s = { pids: { current: 1, limit: 20 } } as StatsJson;
  t.equal(codec(V2_METRICS).encode(metricsV2(s)).toString('hex'), '0a0408011014');
  t.equal(codec(V1_METRICS).encode(metricsV1(s)).toString('hex'), '120408011014');
  const cpu = { usage: { total: 5000, percpu: [], kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } };
  t.equal(codec(V2_METRICS).encode(metricsV2({ cpu })).toString('hex'), '12020805', 'usage_usec is field 1 of CPUStat');
  const entry = { limit: 0, usage: 0, max: 0, failcnt: 0 };
  const memory = { cache: 0, usage: { ...entry, usage: 5 }, swap: entry, kernel: entry, kernelTCP: entry, raw: {} };
  t.equal(codec(V2_METRICS).encode(metricsV2({ memory })).toString('hex'), '2203800205' + '4200', 'usage is field 32; memory_events 8');
});

t.test('v2: io.stat\'s Read/Write pairs become one entry per device', async (t) => {
  const e = (major: number, minor: number, op: string, value: number) => ({ major, minor, op, value });
  const m = decode(metricsAny(JSON.stringify({
    blkio: {
      ioServiceBytesRecursive: [e(8, 0, 'Read', 4096), e(8, 0, 'Write', 8192), e(253, 1, 'Read', 0), e(253, 1, 'Write', 512)],
      ioServicedRecursive: [e(8, 0, 'Read', 1), e(8, 0, 'Write', 2), e(253, 1, 'Read', 0), e(253, 1, 'Write', 1)],
    },
  }), true));
  t.same(m.io.usage, [
    { major: 8, minor: 0, rbytes: 4096, wbytes: 8192, rios: 1, wios: 2 },
    { major: 253, minor: 1, rbytes: 0, wbytes: 512, rios: 0, wios: 1 },
  ]);
});

t.test('v2: workingset counters the kernel splits by anon and file are summed; hugetlb by page size', async (t) => {
  const entry = { limit: 0, usage: 0, max: 0, failcnt: 3 };
  const memory = { cache: 0, usage: entry, swap: entry, kernel: entry, kernelTCP: entry, raw: { workingset_refault_anon: 2, workingset_refault_file: 5, workingset_activate: 7 } };
  const m = decode(metricsAny(JSON.stringify({ memory, hugetlb: { '2MB': { usage: 4194304, max: 6291456, failcnt: 0 } } }), true));
  t.equal(m.memory.workingsetRefault, 7);
  t.equal(m.memory.workingsetActivate, 7, 'an old kernel\'s single key');
  t.equal(m.memoryEvents.max, 3, 'memory.max hits (usage failcnt)');
  t.same(m.hugetlb, [{ current: 4194304, max: 6291456, pagesize: '2MB' }]);
});

t.test('the version follows the host: v2 only on a unified one', async (t) => {
  t.equal(metricsAny(V1).type_url, detectMode(realFs) === 'v2' ? V2_METRICS : V1_METRICS);
});
