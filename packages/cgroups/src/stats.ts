import { posix } from 'node:path';
import type { CgroupFs } from './fs';

// runc's `events` shape (types/events.go), so tools that read runc's output read ours.

export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface Stats {
  cpu: {
    usage: { total: number; percpu: number[]; kernel: number; user: number };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  memory: { cache: number; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw: Record<string, number> };
  pids: { current: number; limit: number };
  blkio: { ioServiceBytesRecursive: BlkioEntry[]; ioServicedRecursive: BlkioEntry[] };
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

type DirOf = (controller: string) => string | undefined;

// The page sizes x86-64 and arm64 kernels offer; the files of absent ones simply are not there.
const HUGE_PAGE_SIZES = ['64KB', '2MB', '32MB', '512MB', '1GB'];

/** Small readers that treat a missing file as zero: a host without a controller still gets stats. */
function readers(fs: CgroupFs) {
  const text = (file: string | undefined): string | undefined => {
    if (!file) return undefined;
    try {
      return fs.read(file);
    } catch {
      return undefined;
    }
  };
  const num = (file: string | undefined): number => {
    const v = text(file)?.trim();
    // "max" is unlimited; runc reports 0 for an unlimited pids.max and memory.max.
    return v === undefined || v === 'max' ? 0 : Number(v) || 0;
  };
  const kv = (file: string | undefined): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const line of (text(file) ?? '').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) out[k] = Number(v);
    }
    return out;
  };
  return { text, num, kv };
}

function blkioLines(s: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (s ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line);
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

export function statsV1(fs: CgroupFs, dirOf: DirOf): Stats {
  const { text, num, kv } = readers(fs);
  const at = (c: string, f: string) => {
    const d = dirOf(c);
    return d ? posix.join(d, f) : undefined;
  };
  const entry = (prefix: string): MemoryEntry => ({
    limit: num(at('memory', `${prefix}limit_in_bytes`)),
    usage: num(at('memory', `${prefix}usage_in_bytes`)),
    max: num(at('memory', `${prefix}max_usage_in_bytes`)),
    failcnt: num(at('memory', `${prefix}failcnt`)),
  });
  const cpuStat = kv(at('cpu', 'cpu.stat'));
  const acct = kv(at('cpuacct', 'cpuacct.stat'));
  const tick = 10_000_000; // USER_HZ is 100: ns per tick
  const raw = kv(at('memory', 'memory.stat'));
  const hugetlb: Stats['hugetlb'] = {};
  for (const size of HUGE_PAGE_SIZES) {
    const usage = text(at('hugetlb', `hugetlb.${size}.usage_in_bytes`));
    if (usage === undefined) continue;
    hugetlb[size] = { usage: Number(usage) || 0, max: num(at('hugetlb', `hugetlb.${size}.max_usage_in_bytes`)), failcnt: num(at('hugetlb', `hugetlb.${size}.failcnt`)) };
  }
  // blkio.throttle.* is there with every I/O scheduler; the plain files only with CFQ.
  const blk = (name: string) => blkioLines(text(at('blkio', `blkio.throttle.${name}`)) ?? text(at('blkio', `blkio.${name}`)));
  return {
    cpu: {
      usage: {
        total: num(at('cpuacct', 'cpuacct.usage')),
        percpu: (text(at('cpuacct', 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
        kernel: (acct['system'] ?? 0) * tick,
        user: (acct['user'] ?? 0) * tick,
      },
      throttling: { periods: cpuStat['nr_periods'] ?? 0, throttledPeriods: cpuStat['nr_throttled'] ?? 0, throttledTime: cpuStat['throttled_time'] ?? 0 },
    },
    memory: {
      cache: raw['total_cache'] ?? raw['cache'] ?? 0,
      usage: entry('memory.'),
      swap: entry('memory.memsw.'),
      kernel: entry('memory.kmem.'),
      kernelTCP: entry('memory.kmem.tcp.'),
      raw,
    },
    pids: { current: num(at('pids', 'pids.current')), limit: num(at('pids', 'pids.max')) },
    blkio: { ioServiceBytesRecursive: blk('io_service_bytes_recursive'), ioServicedRecursive: blk('io_serviced_recursive') },
    hugetlb,
  };
}

export function statsV2(fs: CgroupFs, dir: string): Stats {
  const { text, num, kv } = readers(fs);
  const at = (f: string) => posix.join(dir, f);
  const cpu = kv(at('cpu.stat'));
  const raw = kv(at('memory.stat'));
  const events = kv(at('memory.events'));
  const swapEvents = kv(at('memory.swap.events'));
  const rbytes: BlkioEntry[] = [];
  const rios: BlkioEntry[] = [];
  for (const line of (text(at('io.stat')) ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = Object.fromEntries(m[3]!.split(' ').map((p) => p.split('=') as [string, string]));
    const dev = { major: Number(m[1]), minor: Number(m[2]) };
    rbytes.push({ ...dev, op: 'Read', value: Number(f['rbytes'] ?? 0) }, { ...dev, op: 'Write', value: Number(f['wbytes'] ?? 0) });
    rios.push({ ...dev, op: 'Read', value: Number(f['rios'] ?? 0) }, { ...dev, op: 'Write', value: Number(f['wios'] ?? 0) });
  }
  return {
    cpu: {
      usage: { total: (cpu['usage_usec'] ?? 0) * 1000, percpu: [], kernel: (cpu['system_usec'] ?? 0) * 1000, user: (cpu['user_usec'] ?? 0) * 1000 },
      throttling: { periods: cpu['nr_periods'] ?? 0, throttledPeriods: cpu['nr_throttled'] ?? 0, throttledTime: (cpu['throttled_usec'] ?? 0) * 1000 },
    },
    memory: {
      cache: raw['file'] ?? 0,
      usage: { usage: num(at('memory.current')), max: num(at('memory.peak')), limit: num(at('memory.max')), failcnt: events['max'] ?? 0 },
      swap: { usage: num(at('memory.swap.current')), max: num(at('memory.swap.peak')), limit: num(at('memory.swap.max')), failcnt: swapEvents['max'] ?? 0 },
      kernel: { usage: (raw['kernel'] ?? 0), max: 0, limit: 0, failcnt: 0 },
      kernelTCP: { usage: raw['sock'] ?? 0, max: 0, limit: 0, failcnt: 0 },
      raw,
    },
    pids: { current: num(at('pids.current')), limit: num(at('pids.max')) },
    blkio: { ioServiceBytesRecursive: rbytes, ioServicedRecursive: rios },
    hugetlb: {},
  };
}
