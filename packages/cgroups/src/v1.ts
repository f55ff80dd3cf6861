import { posix } from 'node:path';
import { RuntsError } from '@runts/errors';
import type { LinuxResources } from '@runts/oci';
import type { CgroupFs } from './fs';

type DirOf = (controller: string) => string | undefined;

// Devices every container gets on top of its own rules, as runc allows them.
export const DEFAULT_DEVICE_RULES = ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c 10:200 rwm'];

function cgError(path: string, message: string, cause?: unknown): RuntsError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new RuntsError('ERR_CGROUP', `${path}: ${message}${code ? `: ${code}` : ''}`, { path, ...(code ? { errno: code } : {}) });
}

/** Writes one value; a JSON path in the error says which setting failed. */
export function writer(fs: CgroupFs, dirOf: DirOf) {
  return (controller: string, file: string, value: string | number, path: string): void => {
    const d = dirOf(controller);
    if (!d) throw cgError(path, `the ${controller} controller is not available on this host`);
    const f = posix.join(d, file);
    if (!fs.exists(f)) throw cgError(path, `${file} does not exist on this host`);
    try {
      fs.write(f, String(value));
    } catch (e) {
      throw cgError(path, `write ${value} to ${f}`, e);
    }
  };
}

export function deviceRule(d: NonNullable<LinuxResources['devices']>[number]): string {
  const num = (n: number | undefined) => (n === undefined || n < 0 ? '*' : String(n));
  const type = d.type && d.type !== 'a' ? d.type : 'a';
  if (type === 'a' && d.major === undefined && d.minor === undefined) return `a *:* ${d.access ?? 'rwm'}`;
  return `${type} ${num(d.major)}:${num(d.minor)} ${d.access ?? 'rwm'}`;
}

export function setV1(fs: CgroupFs, dirOf: DirOf, r: LinuxResources): void {
  const w = writer(fs, dirOf);
  const base = 'linux.resources';
  const m = r.memory;
  if (m) {
    const p = `${base}.memory`;
    const limit = m.limit;
    const swap = m.swap;
    // memsw must stay >= limit at every step: raise memsw first when growing.
    const setLimit = () => limit !== undefined && w('memory', 'memory.limit_in_bytes', limit, `${p}.limit`);
    const setSwap = () => swap !== undefined && w('memory', 'memory.memsw.limit_in_bytes', swap, `${p}.swap`);
    try {
      setLimit();
      setSwap();
    } catch {
      setSwap();
      setLimit();
    }
    if (m.reservation !== undefined) w('memory', 'memory.soft_limit_in_bytes', m.reservation, `${p}.reservation`);
    if (m.kernelTCP !== undefined) w('memory', 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP, `${p}.kernelTCP`);
    if (m.swappiness !== undefined) {
      if (m.swappiness > 100) throw cgError(`${p}.swappiness`, 'must be between 0 and 100');
      w('memory', 'memory.swappiness', m.swappiness, `${p}.swappiness`);
    }
    if (m.disableOOMKiller) w('memory', 'memory.oom_control', 1, `${p}.disableOOMKiller`);
  }
  const c = r.cpu;
  if (c) {
    const p = `${base}.cpu`;
    if (c.shares !== undefined) w('cpu', 'cpu.shares', c.shares, `${p}.shares`);
    if (c.period !== undefined) w('cpu', 'cpu.cfs_period_us', c.period, `${p}.period`);
    if (c.quota !== undefined) w('cpu', 'cpu.cfs_quota_us', c.quota, `${p}.quota`);
    if (c.burst !== undefined) w('cpu', 'cpu.cfs_burst_us', c.burst, `${p}.burst`);
    if (c.realtimePeriod !== undefined) w('cpu', 'cpu.rt_period_us', c.realtimePeriod, `${p}.realtimePeriod`);
    if (c.realtimeRuntime !== undefined) w('cpu', 'cpu.rt_runtime_us', c.realtimeRuntime, `${p}.realtimeRuntime`);
    if (c.cpus) w('cpuset', 'cpuset.cpus', c.cpus, `${p}.cpus`);
    if (c.mems) w('cpuset', 'cpuset.mems', c.mems, `${p}.mems`);
    if (c.idle !== undefined) w('cpu', 'cpu.idle', c.idle, `${p}.idle`);
  }
  if (r.pids) w('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max', `${base}.pids.limit`);
  const b = r.blockIO;
  if (b) {
    const p = `${base}.blockIO`;
    const dir = dirOf('blkio');
    // Kernels with BFQ only have blkio.bfq.weight.
    const weightFile = dir && fs.exists(posix.join(dir, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight';
    if (b.weight !== undefined) w('blkio', weightFile, b.weight, `${p}.weight`);
    if (b.leafWeight !== undefined) w('blkio', 'blkio.leaf_weight', b.leafWeight, `${p}.leafWeight`);
    (b.weightDevice ?? []).forEach((d, i) => {
      if (d.weight !== undefined) w('blkio', `${weightFile}_device`, `${d.major}:${d.minor} ${d.weight}`, `${p}.weightDevice[${i}]`);
      if (d.leafWeight !== undefined) w('blkio', 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`, `${p}.weightDevice[${i}]`);
    });
    const throttle = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ] as const;
    for (const [key, file] of throttle) {
      (b[key] ?? []).forEach((d, i) => w('blkio', file, `${d.major}:${d.minor} ${d.rate}`, `${p}.${key}[${i}]`));
    }
  }
  (r.hugepageLimits ?? []).forEach((h, i) => w('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit, `${base}.hugepageLimits[${i}]`));
  if (r.network) {
    const p = `${base}.network`;
    if (r.network.classID !== undefined) w('net_cls', 'net_cls.classid', r.network.classID, `${p}.classID`);
    (r.network.priorities ?? []).forEach((x, i) => w('net_prio', 'net_prio.ifpriomap', `${x.name} ${x.priority}`, `${p}.priorities[${i}]`));
  }
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    const parts = [lim.hcaHandles !== undefined ? `hca_handle=${lim.hcaHandles}` : '', lim.hcaObjects !== undefined ? `hca_object=${lim.hcaObjects}` : ''].filter(Boolean);
    w('rdma', 'rdma.max', `${dev} ${parts.join(' ')}`, `${base}.rdma.${dev}`);
  }
  if (r.unified && Object.keys(r.unified).length > 0) throw cgError(`${base}.unified`, 'needs cgroup v2, and this host uses v1');
  if (r.devices) {
    r.devices.forEach((d, i) => w('devices', d.allow ? 'devices.allow' : 'devices.deny', deviceRule(d), `${base}.devices[${i}]`));
    DEFAULT_DEVICE_RULES.forEach((rule) => w('devices', 'devices.allow', rule, `${base}.devices`));
  }
}
