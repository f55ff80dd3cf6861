import { posix } from 'node:path';
import type { CgroupFs } from './fs';

// runc's `events` shape (types/events.go), so tools that read runc's output read ours.
// Counters are bigint: they are 64-bit (an unlimited memory limit reads
// 9223372036854771712), and a number would round them. Write them with a
// serializer that keeps their digits (@runts/cli's json.ts).

/** A 64-bit counter, exact. */
export type U64 = bigint;

export interface MemoryEntry {
  limit: U64;
  usage: U64;
  max: U64;
  failcnt: U64;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: U64;
}

export interface Stats {
  cpu: {
    usage: { total: U64; percpu: U64[]; kernel: U64; user: U64 };
    throttling: { periods: U64; throttledPeriods: U64; throttledTime: U64 };
  };
  memory: { cache: U64; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw: Record<string, U64> };
  pids: { current: U64; limit: U64 };
  blkio: { ioServiceBytesRecursive: BlkioEntry[]; ioServicedRecursive: BlkioEntry[] };
  hugetlb: Record<string, { usage: U64; max: U64; failcnt: U64 }>;
}

/** A counter as the kernel writes it; anything else (a missing file, "max") is 0. */
function u64(v: string | undefined): U64 {
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : 0n;
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
  // "max" is unlimited; runc reports 0 for an unlimited pids.max and memory.max.
  const num = (file: string | undefined): U64 => u64(text(file)?.trim());
  const kv = (file: string | undefined): Record<string, U64> => {
    const out: Record<string, U64> = {};
    for (const line of (text(file) ?? '').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) out[k] = u64(v);
    }
    return out;
  };
  return { text, num, kv };
}

function blkioLines(s: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (s ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line);
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: BigInt(m[4]!) });
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
  const tick = 10_000_000n; // USER_HZ is 100: ns per tick
  const raw = kv(at('memory', 'memory.stat'));
  const hugetlb: Stats['hugetlb'] = {};
  for (const size of HUGE_PAGE_SIZES) {
    const usage = text(at('hugetlb', `hugetlb.${size}.usage_in_bytes`));
    if (usage === undefined) continue;
    hugetlb[size] = { usage: u64(usage.trim()), max: num(at('hugetlb', `hugetlb.${size}.max_usage_in_bytes`)), failcnt: num(at('hugetlb', `hugetlb.${size}.failcnt`)) };
  }
  // blkio.throttle.* is there with every I/O scheduler; the plain files only with CFQ.
  const blk = (name: string) => blkioLines(text(at('blkio', `blkio.throttle.${name}`)) ?? text(at('blkio', `blkio.${name}`)));
  return {
    cpu: {
      usage: {
        total: num(at('cpuacct', 'cpuacct.usage')),
        percpu: (text(at('cpuacct', 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(u64),
        kernel: (acct['system'] ?? 0n) * tick,
        user: (acct['user'] ?? 0n) * tick,
      },
      throttling: { periods: cpuStat['nr_periods'] ?? 0n, throttledPeriods: cpuStat['nr_throttled'] ?? 0n, throttledTime: cpuStat['throttled_time'] ?? 0n },
    },
    memory: {
      cache: raw['total_cache'] ?? raw['cache'] ?? 0n,
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
    rbytes.push({ ...dev, op: 'Read', value: u64(f['rbytes']) }, { ...dev, op: 'Write', value: u64(f['wbytes']) });
    rios.push({ ...dev, op: 'Read', value: u64(f['rios']) }, { ...dev, op: 'Write', value: u64(f['wios']) });
  }
  return {
    cpu: {
      usage: { total: (cpu['usage_usec'] ?? 0n) * 1000n, percpu: [], kernel: (cpu['system_usec'] ?? 0n) * 1000n, user: (cpu['user_usec'] ?? 0n) * 1000n },
      throttling: { periods: cpu['nr_periods'] ?? 0n, throttledPeriods: cpu['nr_throttled'] ?? 0n, throttledTime: (cpu['throttled_usec'] ?? 0n) * 1000n },
    },
    memory: {
      cache: raw['file'] ?? 0n,
      usage: { usage: num(at('memory.current')), max: num(at('memory.peak')), limit: num(at('memory.max')), failcnt: events['max'] ?? 0n },
      swap: { usage: num(at('memory.swap.current')), max: num(at('memory.swap.peak')), limit: num(at('memory.swap.max')), failcnt: swapEvents['max'] ?? 0n },
      kernel: { usage: raw['kernel'] ?? 0n, max: 0n, limit: 0n, failcnt: 0n },
      kernelTCP: { usage: raw['sock'] ?? 0n, max: 0n, limit: 0n, failcnt: 0n },
      raw,
    },
    pids: { current: num(at('pids.current')), limit: num(at('pids.max')) },
    blkio: { ioServiceBytesRecursive: rbytes, ioServicedRecursive: rios },
    hugetlb: {},
  };
}
