import { RuntsError, isRuntsError } from '@runts/errors';
import { validateConfig, type LinuxResources } from '@runts/oci';
import { withoutUnset } from './unset';

// `update`: runc's flags or a LinuxResources JSON become a patch; the patch is
// merged into what the container has (fields left out stay as they were).

/** The flags of `runc update`, as strings straight from the command line. */
export interface UpdateFlags {
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  cpuShares?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpuBurst?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuIdle?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  blkioWeight?: string;
  pidsLimit?: string;
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** A memory size as runc reads one: `1024`, `32m`, `1.5g`, `64MiB`, `2 GB` (powers of 1024); `-1` is unlimited. */
export function parseSize(value: string, flag: string): number {
  const s = value.trim();
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$/i.exec(s);
  if (!m) throw new RuntsError('ERR_USAGE', `invalid value for --${flag}: "${value}" is not a size (e.g. 1024, 32m, 1g, or -1)`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new RuntsError('ERR_USAGE', `invalid value for --${flag}: "${value}" is too large`);
  return bytes;
}

function parseInteger(value: string, flag: string, unsigned: boolean): number {
  const s = value.trim();
  if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(s) || !Number.isSafeInteger(Number(s))) {
    throw new RuntsError('ERR_USAGE', `invalid value for --${flag}: "${value}" is not ${unsigned ? 'an unsigned' : 'an'} integer`);
  }
  return Number(s);
}

export interface Patch {
  resources: LinuxResources;
  warnings: string[];
}

/** runc's flags → a resources patch holding only what was given. */
export function resourcesFromFlags(f: UpdateFlags): Patch {
  const r: LinuxResources = {};
  const warnings: string[] = [];
  const mem = (): NonNullable<LinuxResources['memory']> => (r.memory ??= {});
  const cpu = (): NonNullable<LinuxResources['cpu']> => (r.cpu ??= {});
  if (f.memory !== undefined) mem().limit = parseSize(f.memory, 'memory');
  if (f.memoryReservation !== undefined) mem().reservation = parseSize(f.memoryReservation, 'memory-reservation');
  if (f.memorySwap !== undefined) mem().swap = parseSize(f.memorySwap, 'memory-swap');
  const kmem = [f.kernelMemory !== undefined && parseSize(f.kernelMemory, 'kernel-memory'), f.kernelMemoryTcp !== undefined && parseSize(f.kernelMemoryTcp, 'kernel-memory-tcp')];
  if (kmem.some((v) => v !== false && v !== 0)) warnings.push('kernel memory settings are ignored and will be removed');
  if (f.cpuShares !== undefined) cpu().shares = parseInteger(f.cpuShares, 'cpu-shares', true);
  if (f.cpuPeriod !== undefined) cpu().period = parseInteger(f.cpuPeriod, 'cpu-period', true);
  if (f.cpuQuota !== undefined) cpu().quota = parseInteger(f.cpuQuota, 'cpu-quota', false);
  if (f.cpuBurst !== undefined) cpu().burst = parseInteger(f.cpuBurst, 'cpu-burst', true);
  if (f.cpuRtPeriod !== undefined) cpu().realtimePeriod = parseInteger(f.cpuRtPeriod, 'cpu-rt-period', true);
  if (f.cpuRtRuntime !== undefined) cpu().realtimeRuntime = parseInteger(f.cpuRtRuntime, 'cpu-rt-runtime', false);
  if (f.cpuIdle !== undefined) cpu().idle = parseInteger(f.cpuIdle, 'cpu-idle', false);
  if (f.cpusetCpus) cpu().cpus = f.cpusetCpus;
  if (f.cpusetMems) cpu().mems = f.cpusetMems;
  // runc: a blkio weight of 0 means "not given".
  if (f.blkioWeight !== undefined) {
    const w = parseInteger(f.blkioWeight, 'blkio-weight', true);
    if (w !== 0) r.blockIO = { weight: w };
  }
  if (f.pidsLimit !== undefined) r.pids = { limit: parseInteger(f.pidsLimit, 'pids-limit', false) };
  return { resources: r, warnings };
}

/** `--resources` JSON, checked against config.json's schema; errors name the field. */
export function parseResourcesJson(text: string, source: string): Patch {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RuntsError('ERR_CONFIG_INVALID', `--resources ${source}: invalid JSON: ${(e as Error).message}`, { file: source });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RuntsError('ERR_CONFIG_INVALID', `--resources ${source}: must be a JSON object (LinuxResources)`, { file: source });
  }
  let r: LinuxResources;
  try {
    r = validateConfig({ ociVersion: '1.0.0', linux: { resources: value } }).linux!.resources!;
  } catch (e) {
    if (!isRuntsError(e)) throw e;
    const msg = e.message.replace(/^linux\.resources\.?/, '');
    throw new RuntsError('ERR_CONFIG_INVALID', `--resources ${source}: ${msg}`, { file: source, ...(e.detail.path ? { path: e.detail.path } : {}) });
  }
  const warnings: string[] = [];
  if (r.memory && ((r.memory.kernel ?? 0) !== 0 || (r.memory.kernelTCP ?? 0) !== 0)) warnings.push('kernel memory settings are ignored and will be removed');
  if (r.memory) {
    delete r.memory.kernel;
    delete r.memory.kernelTCP;
  }
  // As runc, update leaves device rules alone.
  delete r.devices;
  return { resources: r, warnings };
}

type Dev = { major: number; minor: number };

function upsert<T extends Dev>(old: T[] | undefined, add: T[] | undefined): T[] | undefined {
  if (!add) return old;
  const out = [...(old ?? [])];
  for (const d of add) {
    const i = out.findIndex((o) => o.major === d.major && o.minor === d.minor);
    if (i >= 0) out[i] = { ...out[i]!, ...d };
    else out.push(d);
  }
  return out;
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The container's resources after the patch: given fields replace, the rest stay. */
export function mergeResources(current: LinuxResources | undefined, patch: LinuxResources): LinuxResources {
  const out: LinuxResources = structuredClone(current ?? {});
  if (patch.memory) out.memory = { ...out.memory, ...defined(patch.memory) };
  if (patch.cpu) out.cpu = { ...out.cpu, ...defined(patch.cpu) };
  if (patch.pids) out.pids = { ...patch.pids };
  if (patch.blockIO) {
    const b = { ...out.blockIO };
    const p = patch.blockIO;
    if (p.weight !== undefined) b.weight = p.weight;
    if (p.leafWeight !== undefined) b.leafWeight = p.leafWeight;
    for (const k of ['weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      const merged = upsert<Dev>(b[k], p[k]);
      if (merged) (b as Record<string, unknown>)[k] = merged;
    }
    out.blockIO = b;
  }
  if (patch.hugepageLimits) {
    const h = [...(out.hugepageLimits ?? [])];
    for (const l of patch.hugepageLimits) {
      const i = h.findIndex((x) => x.pageSize === l.pageSize);
      if (i >= 0) h[i] = l;
      else h.push(l);
    }
    out.hugepageLimits = h;
  }
  if (patch.network) out.network = { ...out.network, ...defined(patch.network) };
  if (patch.rdma) out.rdma = { ...out.rdma, ...patch.rdma };
  if (patch.unified) out.unified = { ...out.unified, ...patch.unified };
  return out;
}

/** What to write for a patch: the patch itself, plus the partners some files
 * need (cpu.max holds quota and period; v2 swap is counted from the limit). */
export function writesFor(merged: LinuxResources, patch: LinuxResources): LinuxResources {
  const w: LinuxResources = structuredClone(patch);
  if (w.cpu && (w.cpu.quota !== undefined || w.cpu.period !== undefined)) {
    const { quota, period } = merged.cpu ?? {};
    if (quota !== undefined) w.cpu.quota = quota;
    if (period !== undefined) w.cpu.period = period;
  }
  if (w.memory) {
    // An unlimited memory limit with a limited memsw is refused (EINVAL): lift both.
    if (w.memory.limit === -1 && w.memory.swap === undefined && merged.memory?.swap !== undefined) w.memory.swap = -1;
    if (w.memory.swap !== undefined && w.memory.limit === undefined && merged.memory?.limit !== undefined) w.memory.limit = merged.memory.limit;
  }
  return w;
}

/** The merged resources to keep, and the writes that get the cgroup there. */
export function planUpdate(current: LinuxResources | undefined, given: LinuxResources): { merged: LinuxResources; writes: LinuxResources } {
  const patch = withoutUnset(given);
  const first = mergeResources(current, patch);
  const writes = writesFor(first, patch);
  return { merged: mergeResources(first, writes), writes };
}
