/** The OCI runtime-spec config (v1.2) as one TypeBox schema: the TS types
 * below and the validator both come from it. Unknown properties are allowed,
 * as the spec allows extensions; known ones must have the right type. */
import { Type, type Static } from '@sinclair/typebox';

const Str = Type.String();
const Int = Type.Integer();
const UInt = Type.Integer({ minimum: 0 });
const Num64 = Type.Integer(); // JSON numbers; 64-bit values past 2^53 lose precision, as in JS everywhere
const Opt = Type.Optional;
const StrList = Type.Array(Str);
const StrMap = Type.Record(Str, Str);

export const IdMappingSchema = Type.Object({ containerID: UInt, hostID: UInt, size: UInt });

export const MountSchema = Type.Object({
  destination: Str,
  type: Opt(Str),
  source: Opt(Str),
  options: Opt(StrList),
  uidMappings: Opt(Type.Array(IdMappingSchema)),
  gidMappings: Opt(Type.Array(IdMappingSchema)),
});

export const RootSchema = Type.Object({ path: Str, readonly: Opt(Type.Boolean()) });

export const UserSchema = Type.Object({
  uid: UInt,
  gid: UInt,
  umask: Opt(UInt),
  additionalGids: Opt(Type.Array(UInt)),
  username: Opt(Str),
});

export const CapabilitiesSchema = Type.Object({
  bounding: Opt(StrList),
  effective: Opt(StrList),
  inheritable: Opt(StrList),
  permitted: Opt(StrList),
  ambient: Opt(StrList),
});

export const RlimitSchema = Type.Object({ type: Str, soft: UInt, hard: UInt });

export const SchedulerSchema = Type.Object({
  policy: Str,
  nice: Opt(Int),
  priority: Opt(Int),
  flags: Opt(StrList),
  runtime: Opt(UInt),
  deadline: Opt(UInt),
  period: Opt(UInt),
});

export const ProcessSchema = Type.Object({
  terminal: Opt(Type.Boolean()),
  consoleSize: Opt(Type.Object({ height: UInt, width: UInt })),
  user: UserSchema,
  args: Opt(StrList),
  commandLine: Opt(Str),
  env: Opt(StrList),
  cwd: Str,
  capabilities: Opt(CapabilitiesSchema),
  rlimits: Opt(Type.Array(RlimitSchema)),
  noNewPrivileges: Opt(Type.Boolean()),
  apparmorProfile: Opt(Str),
  oomScoreAdj: Opt(Int),
  scheduler: Opt(SchedulerSchema),
  selinuxLabel: Opt(Str),
  ioPriority: Opt(Type.Object({ class: Str, priority: Opt(Int) })),
  execCPUAffinity: Opt(Type.Object({ initial: Opt(Str), final: Opt(Str) })),
});

export const HookSchema = Type.Object({ path: Str, args: Opt(StrList), env: Opt(StrList), timeout: Opt(Int) });
const HookList = Opt(Type.Array(HookSchema));
export const HooksSchema = Type.Object({
  prestart: HookList,
  createRuntime: HookList,
  createContainer: HookList,
  startContainer: HookList,
  poststart: HookList,
  poststop: HookList,
});

export const NamespaceSchema = Type.Object({ type: Str, path: Opt(Str) });

export const DeviceSchema = Type.Object({
  type: Str,
  path: Str,
  major: Opt(Int),
  minor: Opt(Int),
  fileMode: Opt(UInt),
  uid: Opt(UInt),
  gid: Opt(UInt),
});

const DeviceCgroupSchema = Type.Object({
  allow: Type.Boolean(),
  type: Opt(Str),
  major: Opt(Int),
  minor: Opt(Int),
  access: Opt(Str),
});
const WeightDevice = Type.Object({ major: Int, minor: Int, weight: Opt(UInt), leafWeight: Opt(UInt) });
const ThrottleDevice = Type.Object({ major: Int, minor: Int, rate: UInt });

export const ResourcesSchema = Type.Object({
  devices: Opt(Type.Array(DeviceCgroupSchema)),
  memory: Opt(
    Type.Object({
      limit: Opt(Num64),
      reservation: Opt(Num64),
      swap: Opt(Num64),
      kernel: Opt(Num64),
      kernelTCP: Opt(Num64),
      swappiness: Opt(UInt),
      disableOOMKiller: Opt(Type.Boolean()),
      useHierarchy: Opt(Type.Boolean()),
      checkBeforeUpdate: Opt(Type.Boolean()),
    }),
  ),
  cpu: Opt(
    Type.Object({
      shares: Opt(UInt),
      quota: Opt(Num64),
      burst: Opt(UInt),
      period: Opt(UInt),
      realtimeRuntime: Opt(Num64),
      realtimePeriod: Opt(UInt),
      cpus: Opt(Str),
      mems: Opt(Str),
      idle: Opt(Int),
    }),
  ),
  blockIO: Opt(
    Type.Object({
      weight: Opt(UInt),
      leafWeight: Opt(UInt),
      weightDevice: Opt(Type.Array(WeightDevice)),
      throttleReadBpsDevice: Opt(Type.Array(ThrottleDevice)),
      throttleWriteBpsDevice: Opt(Type.Array(ThrottleDevice)),
      throttleReadIOPSDevice: Opt(Type.Array(ThrottleDevice)),
      throttleWriteIOPSDevice: Opt(Type.Array(ThrottleDevice)),
    }),
  ),
  hugepageLimits: Opt(Type.Array(Type.Object({ pageSize: Str, limit: UInt }))),
  network: Opt(Type.Object({ classID: Opt(UInt), priorities: Opt(Type.Array(Type.Object({ name: Str, priority: UInt }))) })),
  pids: Opt(Type.Object({ limit: Num64 })),
  rdma: Opt(Type.Record(Str, Type.Object({ hcaHandles: Opt(UInt), hcaObjects: Opt(UInt) }))),
  unified: Opt(StrMap),
});

const SeccompArg = Type.Object({ index: UInt, value: Num64, valueTwo: Opt(Num64), op: Str });
export const SeccompSchema = Type.Object({
  defaultAction: Str,
  defaultErrnoRet: Opt(UInt),
  architectures: Opt(StrList),
  flags: Opt(StrList),
  listenerPath: Opt(Str),
  listenerMetadata: Opt(Str),
  syscalls: Opt(
    Type.Array(
      Type.Object({
        names: StrList,
        action: Str,
        errnoRet: Opt(UInt),
        args: Opt(Type.Array(SeccompArg)),
      }),
    ),
  ),
});

export const LinuxSchema = Type.Object({
  namespaces: Opt(Type.Array(NamespaceSchema)),
  uidMappings: Opt(Type.Array(IdMappingSchema)),
  gidMappings: Opt(Type.Array(IdMappingSchema)),
  timeOffsets: Opt(Type.Record(Str, Type.Object({ secs: Opt(Int), nanosecs: Opt(UInt) }))),
  devices: Opt(Type.Array(DeviceSchema)),
  cgroupsPath: Opt(Str),
  resources: Opt(ResourcesSchema),
  intelRdt: Opt(Type.Object({ closID: Opt(Str), l3CacheSchema: Opt(Str), memBwSchema: Opt(Str) })),
  sysctl: Opt(StrMap),
  seccomp: Opt(SeccompSchema),
  rootfsPropagation: Opt(Str),
  maskedPaths: Opt(StrList),
  readonlyPaths: Opt(StrList),
  mountLabel: Opt(Str),
  personality: Opt(Type.Object({ domain: Str, flags: Opt(StrList) })),
});

export const SpecSchema = Type.Object({
  ociVersion: Str,
  root: Opt(RootSchema),
  mounts: Opt(Type.Array(MountSchema)),
  process: Opt(ProcessSchema),
  hostname: Opt(Str),
  domainname: Opt(Str),
  hooks: Opt(HooksSchema),
  annotations: Opt(StrMap),
  linux: Opt(LinuxSchema),
});

export type Spec = Static<typeof SpecSchema>;
export type Root = Static<typeof RootSchema>;
export type Mount = Static<typeof MountSchema>;
export type Process = Static<typeof ProcessSchema>;
export type User = Static<typeof UserSchema>;
export type LinuxCapabilities = Static<typeof CapabilitiesSchema>;
export type POSIXRlimit = Static<typeof RlimitSchema>;
export type Hook = Static<typeof HookSchema>;
export type Hooks = Static<typeof HooksSchema>;
export type Linux = Static<typeof LinuxSchema>;
export type LinuxNamespace = Static<typeof NamespaceSchema>;
export type LinuxIdMapping = Static<typeof IdMappingSchema>;
export type LinuxDevice = Static<typeof DeviceSchema>;
export type LinuxResources = Static<typeof ResourcesSchema>;
export type LinuxSeccomp = Static<typeof SeccompSchema>;
