import { posix } from 'node:path';
import { RuntsError } from '@runts/errors';
import type { LinuxResources } from '@runts/oci';
import type { CgroupFs } from './fs';
import { writer } from './v1';
import { attachDeviceProgram, deviceProgram, type BpfSys } from './ebpf';

/** runc's conversion of cpu.shares (2..262144) to cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** blkio weight (10..1000) to io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/** The v2 controllers the resources write to, each with the config path of the first setting that needs it. */
export function v2Controllers(r: LinuxResources): Map<string, string> {
  const need = new Map<string, string>();
  const add = (c: string, path: string) => need.has(c) || need.set(c, `linux.resources.${path}`);
  const m = r.memory;
  if (m && (m.limit !== undefined || m.reservation !== undefined || m.swap !== undefined)) add('memory', 'memory');
  const c = r.cpu;
  if (c && [c.shares, c.quota, c.period, c.burst, c.idle].some((v) => v !== undefined)) add('cpu', 'cpu');
  if (c?.cpus || c?.mems) add('cpuset', c.cpus ? 'cpu.cpus' : 'cpu.mems');
  if (r.pids) add('pids', 'pids');
  const b = r.blockIO;
  if (b && (b.weight !== undefined || [b.weightDevice, b.throttleReadBpsDevice, b.throttleWriteBpsDevice, b.throttleReadIOPSDevice, b.throttleWriteIOPSDevice].some((l) => l?.length))) add('io', 'blockIO');
  if (r.hugepageLimits?.length) add('hugetlb', 'hugepageLimits');
  if (Object.keys(r.rdma ?? {}).length) add('rdma', 'rdma');
  // memory.high needs memory; cgroup.* files are the core's, in every cgroup.
  for (const file of Object.keys(r.unified ?? {})) {
    const prefix = file.split('.')[0]!;
    if (prefix !== 'cgroup' && file.includes('.')) add(prefix, `unified.${file}`);
  }
  return need;
}

const words = (fs: CgroupFs, file: string) => fs.read(file).trim().split(/\s+/).filter(Boolean);

/** The cgroups from the v2 root down to dir's parent: where dir's controllers must be enabled. */
export function v2Parents(root: string, dir: string): string[] {
  const out: string[] = [];
  for (let p = posix.dirname(dir); p.startsWith(root); p = posix.dirname(p)) {
    out.unshift(p);
    if (p === root) break;
  }
  return out;
}

/** Enables controllers in one cgroup's subtree_control. With `need` (controller → config path), each must be
 * enabled or an error names it and the cgroup; without, every one listed in cgroup.controllers is tried, as runc
 * does at create, so stats have their files too, and one that cannot be enabled is left to the setting that needs it. */
export function enableControllers(fs: CgroupFs, parent: string, need?: Map<string, string>): void {
  const control = posix.join(parent, 'cgroup.subtree_control');
  const enabled = new Set(words(fs, control));
  const want = need ? [...need.keys()] : words(fs, posix.join(parent, 'cgroup.controllers'));
  const missing = want.filter((c) => !enabled.has(c));
  if (missing.length === 0) return;
  if (!need) {
    try {
      fs.write(control, missing.map((c) => `+${c}`).join(' '));
    } catch {
      // All or nothing failed (a process in this cgroup, or not ours): take what one by one can.
      for (const c of missing) {
        try {
          fs.write(control, `+${c}`);
        } catch {
          /* left to set(), which names it */
        }
      }
    }
    return;
  }
  const available = new Set(words(fs, posix.join(parent, 'cgroup.controllers')));
  for (const c of missing) {
    const path = need.get(c)!;
    if (!available.has(c)) {
      throw new RuntsError('ERR_CGROUP', `${path}: the ${c} controller is not available in ${parent} (not in its cgroup.controllers: not enabled or not delegated above it)`, { path });
    }
    try {
      fs.write(control, `+${c}`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new RuntsError('ERR_CGROUP', `${path}: cannot enable the ${c} controller in ${control}${code ? `: ${code}` : ''}`, { path, ...(code ? { errno: code } : {}) });
    }
  }
}

export function setV2(fs: CgroupFs, dir: string, r: LinuxResources, bpf?: BpfSys): void {
  const w = writer(fs, () => dir);
  const base = 'linux.resources';
  const m = r.memory;
  if (m) {
    const p = `${base}.memory`;
    if (m.limit !== undefined) w('memory', 'memory.max', m.limit < 0 ? 'max' : m.limit, `${p}.limit`);
    if (m.reservation !== undefined) w('memory', 'memory.low', m.reservation, `${p}.reservation`);
    // OCI swap is memory+swap; v2 counts swap alone.
    if (m.swap !== undefined) {
      const swap = m.swap < 0 ? 'max' : m.limit !== undefined && m.limit > 0 ? Math.max(0, m.swap - m.limit) : m.swap;
      w('memory', 'memory.swap.max', swap, `${p}.swap`);
    }
    if (m.disableOOMKiller) throw new RuntsError('ERR_CGROUP', `${p}.disableOOMKiller: not available with cgroup v2`, { path: `${p}.disableOOMKiller` });
  }
  const c = r.cpu;
  if (c) {
    const p = `${base}.cpu`;
    if (c.shares !== undefined) w('cpu', 'cpu.weight', sharesToWeight(c.shares), `${p}.shares`);
    if (c.quota !== undefined || c.period !== undefined) {
      const quota = c.quota === undefined || c.quota <= 0 ? 'max' : c.quota;
      w('cpu', 'cpu.max', `${quota} ${c.period ?? 100000}`, `${p}.quota`);
    }
    if (c.burst !== undefined) w('cpu', 'cpu.max.burst', c.burst, `${p}.burst`);
    if (c.idle !== undefined) w('cpu', 'cpu.idle', c.idle, `${p}.idle`);
    if (c.cpus) w('cpuset', 'cpuset.cpus', c.cpus, `${p}.cpus`);
    if (c.mems) w('cpuset', 'cpuset.mems', c.mems, `${p}.mems`);
  }
  if (r.pids) w('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max', `${base}.pids.limit`);
  const b = r.blockIO;
  if (b) {
    const p = `${base}.blockIO`;
    if (b.weight !== undefined) w('io', 'io.weight', blkioToIoWeight(b.weight), `${p}.weight`);
    (b.weightDevice ?? []).forEach((d, i) => d.weight !== undefined && w('io', 'io.weight', `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`, `${p}.weightDevice[${i}]`));
    const keys = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ] as const;
    for (const [key, name] of keys) (b[key] ?? []).forEach((d, i) => w('io', 'io.max', `${d.major}:${d.minor} ${name}=${d.rate}`, `${p}.${key}[${i}]`));
  }
  (r.hugepageLimits ?? []).forEach((h, i) => w('hugetlb', `hugetlb.${h.pageSize}.max`, h.limit, `${base}.hugepageLimits[${i}]`));
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    const parts = [lim.hcaHandles !== undefined ? `hca_handle=${lim.hcaHandles}` : '', lim.hcaObjects !== undefined ? `hca_object=${lim.hcaObjects}` : ''].filter(Boolean);
    w('rdma', 'rdma.max', `${dev} ${parts.join(' ')}`, `${base}.rdma.${dev}`);
  }
  for (const [file, value] of Object.entries(r.unified ?? {})) {
    if (file.includes('/')) throw new RuntsError('ERR_CGROUP', `${base}.unified.${file}: not a cgroup file name`, { path: `${base}.unified` });
    w('unified', file, value, `${base}.unified.${file}`);
  }
  if (r.devices) {
    const prog = deviceProgram(r.devices);
    if (bpf) attachDeviceProgram(bpf, dir, prog);
    else if (r.devices.some((d) => d.allow || d.access !== 'rwm' || d.type !== undefined)) {
      throw new RuntsError('ERR_UNSUPPORTED', `${base}.devices: device rules on cgroup v2 need the bpf syscall, and none was given`, { path: `${base}.devices` });
    }
  }
}
