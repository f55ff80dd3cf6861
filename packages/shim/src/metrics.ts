// The runtime's stats (events --stats: runc's shape, whatever the cgroup
// version) as the cgroup metrics containerd's shims return from Stats: the v1
// message on a v1 or hybrid host, the v2 one on a unified host. ctr task
// metrics and the CRI decode either by its type URL.
import { detectMode, realFs } from '@runts/cgroups';
import { codec } from '@runts/proto/light';

/** The runtime's stats as JSON.parse reads them back (bigints become numbers). */
export interface StatsJson {
  cpu?: { usage: { total: number; percpu: number[]; kernel: number; user: number }; throttling: { periods: number; throttledPeriods: number; throttledTime: number } };
  memory?: { cache: number; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw: Record<string, number> };
  pids?: { current: number; limit: number };
  blkio?: { ioServiceBytesRecursive: BlkioEntry[]; ioServicedRecursive: BlkioEntry[] };
  hugetlb?: Record<string, { usage: number; max: number; failcnt: number }>;
}

interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface Any {
  type_url: string;
  value: Buffer;
}

export const V1_METRICS = 'io.containerd.cgroups.v1.Metrics';
export const V2_METRICS = 'io.containerd.cgroups.v2.Metrics';

let unified: boolean | undefined;
/** The stats say nothing of their version, but the runtime's cgroup manager read
 *  v2 files exactly when the host is unified: the same test, made once. */
function hostUnified(): boolean {
  return (unified ??= detectMode(realFs) === 'v2');
}

/** Stats (the JSON Tasks.stats returns) as the metrics Any of a Stats answer. */
export function metricsAny(statsJson: string, v2 = hostUnified()): Any {
  const s = JSON.parse(statsJson) as StatsJson;
  const type = v2 ? V2_METRICS : V1_METRICS;
  return { type_url: type, value: codec(type).encode(v2 ? metricsV2(s) : metricsV1(s)) };
}

/** io.containerd.cgroups.v1.Metrics: memory.stat's keys by their v1 names. */
export function metricsV1(s: StatsJson): Record<string, unknown> {
  const raw = s.memory?.raw ?? {};
  return {
    pids: s.pids ?? null,
    cpu: s.cpu ? { usage: { ...s.cpu.usage, perCpu: s.cpu.usage.percpu }, throttling: s.cpu.throttling } : null,
    memory: s.memory ? {
      cache: s.memory.cache, rss: raw['rss'] ?? 0, rssHuge: raw['rss_huge'] ?? 0, mappedFile: raw['mapped_file'] ?? 0, dirty: raw['dirty'] ?? 0,
      writeback: raw['writeback'] ?? 0, pgPgIn: raw['pgpgin'] ?? 0, pgPgOut: raw['pgpgout'] ?? 0, pgFault: raw['pgfault'] ?? 0, pgMajFault: raw['pgmajfault'] ?? 0,
      inactiveAnon: raw['inactive_anon'] ?? 0, activeAnon: raw['active_anon'] ?? 0, inactiveFile: raw['inactive_file'] ?? 0, activeFile: raw['active_file'] ?? 0,
      unevictable: raw['unevictable'] ?? 0, hierarchicalMemoryLimit: raw['hierarchical_memory_limit'] ?? 0, hierarchicalSwapLimit: raw['hierarchical_memsw_limit'] ?? 0,
      usage: s.memory.usage, swap: s.memory.swap, kernel: s.memory.kernel, kernelTcp: s.memory.kernelTCP,
    } : null,
  };
}

/** The v2 MemoryStat fields that are memory.stat keys of the same name. */
const V2_MEMORY_KEYS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback', 'anon_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable',
  'pgfault', 'pgmajfault', 'workingset_nodereclaim', 'pgrefill', 'pgscan', 'pgsteal', 'pgactivate', 'pgdeactivate',
  'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
];
const camel = (k: string) => k.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase());
const usec = (ns: number) => Math.floor(ns / 1000);

/** io.containerd.cgroups.v2.Metrics: cpu.stat back in microseconds, memory.stat
 *  by its own keys, io.stat's read/write pairs as one entry per device. */
export function metricsV2(s: StatsJson): Record<string, unknown> {
  const raw = s.memory?.raw ?? {};
  // Kernels since 5.9 split these by anon and file; the field is their sum.
  const both = (k: string) => raw[k] ?? (raw[`${k}_anon`] ?? 0) + (raw[`${k}_file`] ?? 0);
  const devices = new Map<string, Record<string, number>>();
  const io = (entries: BlkioEntry[] | undefined, read: string, write: string) => {
    for (const e of entries ?? []) {
      const key = `${e.major}:${e.minor}`;
      const d = devices.get(key) ?? { major: e.major, minor: e.minor };
      devices.set(key, d);
      if (e.op === 'Read') d[read] = e.value;
      else if (e.op === 'Write') d[write] = e.value;
    }
  };
  io(s.blkio?.ioServiceBytesRecursive, 'rbytes', 'wbytes');
  io(s.blkio?.ioServicedRecursive, 'rios', 'wios');
  return {
    pids: s.pids ?? null,
    cpu: s.cpu ? {
      usageUsec: usec(s.cpu.usage.total), userUsec: usec(s.cpu.usage.user), systemUsec: usec(s.cpu.usage.kernel),
      nrPeriods: s.cpu.throttling.periods, nrThrottled: s.cpu.throttling.throttledPeriods, throttledUsec: usec(s.cpu.throttling.throttledTime),
    } : null,
    memory: s.memory ? {
      ...Object.fromEntries(V2_MEMORY_KEYS.map((k) => [camel(k), raw[k] ?? 0])),
      workingsetRefault: both('workingset_refault'), workingsetActivate: both('workingset_activate'),
      usage: s.memory.usage.usage, usageLimit: s.memory.usage.limit, swapUsage: s.memory.swap.usage, swapLimit: s.memory.swap.limit,
    } : null,
    io: devices.size ? { usage: [...devices.values()] } : null,
    hugetlb: Object.entries(s.hugetlb ?? {}).map(([pagesize, h]) => ({ pagesize, current: h.usage, max: h.max })),
    // Of memory.events the stats keep only the count of hits on memory.max (as usage's failcnt).
    memoryEvents: s.memory ? { max: s.memory.usage.failcnt } : null,
  };
}
