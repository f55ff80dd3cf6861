// Plan building without root: what the native stage would be told to do.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildExecPlan, buildPlan, cloneFlagsFor, type PlanContext } from '../src/plan/build';
import { defaultSpec } from '@runts/oci';
import { encodePlan } from '../src/plan/encode';
import { HEADER_SIZE, OP_SIZE, Op, PLAN_MAGIC } from '../src/plan/ops';
import { parseMountOptions } from '../src/plan/mountopts';
import { CLONE, MS } from '../src/plan/flags';
import { ctx } from './fixtures';

const names = (c: PlanContext) => buildPlan(c).ops.map((o) => o.op);

t.test('opcodes match bindings/stage.h', async (t) => {
  const header = readFileSync(join(__dirname, '..', '..', '..', 'bindings', 'stage.h'), 'utf8');
  const inC = new Map<string, number>();
  for (const m of header.matchAll(/\bOP_([A-Z_]+)\s*=\s*(\d+)/g)) inC.set(m[1]!, Number(m[2]));
  t.same(Object.fromEntries(inC), Op);
});

t.test('default spec: ordered steps', async (t) => {
  const plan = buildPlan(ctx());
  const ops = plan.ops.map((o) => o.op);
  const at = (op: string) => ops.indexOf(op as never);
  t.equal(ops[1], 'SYNC', 'waits for maps and cgroups first');
  t.ok(at('OPEN_ROOT') < at('MOUNT_IN_ROOT'), 'mounts happen inside the opened root');
  t.ok(at('MKNOD_IN_ROOT') < at('PIVOT_ROOT'), 'devices before pivot_root');
  t.ok(at('PIVOT_ROOT') < at('MASK'), 'masks after pivot_root');
  t.ok(at('SETRESUID') < at('CAPSET'), 'capabilities set after the uid change');
  t.ok(at('LOOKUP') < at('READY'), 'a missing executable fails create, not start');
  t.ok(at('READY') < at('EXEC_FIFO'));
  t.equal(ops[ops.length - 1], 'EXEC');
  t.equal(plan.cloneFlags, BigInt(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS));
  const host = plan.ops.find((o) => o.op === 'SETHOSTNAME')!;
  t.equal(host.path, 'hostname');
  t.same(host.args, ['runts']);
});

t.test('plan snapshot of the default spec', async (t) => {
  t.matchSnapshot(buildPlan(ctx()).ops.map((o) => `${o.op} ${o.path}: ${o.what}`).join('\n'));
});

t.test('--no-pivot moves the root instead', async (t) => {
  const ops = names(ctx(() => {}, { noPivot: true }));
  t.ok(ops.includes('MOVE_ROOT'));
  t.notOk(ops.includes('PIVOT_ROOT'));
});

t.test('namespaces joined by path are setns ops, not clone flags', async (t) => {
  const c = ctx((s) => {
    s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: '/proc/1/ns/net' }];
  }, { nsFds: new Map([[2, 42]]) });
  const plan = buildPlan(c);
  const setns = plan.ops.filter((o) => o.op === 'SETNS');
  t.equal(setns.length, 1);
  t.same(setns[0]!.args, [42, CLONE.NEWNET]);
  t.equal(setns[0]!.path, 'linux.namespaces[2]');
  t.equal(plan.cloneFlags & BigInt(CLONE.NEWNET), 0n);
});

t.test('cgroup and time namespaces are unshared after placement', async (t) => {
  const c = ctx((s) => {
    s.linux.namespaces.push({ type: 'cgroup' }, { type: 'time' });
    s.linux.timeOffsets = { monotonic: { secs: 10, nanosecs: 0 } };
  });
  const plan = buildPlan(c);
  t.equal(plan.cloneFlags & BigInt(CLONE.NEWCGROUP | CLONE.NEWTIME), 0n);
  const unshares = plan.ops.filter((o) => o.op === 'UNSHARE').map((o) => o.args[0]);
  t.same(unshares, [CLONE.NEWCGROUP, CLONE.NEWTIME]);
  t.ok(plan.ops.some((o) => o.op === 'WRITE_FILE' && o.args[1] === 'monotonic 10 0\n'));
});

t.test('the init and an exec join their cgroups first, before namespaces by path and the setup sync', async (t) => {
  const c = ctx((s) => {
    s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: '/proc/1/ns/net' }];
  }, { nsFds: new Map([[2, 42]]), cgroupJoinFds: [7, 8] });
  const ops = buildPlan(c).ops;
  t.same(ops.slice(0, 3).map((o) => [o.op, o.args[0]]), [['JOIN_CGROUP', 7], ['JOIN_CGROUP', 8], ['SETNS', 42]]);
  t.equal(ops[0]!.path, 'linux.cgroupsPath');
  const exec = buildExecPlan({ process: { ...defaultSpec().process!, terminal: false }, nsFds: new Map([['mount', 6]]), preserveFds: 0, cgroupJoinFds: [9] }).ops;
  t.same(exec.slice(0, 3).map((o) => o.op), ['JOIN_CGROUP', 'SETNS', 'FORK'], 'cgroup and namespaces are joined before the fork into the pid namespace');
  t.equal(exec.filter((o) => o.op === 'FORK').length, 1);
  t.notOk(names(ctx()).includes('JOIN_CGROUP'), 'none without fds (v2, or a cgroup the runtime cannot open)');
});

t.test('no mount namespace: mounts under a private rootfs bind in ours, entered with chroot, / left alone', async (t) => {
  const plan = buildPlan(ctx((s) => (s.linux.namespaces = [{ type: 'pid' }])));
  const ops = plan.ops.map((o) => o.op);
  t.notOk(ops.includes('PIVOT_ROOT') || ops.includes('MOVE_ROOT'), 'neither pivot_root nor MS_MOVE, which would change the host\'s root');
  t.ok(ops.indexOf('CHROOT') > ops.indexOf('MOUNT_IN_ROOT'), 'chroot after the mounts');
  const mounts = plan.ops.filter((o) => o.op === 'MOUNT');
  t.notOk(mounts.some((o) => o.args[1] === '/'), 'the propagation of the host\'s / is not touched');
  t.equal(mounts[0]!.args[2], null);
  t.equal(mounts[1]!.args[3], MS.PRIVATE | MS.REC, 'the rootfs bind is made private before anything is mounted under it');
  t.equal(plan.cloneFlags & BigInt(CLONE.NEWNS), 0n);
});

t.test('a mount namespace joined by path still gets the rootfs set up', async (t) => {
  const c = ctx((s) => (s.linux.namespaces = s.linux.namespaces.map((n: any) => (n.type === 'mount' ? { type: 'mount', path: '/proc/1/ns/mnt' } : n))));
  c.nsFds.set(c.spec.linux!.namespaces!.findIndex((n) => n.type === 'mount'), 9);
  const ops = names(c);
  t.ok(ops.indexOf('SETNS') < ops.indexOf('OPEN_ROOT') && ops.indexOf('OPEN_ROOT') < ops.indexOf('PIVOT_ROOT'));
  t.ok(ops.includes('MASK'));
});

t.test('rootfsPropagation unbindable: rslave during setup, unbindable last', async (t) => {
  const plan = buildPlan(ctx((s) => (s.linux.rootfsPropagation = 'runbindable')));
  const roots = plan.ops.filter((o) => o.op === 'MOUNT' && o.args[1] === '/');
  t.equal(roots[0]!.args[3], MS.SLAVE | MS.REC, 'a / that is unbindable could not be bound onto itself');
  t.equal(roots[roots.length - 1]!.args[3], MS.UNBINDABLE | MS.REC);
  const ops = plan.ops.map((o) => o.op);
  t.ok(plan.ops.indexOf(roots[roots.length - 1]!) > ops.lastIndexOf('READONLY'), 'after the read-only binds');
});

t.test('bind mounts: file or dir target, remount for options, propagation', async (t) => {
  const c = ctx((s) => {
    s.mounts = [{ destination: '/etc/hosts', type: 'bind', source: 'hosts', options: ['rbind', 'ro', 'nosuid', 'rprivate'] }];
  }, { isDirectory: () => false });
  const ops = buildPlan(c).ops.filter((o) => o.path.startsWith('mounts[0]'));
  t.same(ops.map((o) => o.op), ['MKDIR_IN_ROOT', 'MOUNT_IN_ROOT', 'REMOUNT_IN_ROOT', 'MOUNT_IN_ROOT']);
  t.same(ops[0]!.args, ['/etc/hosts', 0o755, 1], 'file target');
  t.same(ops[1]!.args, ['/etc/hosts', '/b/hosts', null, MS.BIND | MS.REC, null], 'source relative to the bundle');
  t.same(ops[2]!.args, ['/etc/hosts', MS.RDONLY | MS.NOSUID]);
  t.same(ops[3]!.args, ['/etc/hosts', null, null, MS.PRIVATE | MS.REC, null]);
});

t.test('cgroup mount on v1: tmpfs with one bind per hierarchy', async (t) => {
  const ops = buildPlan(ctx()).ops.filter((o) => o.what.includes('cgroup') || o.what.includes('cpuacct'));
  t.ok(ops.some((o) => o.op === 'MOUNT_IN_ROOT' && o.args[1] === '/sys/fs/cgroup/cpu,cpuacct/x'));
  t.ok(ops.some((o) => o.op === 'SYMLINK_IN_ROOT' && o.args[0] === 'cpu,cpuacct' && o.args[1] === '/sys/fs/cgroup/cpu'));
});

t.test('user namespace: devices are bound from the host', async (t) => {
  const c = ctx((s) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  const ops = buildPlan(c).ops;
  t.notOk(ops.some((o) => o.op === 'MKNOD_IN_ROOT'));
  t.ok(ops.some((o) => o.op === 'MOUNT_IN_ROOT' && o.args[1] === '/dev/null'));
});

t.test('errors carry the config path', async (t) => {
  t.throws(() => buildPlan(ctx((s) => (s.process.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }]))), { message: /process\.rlimits\[0\]\.type/ });
  t.throws(() => buildPlan(ctx((s) => (s.process.capabilities.bounding = ['CAP_NOPE']))), { message: /process\.capabilities\.bounding\[0\]/ });
});

t.test('mount options', async (t) => {
  const o = parseMountOptions(['nosuid', 'ro', 'rw', 'mode=755', 'rshared', 'size=1k']);
  t.equal(o.flags, MS.NOSUID, 'rw clears ro');
  t.same(o.propagation, [MS.SHARED | MS.REC]);
  t.same(o.data, ['mode=755', 'size=1k']);
});

t.test("runc's mount options the kernel does not take: tmpcopyup, acl, iversion, symfollow", async (t) => {
  const o = parseMountOptions(['tmpcopyup', 'nosuid', 'mode=1777', 'acl', 'iversion', 'nosymfollow', 'symfollow']);
  t.same([o.copyUp, o.flags, o.data], [true, MS.NOSUID | MS.POSIXACL | MS.I_VERSION, ['mode=1777']], 'none of them reaches the kernel as data');
  t.equal(parseMountOptions(['acl', 'noacl', 'noiversion']).flags, 0);
  const ops = buildPlan(ctx((s) => {
    s.mounts = [
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid', 'mode=1777'] },
      { destination: '/data', type: 'bind', source: '/d', options: ['rbind', 'tmpcopyup'] },
    ];
  })).ops;
  const tmp = ops.filter((x) => x.path === 'mounts[0]');
  t.same(tmp.map((x) => [x.op, x.args]), [['COPY_UP_IN_ROOT', ['/tmp', 'tmpfs', 'tmpfs', MS.NOSUID, 'mode=1777']]]);
  t.notOk(ops.some((x) => x.path.startsWith('mounts[1]') && x.op === 'COPY_UP_IN_ROOT'), 'on a bind it means nothing, as in runc');
});

t.test('encoding: header, ops and strings', async (t) => {
  const buf = encodePlan([{ op: 'SETHOSTNAME', args: ['abc'], path: 'hostname', what: 'x' }, { op: 'EXEC', args: [['sh', '-c'], []], path: 'p', what: 'y' }], 7, 64);
  t.equal(buf.readUInt32LE(0), PLAN_MAGIC);
  t.equal(buf.readUInt32LE(8), 2);
  t.equal(buf.readInt32LE(16), 7, 'sync fd');
  t.equal(buf.readUInt32LE(HEADER_SIZE), Op.SETHOSTNAME);
  const off = Number(buf.readBigInt64LE(HEADER_SIZE + 8));
  t.equal(buf.toString('utf8', off, off + 4), 'abc\0');
  const argv = Number(buf.readBigInt64LE(HEADER_SIZE + OP_SIZE + 8));
  const first = Number(buf.readBigInt64LE(argv));
  t.equal(buf.toString('utf8', first, first + 2), 'sh');
  t.equal(buf.readBigInt64LE(argv + 16), -1n, 'argv ends with -1');
  const scratchOff = buf.readUInt32LE(20);
  t.equal(buf.length, scratchOff + 64);
});

t.test('encoding: 64-bit arguments and bytes', async (t) => {
  const args = [-1, 2 ** 40 + 5, -(2 ** 33) - 7, new Uint8Array([1, 2, 3]), 0xffff_ffff_ffff_ffffn, null];
  const buf = encodePlan([{ op: 'MOUNT', args, path: 'p', what: 'x' }], 3, 0);
  const arg = (j: number) => buf.readBigInt64LE(HEADER_SIZE + 8 + j * 8);
  t.same([0, 1, 2, 4, 5].map(arg), [-1n, 2n ** 40n + 5n, -(2n ** 33n) - 7n, -1n, -1n]);
  const bytes = Number(arg(3));
  t.same([...buf.subarray(bytes, bytes + 3)], [1, 2, 3]);
  t.equal(buf.readUInt32LE(HEADER_SIZE + 4), 0, 'no op flags');
  t.equal(buf.readUInt32LE(20), bytes + 8, 'scratch after the padded data');
  t.throws(() => encodePlan([{ op: 'MOUNT', args: [1.5], path: 'p', what: 'x' }], 3, 0), /MOUNT: argument 1.5 is not an integer/);
});

t.test('clone flags', async (t) => {
  t.equal(cloneFlagsFor({ ociVersion: '1', linux: { namespaces: [{ type: 'user' }, { type: 'uts' }] } } as any), BigInt(CLONE.NEWUSER | CLONE.NEWUTS));
});

t.test('sysctl: only keys in the container\'s own namespaces', async (t) => {
  const ops = buildPlan(ctx((s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000' }))).ops;
  t.ok(ops.some((o) => o.op === 'WRITE_FILE' && o.args[0] === '/proc/sys/net/ipv4/ip_forward'));
  t.throws(() => buildPlan(ctx((s) => (s.linux.sysctl = { 'vm.swappiness': '1' }))), { message: /linux\.sysctl\.vm\.swappiness/ });
  t.throws(() => buildPlan(ctx((s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'ipc');
    s.linux.sysctl = { 'kernel.msgmax': '1' };
  })), { message: /IPC namespace/ });
});

t.test('LSM labels: applied at exec where the host enables the LSM, an error naming the field where not (as runc)', async (t) => {
  const labelled = (s: any) => {
    s.process.apparmorProfile = 'runts-default';
    s.process.selinuxLabel = 'system_u:system_r:container_t:s0';
  };
  t.throws(() => buildPlan(ctx(labelled)), { message: 'process.apparmorProfile: AppArmor is not enabled on this host' });
  t.throws(() => buildPlan(ctx((s) => (s.process.selinuxLabel = 'x'))), { message: /^process\.selinuxLabel: an SELinux label is given, but SELinux is disabled/ });
  const ops = buildPlan(ctx(labelled, { lsm: { apparmor: true, selinux: true } })).ops;
  const writes = ops.filter((o) => o.op === 'WRITE_FILE').map((o) => [o.args[0], o.args[1]]);
  t.same(writes, [
    ['/proc/self/attr/apparmor/exec', 'exec runts-default'],
    ['/proc/self/attr/exec', 'system_u:system_r:container_t:s0'],
  ]);
  const order = ops.map((o) => o.op);
  t.ok(order.lastIndexOf('WRITE_FILE') < order.lastIndexOf('EXEC'), 'before execve');
  t.same(names(ctx((s) => (s.linux.mountLabel = 'system_u:object_r:container_file_t:s0'))), names(ctx()), 'mountLabel is ignored without SELinux, as runc does');
});

t.test('a new session keyring is joined before the credentials change; an exec joins it by name', async (t) => {
  const ops = buildPlan(ctx(() => {}, { sessionKeyring: '_ses.c1' })).ops;
  const at = (op: string) => ops.findIndex((o) => o.op === op);
  const keyring = ops[at('KEYRING')]!;
  t.same(keyring.args, ['_ses.c1', 0x80000], 'with search permission for its owner');
  t.ok(at('SETSID') < at('KEYRING') && at('KEYRING') < at('SETRESUID'), 'after the new session, before the process user');
  const inUserNs = buildPlan(ctx((s) => s.linux.namespaces.push({ type: 'user' }), { sessionKeyring: '_ses.c1' })).ops;
  t.same(inUserNs.find((o) => o.op === 'KEYRING')!.args, ['_ses.c1', 0x8], "in a user namespace, search for others (the namespace's root is not the host uid)");
  t.notOk(names(ctx()).includes('KEYRING'), "without a name (--no-new-keyring) the caller's is kept");
  const exec = buildExecPlan({ process: { ...defaultSpec().process!, terminal: false }, nsFds: new Map(), preserveFds: 0, sessionKeyring: '_ses.c1' }).ops;
  t.same(exec.find((o) => o.op === 'KEYRING')!.args, ['_ses.c1', 0], 'an exec joins it, changing no permission');
});

// The container's profile may deny anything the stage calls: after the filter, only execve.
t.test('seccomp: loaded last, after every setup step, with or without no_new_privs', async (t) => {
  const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['close_range'], action: 'SCMP_ACT_ERRNO' }] };
  const hooks = { startContainer: [{ path: '/bin/true' }] };
  for (const nnp of [true, false]) {
    const tail = (exec: boolean) => {
      const c = ctx((s) => {
        s.process.noNewPrivileges = nnp;
        s.linux.seccomp = profile;
        s.hooks = hooks;
      });
      const ops = (exec ? buildExecPlan({ process: c.spec.process!, nsFds: new Map(), preserveFds: 0, seccomp: profile }) : buildPlan(c)).ops;
      return ops.slice(ops.findIndex((o) => o.op === 'SETRESUID')).map((o) => o.op === 'PRCTL' ? `PRCTL ${o.args[0]}` : o.op);
    };
    const nnpOp = nnp ? ['PRCTL 38'] : [];
    t.same(tail(false), ['SETRESUID', 'PRCTL 8', 'CAPSET', 'CHDIR', 'LOOKUP', ...nnpOp, 'UMASK', 'CLOSE_FDS', 'SYNC', 'PRCTL 1', 'READY', 'EXEC_FIFO', 'HOOK', 'UNBLOCK_SIGNALS', 'SECCOMP', 'EXEC'], `the init, noNewPrivileges ${nnp}`);
    t.same(tail(true), ['SETRESUID', 'PRCTL 8', 'CAPSET', 'CHDIR', 'LOOKUP', ...nnpOp, 'UMASK', 'CLOSE_FDS', 'PRCTL 1', 'READY', 'UNBLOCK_SIGNALS', 'SECCOMP', 'EXEC'], `an exec, noNewPrivileges ${nnp}`);
  }
});

t.test('seccomp without no_new_privs: CAP_SYS_ADMIN kept effective and permitted for the load, never inheritable or ambient', async (t) => {
  const SYS_ADMIN = 1n << 21n;
  const capset = (patch: (s: any) => void) => buildPlan(ctx(patch)).ops.find((o) => o.op === 'CAPSET')!.args as bigint[];
  const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const without = capset((s) => (s.process.noNewPrivileges = false));
  const kept = capset((s) => {
    s.process.noNewPrivileges = false;
    s.process.capabilities.inheritable = ['CAP_KILL'];
    s.process.capabilities.ambient = ['CAP_KILL'];
    s.linux.seccomp = profile;
  });
  t.equal(without[0]! & SYS_ADMIN, 0n, 'no filter: the configured sets');
  t.equal(kept[0]! & SYS_ADMIN, SYS_ADMIN, 'effective');
  t.equal(kept[1]! & SYS_ADMIN, SYS_ADMIN, 'permitted');
  t.equal(kept[2], 1n << 5n, 'inheritable as configured');
  const ambient = buildPlan(ctx((s) => {
    s.process.noNewPrivileges = false;
    s.process.capabilities.inheritable = ['CAP_KILL'];
    s.process.capabilities.ambient = ['CAP_KILL'];
    s.linux.seccomp = profile;
  })).ops.find((o) => o.op === 'CAP_AMBIENT')!;
  t.same(ambient.args, [1n << 5n], 'ambient as configured');
  const withNnp = capset((s) => (s.linux.seccomp = profile));
  t.equal(withNnp[0]! & SYS_ADMIN, 0n, 'with no_new_privs nothing is kept');
  const noCaps = buildPlan(ctx((s) => {
    s.process.noNewPrivileges = false;
    delete s.process.capabilities;
    s.linux.seccomp = profile;
  })).ops.find((o) => o.op === 'CAPSET')!;
  t.same(noCaps.args, [SYS_ADMIN, SYS_ADMIN, 0n], 'no capabilities configured: only CAP_SYS_ADMIN, until execve');
});

t.test('seccomp notify: loaded while the runtime can take the listener, before READY', async (t) => {
  const ops = buildPlan(ctx((s) => {
    s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  })).ops.map((o) => o.op);
  t.same(ops.slice(ops.indexOf('CLOSE_FDS')), ['CLOSE_FDS', 'SECCOMP', 'PRCTL', 'READY', 'EXEC_FIFO', 'UNBLOCK_SIGNALS', 'EXEC']);
});

t.test('scheduler and I/O priority: named ops, no syscall numbers in the plan', async (t) => {
  const ops = buildPlan(ctx((s) => {
    s.process.scheduler = { policy: 'SCHED_BATCH', nice: 5 };
    s.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
  })).ops;
  const sched = ops.find((o) => o.op === 'SCHED_SETATTR')!;
  const attr = sched.args[0] as Uint8Array;
  t.equal(attr.length, 48, 'a struct sched_attr of SCHED_ATTR_SIZE_VER0');
  t.equal(Buffer.from(attr).readUInt32LE(4), 3, 'SCHED_BATCH');
  t.equal(Buffer.from(attr).readInt32LE(16), 5, 'nice');
  t.same(ops.find((o) => o.op === 'IOPRIO_SET')!.args, [(2 << 13) | 4], 'IOPRIO_CLASS_BE, level 4');
});
