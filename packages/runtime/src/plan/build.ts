import { isAbsolute, join, posix } from 'node:path';
import { CAPABILITIES, RLIMITS, type Hook, type LinuxSeccomp, type Mount, type Process, type Spec } from '@runts/oci';
import { configError } from '@runts/errors';
import type { PlanOp, Arg } from './encode';
import { AT_RECURSIVE, CLONE, MS, NS_FLAG, PR, SIGKILL } from './flags';
import { parseMountOptions, propagationFlag } from './mountopts';
import type { OpName } from './ops';
import { SyncTag } from './ops';

/** The seccomp compiler and its syscall tables, loaded for the configs that need them. */
const seccomp = (): typeof import('@runts/seccomp') => require('@runts/seccomp') as typeof import('@runts/seccomp');

/** One v1 hierarchy (or the v2 dir) the container's cgroup mount shows. */
export interface CgroupMountSource {
  /** Directory name under the mount: `cpu,cpuacct`; '' for v2. */
  name: string;
  /** The container's cgroup directory on the host. */
  hostPath: string;
  /** Extra names that point at it: `cpu`, `cpuacct`. */
  links: string[];
}

/** Everything the plan needs that is not in config.json. */
export interface PlanContext {
  spec: Spec;
  bundle: string;
  rootfs: string;
  syncFd: number;
  fifoFd: number;
  /** fds opened for `linux.namespaces[i].path`, by index; pid is joined by the parent. */
  nsFds: Map<number, number>;
  noPivot: boolean;
  preserveFds: number;
  cgroupMounts: CgroupMountSource[];
  /** Mount point holding the rootfs, made private so pivot_root works with a shared root propagation. */
  rootParentMount: string | null;
  /** Is a device node file on the host (for binding devices in a user namespace)? */
  hostDeviceExists: (path: string) => boolean;
  /** Is the bind source a directory (else it is bound as a file)? */
  isDirectory: (path: string) => boolean;
  /** A connected console socket when process.terminal is set. */
  consoleFd?: number;
  /** The container's fds 0-2 (e.g. a shim's pipes); by default the runtime's own. */
  stdio?: Stdio;
  /** Which LSMs the host enables (a label for one that is off is an error, as in runc). */
  lsm?: Lsm;
  /** Detached idmapped mounts (see plan/idmap.ts) by index in mounts, made by the runtime. */
  mountTrees?: Map<number, number>;
  /** Open v1 `tasks` files the init writes "0" to, joining its cgroups itself. */
  cgroupJoinFds?: number[];
  /** The name of a new session keyring for the container; absent: the caller's is kept (--no-new-keyring). */
  sessionKeyring?: string;
}

// Search permission on the container's keyring, so that its exec'd processes can join it
// by name: for its owner, or for anyone when the owner is a user namespace's root (runc's choice).
const KEY_USR_SEARCH = 0x80000;
const KEY_OTH_SEARCH = 0x8;

/** The child joins its cgroups first, so that its own allocations are charged there. */
function joinCgroups(o: Ops, fds: number[] | undefined): void {
  for (const fd of fds ?? []) o.add('JOIN_CGROUP', [fd], 'linux.cgroupsPath', 'join a cgroup');
}

export interface Lsm {
  apparmor: boolean;
  selinux: boolean;
}

export interface Plan {
  ops: PlanOp[];
  cloneFlags: bigint;
  /** A user namespace joined by path: the clone happens inside it, so that the namespaces it creates belong to it. */
  usernsFd?: number;
}

const DEFAULT_DEVICES = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/tty', major: 5, minor: 0 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/random', major: 1, minor: 8 },
];

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

class Ops {
  readonly list: PlanOp[] = [];
  add(op: OpName, args: Arg[], path: string, what: string): void {
    this.list.push({ op, args, path, what });
  }
}

function makedev(major: number, minor: number): bigint {
  // glibc's encoding: high major bits, then minor.
  const M = BigInt(major);
  const m = BigInt(minor);
  return ((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn);
}

function capMask(names: readonly string[] | undefined, path: string): bigint {
  let mask = 0n;
  (names ?? []).forEach((name, i) => {
    const n = CAPABILITIES[name];
    if (n === undefined) throw configError(`${path}[${i}]`, `unknown capability "${name}"`);
    mask |= 1n << BigInt(n);
  });
  return mask;
}

function hookArgs(h: Hook): { argv: string[]; env: string[] } {
  return { argv: h.args && h.args.length > 0 ? h.args : [h.path], env: h.env ?? [] };
}

function findNs(spec: Spec, type: string): { index: number; path?: string } | undefined {
  const list = spec.linux?.namespaces ?? [];
  const index = list.findIndex((n) => n.type === type);
  if (index < 0) return undefined;
  const ns = list[index]!;
  return ns.path ? { index, path: ns.path } : { index };
}

/** Clone flags: every namespace created new, except those unshared later (cgroup after cgroup placement, time before exec). */
export function cloneFlagsFor(spec: Spec): bigint {
  let flags = 0;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.path || ns.type === 'cgroup' || ns.type === 'time') continue;
    flags |= NS_FLAG[ns.type] ?? 0;
  }
  return BigInt(flags);
}

export type Stdio = readonly [number, number, number];
const INHERIT_STDIO: Stdio = [-1, -1, -1];

/** A context for a plan of no real container: no fds, and every host lookup
 * answered yes (the shim's dry run ahead of its first create, the fuzzer's seeds). */
export function dryPlanContext(spec: Spec, over: Partial<PlanContext> = {}): PlanContext {
  return {
    spec, bundle: '/', rootfs: '/', syncFd: -1, fifoFd: -1, nsFds: new Map(), noPivot: false, preserveFds: 0,
    cgroupMounts: [], rootParentMount: null, hostDeviceExists: () => true, isDirectory: () => true, ...over,
  };
}

export function buildPlan(ctx: PlanContext): Plan {
  const { spec } = ctx;
  const o = new Ops();
  const namespaces = spec.linux?.namespaces ?? [];
  const userNs = findNs(spec, 'user');
  // Without a mount namespace of its own the container's mounts are made in the runtime's, under the rootfs, and it is entered with chroot.
  const ownMountNs = !!findNs(spec, 'mount');
  let usernsFd: number | undefined;
  if (userNs?.path) {
    usernsFd = ctx.nsFds.get(userNs.index);
    if (usernsFd === undefined) throw new Error('no fd for namespace user');
  }

  joinCgroups(o, ctx.cgroupJoinFds);
  // Join namespaces by path, mount last (as runc orders them); the user namespace is joined before the clone.
  const order = ['ipc', 'uts', 'network', 'cgroup', 'time', 'mount'];
  for (const type of order) {
    const ns = findNs(spec, type);
    if (!ns?.path) continue;
    const fd = ctx.nsFds.get(ns.index);
    if (fd === undefined) throw new Error(`no fd for namespace ${type}`);
    o.add('SETNS', [fd, NS_FLAG[type]!], `linux.namespaces[${ns.index}]`, `join ${type} namespace ${ns.path}`);
  }

  o.add('PRCTL', [PR.SET_PDEATHSIG, SIGKILL, 0, 0, 0], 'process', 'die with the runtime during setup');
  o.add('SYNC', [SyncTag.SETUP], 'linux', 'wait for id maps and cgroup placement');
  o.add('SETSID', [], 'process', 'start a new session');
  if (userNs) {
    // Still the host's root, unmapped in the namespace: become its root so files we create have an owner.
    o.add('SETGROUPS', [Buffer.alloc(0), 0, 1], 'linux.gidMappings', 'drop supplementary groups');
    o.add('SETRESGID', [0], 'linux.gidMappings', 'become gid 0 in the user namespace');
    o.add('SETRESUID', [0], 'linux.uidMappings', 'become uid 0 in the user namespace');
  }
  if (ctx.sessionKeyring !== undefined) {
    o.add('KEYRING', [ctx.sessionKeyring, userNs ? KEY_OTH_SEARCH : KEY_USR_SEARCH], 'process', `join a new session keyring ${ctx.sessionKeyring}`);
  }
  o.add('PRCTL', [PR.SET_DUMPABLE, 0, 0, 0, 0], 'process', 'stay non-dumpable until exec');

  const cgroupNs = findNs(spec, 'cgroup');
  if (cgroupNs && !cgroupNs.path) o.add('UNSHARE', [CLONE.NEWCGROUP], `linux.namespaces[${cgroupNs.index}]`, 'create cgroup namespace');
  const timeNs = findNs(spec, 'time');
  if (timeNs && !timeNs.path) {
    o.add('UNSHARE', [CLONE.NEWTIME], `linux.namespaces[${timeNs.index}]`, 'create time namespace');
    const offsets = spec.linux?.timeOffsets ?? {};
    const lines = Object.entries(offsets).map(([clock, v]) => `${clock} ${v.secs ?? 0} ${v.nanosecs ?? 0}\n`);
    if (lines.length > 0) {
      const text = lines.join('');
      o.add('WRITE_FILE', ['/proc/self/timens_offsets', text, Buffer.byteLength(text)], 'linux.timeOffsets', 'write time namespace offsets');
    }
  } else if (spec.linux?.timeOffsets && Object.keys(spec.linux.timeOffsets).length > 0 && !timeNs) {
    throw configError('linux.timeOffsets', 'requires a new time namespace');
  }

  o.add('STDIO', [...(ctx.stdio ?? INHERIT_STDIO)], 'process', 'install stdio');

  // A mount namespace joined by path gets the bundle's rootfs set up inside it, as a new one does (runc, crun).
  buildRootfs(ctx, o, !!userNs, ownMountNs);

  const hooks = spec.hooks ?? {};
  const hasParentHooks = (hooks.prestart?.length ?? 0) + (hooks.createRuntime?.length ?? 0) > 0;
  const createContainer = hooks.createContainer ?? [];
  if (hasParentHooks || createContainer.length > 0) {
    o.add('SYNC', [SyncTag.HOOKS], 'hooks', 'run prestart and createRuntime hooks');
  }
  createContainer.forEach((h, i) => {
    const { argv, env } = hookArgs(h);
    o.add('HOOK', [h.path, argv, env, (h.timeout ?? 0) * 1000], `hooks.createContainer[${i}]`, `run hook ${h.path}`);
  });

  if (!ownMountNs) o.add('CHROOT', [ctx.rootfs], 'linux.namespaces', 'chroot (no mount namespace of its own)');
  else if (ctx.noPivot) o.add('MOVE_ROOT', [ctx.rootfs], 'root.path', 'move the root (--no-pivot)');
  else o.add('PIVOT_ROOT', [ctx.rootfs], 'root.path', 'pivot_root');
  // Before readonlyPaths make /proc/sys read-only (runc's order).
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    checkSysctl(spec, key);
    const file = '/proc/sys/' + key.replace(/\./g, '/');
    o.add('WRITE_FILE', [file, value, Buffer.byteLength(value)], `linux.sysctl.${key}`, `set sysctl ${key}`);
  }
  if (spec.root?.readonly) o.add('READONLY', ['/', 1], 'root.readonly', 'remount / read-only');
  (spec.linux?.readonlyPaths ?? []).forEach((p, i) => o.add('READONLY', [p, 0], `linux.readonlyPaths[${i}]`, `make ${p} read-only`));
  (spec.linux?.maskedPaths ?? []).forEach((p, i) => o.add('MASK', [p], `linux.maskedPaths[${i}]`, `mask ${p} with /dev/null (must be the 1:3 device)`));
  // Last: readonlyPaths bind-mount, which an unbindable / would refuse.
  const prop = spec.linux?.rootfsPropagation;
  if (prop && ownMountNs) o.add('MOUNT', [null, '/', null, propagationFlag(prop)!, null], 'linux.rootfsPropagation', `make / ${prop}`);

  if (spec.hostname !== undefined) o.add('SETHOSTNAME', [spec.hostname], 'hostname', `set hostname ${spec.hostname}`);
  if (spec.domainname !== undefined) o.add('SETDOMAINNAME', [spec.domainname], 'domainname', `set domainname ${spec.domainname}`);

  if (spec.process?.terminal) addConsole(o, spec.process, ctx.consoleFd);
  buildProcess(o, spec.process, {
    preserveFds: ctx.preserveFds,
    inUserNs: !!userNs,
    ...(ctx.lsm ? { lsm: ctx.lsm } : {}),
    ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
    ...(spec.linux?.personality ? { personality: spec.linux.personality } : {}),
    init: { fifoFd: ctx.fifoFd, startHooks: spec.hooks?.startContainer ?? [] },
  });
  const plan: Plan = { ops: o.list, cloneFlags: cloneFlagsFor(spec) };
  if (usernsFd !== undefined) plan.usernsFd = usernsFd;
  return plan;
}

const SCHED_POLICY: Record<string, number> = { SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6 };
const SCHED_FLAG: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 1,
  SCHED_FLAG_RECLAIM: 2,
  SCHED_FLAG_DL_OVERRUN: 4,
  SCHED_FLAG_KEEP_POLICY: 8,
  SCHED_FLAG_KEEP_PARAMS: 16,
  SCHED_FLAG_UTIL_CLAMP_MIN: 32,
  SCHED_FLAG_UTIL_CLAMP_MAX: 64,
};
const IOPRIO_CLASS: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** process.scheduler (sched_setattr) and process.ioPriority (ioprio_set), before privileges drop. */
function addScheduling(o: Ops, p: Process): void {
  const s = p.scheduler;
  if (s) {
    const policy = SCHED_POLICY[s.policy];
    if (policy === undefined) throw configError('process.scheduler.policy', `unknown policy "${s.policy}"`);
    let flags = 0;
    (s.flags ?? []).forEach((f, i) => {
      const v = SCHED_FLAG[f];
      if (v === undefined) throw configError(`process.scheduler.flags[${i}]`, `unknown flag "${f}"`);
      flags |= v;
    });
    // struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes).
    const attr = Buffer.alloc(48);
    attr.writeUInt32LE(48, 0);
    attr.writeUInt32LE(policy, 4);
    attr.writeBigUInt64LE(BigInt(flags), 8);
    attr.writeInt32LE(s.nice ?? 0, 16);
    attr.writeUInt32LE(s.priority ?? 0, 20);
    attr.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
    attr.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
    attr.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
    o.add('SCHED_SETATTR', [attr], 'process.scheduler', `set scheduler ${s.policy}`);
  }
  const io = p.ioPriority;
  if (io) {
    const cls = IOPRIO_CLASS[io.class];
    if (cls === undefined) throw configError('process.ioPriority.class', `unknown class "${io.class}"`);
    o.add('IOPRIO_SET', [(cls << 13) | (io.priority ?? 0)], 'process.ioPriority', `set I/O priority ${io.class}`);
  }
}

/** An exec'd process: joins the init's namespaces, then gets the same process setup. */
export interface ExecContext {
  process: Process;
  /** Open fds of /proc/<init>/ns/<name>, by namespace type; pid is joined by the parent. */
  nsFds: Map<string, number>;
  preserveFds: number;
  consoleFd?: number;
  stdio?: Stdio;
  seccomp?: LinuxSeccomp;
  lsm?: Lsm;
  cgroupJoinFds?: number[];
  /** The container's rootfs, when it has no mount namespace of its own: the process is chrooted there as the init was. */
  chroot?: string;
  /** The init's session keyring, joined by name; absent when it kept the caller's. */
  sessionKeyring?: string;
}

function addConsole(o: Ops, p: Process, fd: number | undefined): void {
  if (fd === undefined) throw configError('process.terminal', 'a terminal needs a console socket (--console-socket)');
  const size = p.consoleSize;
  o.add('CONSOLE', [fd, size?.height ?? 0, size?.width ?? 0], 'process.terminal', 'allocate the pty and send it to the console socket');
}

export function buildExecPlan(ctx: ExecContext): Plan {
  const o = new Ops();
  joinCgroups(o, ctx.cgroupJoinFds);
  // The user namespace is joined before the clone (a rootless caller could not join the pid namespace otherwise).
  for (const type of ['ipc', 'uts', 'network', 'cgroup', 'time', 'mount']) {
    const fd = ctx.nsFds.get(type);
    if (fd !== undefined) o.add('SETNS', [fd, NS_FLAG[type]!], 'linux.namespaces', `join the container's ${type} namespace`);
  }
  // Up to here in an intermediate outside the container's pid namespace: what appears there is already in all the rest.
  o.add('FORK', [], 'linux.namespaces', "join the container's pid namespace");
  o.add('PRCTL', [PR.SET_PDEATHSIG, SIGKILL, 0, 0, 0], 'process', 'die with the runtime during setup');
  o.add('SYNC', [SyncTag.SETUP], 'linux', 'wait for cgroup placement');
  o.add('SETSID', [], 'process', 'start a new session');
  if (ctx.sessionKeyring !== undefined) o.add('KEYRING', [ctx.sessionKeyring, 0], 'process', `join the container's session keyring ${ctx.sessionKeyring}`);
  o.add('PRCTL', [PR.SET_DUMPABLE, 0, 0, 0, 0], 'process', 'stay non-dumpable until exec');
  if (ctx.chroot !== undefined) o.add('CHROOT', [ctx.chroot], 'linux.namespaces', 'chroot into the container (no mount namespace of its own)');
  o.add('STDIO', [...(ctx.stdio ?? INHERIT_STDIO)], 'process', 'install stdio');
  if (ctx.process.terminal) addConsole(o, ctx.process, ctx.consoleFd);
  buildProcess(o, ctx.process, { preserveFds: ctx.preserveFds, inUserNs: ctx.nsFds.has('user'), ...(ctx.seccomp ? { seccomp: ctx.seccomp } : {}), ...(ctx.lsm ? { lsm: ctx.lsm } : {}) });
  const usernsFd = ctx.nsFds.get('user');
  return usernsFd === undefined ? { ops: o.list, cloneFlags: 0n } : { ops: o.list, cloneFlags: 0n, usernsFd };
}

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** Only sysctls that live in one of the container's own namespaces may be set (runc's rule). */
function checkSysctl(spec: Spec, key: string): void {
  const own = (type: string) => (spec.linux?.namespaces ?? []).some((n) => n.type === type && !n.path);
  const path = `linux.sysctl.${key}`;
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
    if (!own('ipc')) throw configError(path, 'needs a new IPC namespace');
  } else if (key.startsWith('net.')) {
    if (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'network')) throw configError(path, 'needs a network namespace');
  } else if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (!own('uts')) throw configError(path, 'needs a new UTS namespace');
  } else {
    throw configError(path, 'is not in a separate kernel namespace and cannot be set for a container');
  }
}

function buildRootfs(ctx: PlanContext, o: Ops, inUserNs: boolean, ownMountNs: boolean): void {
  const { spec, rootfs } = ctx;
  const prop = spec.linux?.rootfsPropagation;
  if (ownMountNs) {
    // Nothing the container mounts may reach the host: "/" becomes rslave unless asked otherwise. An
    // unbindable "/" could not be bound onto itself: it is rslave until the requested propagation after pivot_root.
    const rootProp = prop && !/unbindable/.test(prop) ? propagationFlag(prop)! : MS.SLAVE;
    o.add('MOUNT', [null, '/', null, rootProp | MS.REC, null], 'linux.rootfsPropagation', 'set propagation of /');
    if (ctx.rootParentMount && prop && /shared/.test(prop)) {
      o.add('MOUNT', [null, ctx.rootParentMount, null, MS.PRIVATE, null], 'linux.rootfsPropagation', `make ${ctx.rootParentMount} private for pivot_root`);
    }
  }
  o.add('MOUNT', [rootfs, rootfs, null, MS.BIND | MS.REC, null], 'root.path', `bind ${rootfs} onto itself`);
  // In the runtime's own mount namespace, what is mounted under the rootfs stays there: delete detaches this bind and all of it.
  if (!ownMountNs) o.add('MOUNT', [null, rootfs, null, MS.PRIVATE | MS.REC, null], 'root.path', `make ${rootfs} private`);
  o.add('OPEN_ROOT', [rootfs], 'root.path', `open ${rootfs}`);

  const mounts = spec.mounts ?? [];
  // sysfs can only be mounted by the owner of the network namespace: without one of its own, bind the host's (as rootless runc does).
  const ownNetNs = (spec.linux?.namespaces ?? []).some((n) => n.type === 'network' && !n.path);
  const bindSysfs = inUserNs && !ownNetNs;
  mounts.forEach((m, i) => buildMount(ctx, o, bindSysfs && m.type === 'sysfs' ? { ...m, type: 'bind', source: '/sys', options: ['rbind', ...(m.options ?? [])] } : m, `mounts[${i}]`, i));

  const devBound = mounts.some((m) => posix.normalize(m.destination) === '/dev' && isBind(m));
  if (!devBound) {
    // /dev exists once the mounts are done; a device elsewhere gets its parent made.
    const made = new Set(['/dev']);
    const addDevice = (path: string, mode: number, major: number, minor: number, uid: number, gid: number, jsonPath: string) => {
      const dir = posix.dirname(path);
      if (!inUserNs && !made.has(dir)) {
        o.add('MKDIR_IN_ROOT', [dir, 0o755, 0], jsonPath, `create ${dir}`);
        made.add(dir);
      }
      addDeviceNode(ctx, o, inUserNs, path, mode, major, minor, uid, gid, jsonPath);
    };
    DEFAULT_DEVICES.forEach((d) => addDevice(d.path, S_IFCHR | 0o666, d.major, d.minor, 0, 0, 'linux.devices'));
    (spec.linux?.devices ?? []).forEach((d, i) => {
      const type = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
      const mode = type | ((d.fileMode ?? 0o666) & 0o7777);
      addDevice(d.path, mode, d.major ?? 0, d.minor ?? 0, d.uid ?? 0, d.gid ?? 0, `linux.devices[${i}]`);
    });
    const links: [string, string][] = [
      ['/proc/self/fd', '/dev/fd'],
      ['/proc/self/fd/0', '/dev/stdin'],
      ['/proc/self/fd/1', '/dev/stdout'],
      ['/proc/self/fd/2', '/dev/stderr'],
    ];
    if (ctx.hostDeviceExists('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
    if (mounts.some((m) => posix.normalize(m.destination) === '/dev/pts')) links.push(['pts/ptmx', '/dev/ptmx']);
    for (const [target, path] of links) o.add('SYMLINK_IN_ROOT', [target, path], 'linux', `link ${path} -> ${target}`);
  }
}

function isBind(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((x) => x === 'bind' || x === 'rbind');
}

function addDeviceNode(ctx: PlanContext, o: Ops, inUserNs: boolean, path: string, mode: number, major: number, minor: number, uid: number, gid: number, jsonPath: string): void {
  if (inUserNs) {
    // mknod is not allowed in a user namespace: bind the host's node, as runc does.
    if (!ctx.hostDeviceExists(path)) throw configError(jsonPath, `${path} does not exist on the host to bind in a user namespace`);
    o.add('MKDIR_IN_ROOT', [path, 0o755, 1], jsonPath, `create ${path}`);
    o.add('MOUNT_IN_ROOT', [path, path, null, MS.BIND, null], jsonPath, `bind device ${path}`);
    return;
  }
  o.add('MKNOD_IN_ROOT', [path, mode, makedev(major, minor), uid, gid], jsonPath, `mknod ${path}`);
}

function buildMount(ctx: PlanContext, o: Ops, m: Mount, path: string, index: number): void {
  const dest = posix.normalize(m.destination);
  const opts = parseMountOptions(m.options);
  const data = opts.data.length > 0 ? opts.data.join(',') : null;
  if (m.type === 'cgroup') return buildCgroupMount(ctx, o, m, dest, opts.flags, path);
  if (isBind(m)) {
    const source = m.source === undefined ? undefined : isAbsolute(m.source) ? m.source : join(ctx.bundle, m.source);
    if (!source) throw configError(`${path}.source`, 'a bind mount needs a source');
    const isDir = ctx.isDirectory(source);
    o.add('MKDIR_IN_ROOT', [dest, 0o755, isDir ? 0 : 1], `${path}.destination`, `create ${dest}`);
    const bindFlags = MS.BIND | (opts.flags & MS.REC);
    const tree = ctx.mountTrees?.get(index);
    if (tree !== undefined) o.add('MOVE_MOUNT_IN_ROOT', [dest, tree], path, `attach idmapped ${source} on ${dest}`);
    else if (opts.idmap || m.uidMappings || m.gidMappings) throw new Error(`${path}: idmapped mount not prepared`);
    else o.add('MOUNT_IN_ROOT', [dest, source, null, bindFlags, null], path, `bind ${source} on ${dest}`);
    const rest = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (rest !== 0) o.add('REMOUNT_IN_ROOT', [dest, rest], `${path}.options`, `remount ${dest} with its options`);
  } else {
    o.add('MKDIR_IN_ROOT', [dest, 0o755, 0], `${path}.destination`, `create ${dest}`);
    const mount = [dest, m.source ?? m.type ?? 'none', m.type ?? null, opts.flags, data];
    // As in runc, tmpcopyup means nothing on other filesystem types.
    if (opts.copyUp && m.type === 'tmpfs') o.add('COPY_UP_IN_ROOT', mount, path, `mount tmpfs on ${dest} and copy up what ${dest} held`);
    else o.add('MOUNT_IN_ROOT', mount, path, `mount ${m.type ?? 'none'} on ${dest}`);
  }
  if (opts.recursive) o.add('SETATTR_IN_ROOT', [dest, opts.recursive.set, opts.recursive.clr, AT_RECURSIVE], `${path}.options`, `set recursive attributes of ${dest}`);
  for (const p of opts.propagation) o.add('MOUNT_IN_ROOT', [dest, null, null, p, null], `${path}.options`, `set propagation of ${dest}`);
}

function buildCgroupMount(ctx: PlanContext, o: Ops, m: Mount, dest: string, flags: number, path: string): void {
  const ro = flags & MS.RDONLY;
  const base = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  o.add('MKDIR_IN_ROOT', [dest, 0o755, 0], `${path}.destination`, `create ${dest}`);
  const v2 = ctx.cgroupMounts.length === 1 && ctx.cgroupMounts[0]!.name === '';
  if (v2) {
    const src = ctx.cgroupMounts[0]!.hostPath;
    o.add('MOUNT_IN_ROOT', [dest, src, null, MS.BIND | MS.REC, null], path, `bind cgroup ${src} on ${dest}`);
    o.add('REMOUNT_IN_ROOT', [dest, base | ro], `${path}.options`, `remount ${dest}`);
    return;
  }
  // v1 without systemd: a tmpfs holding one bind of the container's own cgroup per hierarchy.
  o.add('MOUNT_IN_ROOT', [dest, 'tmpfs', 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755'], path, `mount tmpfs on ${dest}`);
  for (const src of ctx.cgroupMounts) {
    const sub = posix.join(dest, src.name);
    o.add('MKDIR_IN_ROOT', [sub, 0o755, 0], path, `create ${sub}`);
    o.add('MOUNT_IN_ROOT', [sub, src.hostPath, null, MS.BIND | MS.REC, null], path, `bind cgroup ${src.hostPath} on ${sub}`);
    o.add('REMOUNT_IN_ROOT', [sub, base | ro], `${path}.options`, `remount ${sub}`);
    for (const link of src.links) {
      if (link !== src.name) o.add('SYMLINK_IN_ROOT', [src.name, posix.join(dest, link)], path, `link ${link} -> ${src.name}`);
    }
  }
  if (ro) o.add('REMOUNT_IN_ROOT', [dest, base | ro], `${path}.options`, `remount ${dest} read-only`);
}

/** AppArmor profile and SELinux label, both taking effect at execve (runc's order: before NNP and seccomp). */
function addLabels(o: Ops, p: Process, lsm: Lsm): void {
  const write = (file: string, value: string, path: string, what: string) => o.add('WRITE_FILE', [file, value, Buffer.byteLength(value)], path, what);
  if (p.apparmorProfile) {
    if (!lsm.apparmor) throw configError('process.apparmorProfile', 'AppArmor is not enabled on this host');
    write('/proc/self/attr/apparmor/exec', `exec ${p.apparmorProfile}`, 'process.apparmorProfile', `apply AppArmor profile ${p.apparmorProfile}`);
  }
  if (p.selinuxLabel) {
    if (!lsm.selinux) throw configError('process.selinuxLabel', 'an SELinux label is given, but SELinux is disabled or not supported');
    write('/proc/self/attr/exec', p.selinuxLabel, 'process.selinuxLabel', `set SELinux label ${p.selinuxLabel}`);
  }
}

/** What differs between the init and an exec'd process. */
interface ProcessStage {
  preserveFds: number;
  /** In a user namespace, setgroups may be denied; with no additionalGids there is nothing to drop then. */
  inUserNs: boolean;
  seccomp?: LinuxSeccomp;
  personality?: { domain: string };
  lsm?: Lsm;
  /** The init waits on the exec fifo and runs startContainer hooks. */
  init?: { fifoFd: number; startHooks: Hook[] };
}

function buildProcess(o: Ops, p: Process | undefined, stage: ProcessStage): void {
  if (!p) throw configError('process', 'is required to create a container');
  (p.rlimits ?? []).forEach((r, i) => {
    const res = RLIMITS[r.type];
    if (res === undefined) throw configError(`process.rlimits[${i}].type`, `unknown rlimit "${r.type}"`);
    o.add('SETRLIMIT', [res, BigInt(r.soft), BigInt(r.hard)], `process.rlimits[${i}]`, `set ${r.type}`);
  });
  addScheduling(o, p);
  const caps = p.capabilities;
  if (caps) o.add('CAP_BOUND', [capMask(caps.bounding, 'process.capabilities.bounding')], 'process.capabilities.bounding', 'drop bounding capabilities');

  const filter = stage.seccomp ? seccomp().compile(stage.seccomp) : undefined;
  if (filter?.notify && !stage.seccomp?.listenerPath) throw configError('linux.seccomp.listenerPath', 'is required when an action is SCMP_ACT_NOTIFY');
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: kept effective
  // until then. execve recomputes the sets from inheritable, ambient and
  // bounding, so it does not reach the process.
  const sysAdmin = filter && !p.noNewPrivileges ? 1n << BigInt(CAPABILITIES['CAP_SYS_ADMIN']!) : 0n;

  const user = p.user;
  o.add('PRCTL', [PR.SET_KEEPCAPS, 1, 0, 0, 0], 'process.user', 'keep capabilities across setuid');
  const gids = Buffer.alloc(4 * (user.additionalGids?.length ?? 0));
  (user.additionalGids ?? []).forEach((g, i) => gids.writeUInt32LE(g, i * 4));
  const mayDeny = stage.inUserNs && gids.length === 0;
  o.add('SETGROUPS', mayDeny ? [gids, 0, 1] : [gids, gids.length / 4], 'process.user.additionalGids', 'set supplementary groups');
  o.add('SETRESGID', [user.gid], 'process.user.gid', `set gid ${user.gid}`);
  o.add('SETRESUID', [user.uid], 'process.user.uid', `set uid ${user.uid}`);
  o.add('PRCTL', [PR.SET_KEEPCAPS, 0, 0, 0, 0], 'process.user', 'stop keeping capabilities');
  if (caps) {
    o.add('CAPSET', [
      capMask(caps.effective, 'process.capabilities.effective') | sysAdmin,
      capMask(caps.permitted, 'process.capabilities.permitted') | sysAdmin,
      capMask(caps.inheritable, 'process.capabilities.inheritable'),
    ], 'process.capabilities', sysAdmin ? 'set capabilities (CAP_SYS_ADMIN kept for the seccomp filter)' : 'set capabilities');
    // The kernel raises an ambient cap only if it is permitted and inheritable;
    // runc drops the others silently, and so do we.
    const ambient = capMask(caps.ambient, 'process.capabilities.ambient') & capMask(caps.permitted, 'process.capabilities.permitted') & capMask(caps.inheritable, 'process.capabilities.inheritable');
    if (ambient !== 0n) o.add('CAP_AMBIENT', [ambient], 'process.capabilities.ambient', 'raise ambient capabilities');
  } else {
    o.add('CAPSET', [sysAdmin, sysAdmin, 0n], 'process.capabilities', sysAdmin ? 'drop all capabilities but CAP_SYS_ADMIN for the seccomp filter' : 'drop all capabilities');
  }

  o.add('CHDIR', [p.cwd], 'process.cwd', `chdir to ${p.cwd}`);
  addLabels(o, p, stage.lsm ?? { apparmor: false, selinux: false });
  const env = p.env ?? [];
  const pathVar = [...env].reverse().find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const args = p.args ?? [];
  o.add('LOOKUP', [args[0]!, pathVar], 'process.args[0]', `find executable "${args[0]}"`);
  if (p.noNewPrivileges) o.add('PRCTL', [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0], 'process.noNewPrivileges', 'set no_new_privs');
  if (stage.personality) {
    const domain = stage.personality.domain === 'LINUX32' ? 0x0008 : stage.personality.domain === 'LINUX' ? 0 : undefined;
    if (domain === undefined) throw configError('linux.personality.domain', `unknown domain "${stage.personality.domain}"`);
    o.add('PERSONALITY', [domain], 'linux.personality', `set personality ${stage.personality.domain}`);
  }
  o.add('UMASK', [p.user.umask ?? 0o022], 'process.user.umask', 'set umask');
  o.add('CLOSE_FDS', [3 + stage.preserveFds], 'process', 'close inherited fds on exec');

  const startHooks = stage.init?.startHooks ?? [];
  if (startHooks.length > 0) o.add('SYNC', [SyncTag.START_STATE], 'hooks.startContainer', 'receive state for startContainer hooks');
  const addSeccomp = () => {
    if (filter) o.add('SECCOMP', [filter.program, filter.instructions, filter.flags], 'linux.seccomp', 'load the seccomp filter');
  };
  // A listener fd goes to the runtime, which is gone after READY: a notify
  // filter is loaded before it, and prctl, write, openat, close (and the
  // startContainer hooks' pipe2, clone3, poll, waitid), rt_sigprocmask and
  // execve run under it. Any other filter only leaves execve.
  if (filter?.notify) addSeccomp();
  // The runtime exits after create: from here the process must outlive it.
  o.add('PRCTL', [PR.SET_PDEATHSIG, 0, 0, 0, 0], 'process', 'outlive the runtime');
  o.add('READY', [], 'process', 'report ready');
  if (stage.init) o.add('EXEC_FIFO', [stage.init.fifoFd], 'process', 'wait for start');
  startHooks.forEach((h, i) => {
    const { argv, env: henv } = hookArgs(h);
    o.add('HOOK', [h.path, argv, henv, (h.timeout ?? 0) * 1000], `hooks.startContainer[${i}]`, `run hook ${h.path}`);
  });
  o.add('UNBLOCK_SIGNALS', [], 'process', 'unblock signals');
  if (!filter?.notify) addSeccomp();
  o.add('EXEC', [args, env], 'process.args', `exec ${args[0]}`);
}
