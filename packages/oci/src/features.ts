import { OCI_VERSION } from './defaults';
import { CAPABILITIES, HOOK_KINDS, NAMESPACE_TYPES } from './names';

/** What depends on the runtime build and the host, filled in by the runtime. */
export interface FeatureInputs {
  mountOptions: string[];
  seccomp?: { actions: string[]; operators: string[]; archs: string[]; knownFlags: string[]; supportedFlags: string[] };
  cgroup?: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
  idmapMounts?: boolean;
}

/** The `runts features` document, shaped like runc's. */
export function features(f: FeatureInputs): object {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_KINDS],
    mountOptions: [...f.mountOptions].sort(),
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: f.cgroup ?? { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: f.seccomp ? { enabled: true, ...f.seccomp } : { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: f.idmapMounts ?? false } },
    },
    annotations: {
      'org.opencontainers.runtime-spec.features.ociVersionMax': OCI_VERSION,
      'io.github.runts.version': '0.1.0',
    },
  };
}
