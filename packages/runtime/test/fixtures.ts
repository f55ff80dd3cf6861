// A plan context for unit tests: a default config, fds and host facts made up.
import { defaultSpec } from '@runts/oci';
import type { PlanContext } from '../src/plan/build';

export function ctx(patch: (s: any) => void = () => {}, extra: Partial<PlanContext> = {}): PlanContext {
  const spec: any = defaultSpec();
  spec.process.terminal = false;
  patch(spec);
  return {
    spec,
    bundle: '/b',
    rootfs: '/b/rootfs',
    syncFd: 10,
    fifoFd: 11,
    nsFds: new Map(),
    noPivot: false,
    preserveFds: 0,
    cgroupMounts: [{ name: 'cpu,cpuacct', hostPath: '/sys/fs/cgroup/cpu,cpuacct/x', links: ['cpu', 'cpuacct'] }],
    rootParentMount: null,
    hostDeviceExists: () => true,
    isDirectory: () => true,
    ...extra,
  };
}
