// Plan building for user namespaces, idmapped mounts and the r* options,
// and the rootless checks that need no root (issue 9).
import t from 'tap';
import { defaultSpec } from '@runts/oci';
import { buildExecPlan, buildPlan, type PlanContext } from '../src/plan/build';
import { AT_RECURSIVE, CLONE, MOUNT_ATTR, MS } from '../src/plan/flags';
import { idmapMounts } from '../src/plan/idmap';
import { MOUNT_OPTIONS, parseMountOptions } from '../src/plan/mountopts';
import { checkSubordinate, ownIdOnly, subordinateRanges, wantsLimits } from '../src/rootless';
import { ctx } from './fixtures';

const withUserNs = (s: any) => {
  s.linux.namespaces.push({ type: 'user' });
  s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

t.test('r* options become recursive mount attributes, not flags or data', async (t) => {
  const o = parseMountOptions(['rbind', 'rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime', 'nosuid']);
  t.equal(o.flags, MS.BIND | MS.REC | MS.NOSUID);
  t.same(o.data, []);
  t.same(o.recursive, {
    set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NOATIME,
    clr: MOUNT_ATTR.ATIME_MASK,
  });
  t.same(parseMountOptions(['rro', 'rrw']).recursive, { set: 0, clr: MOUNT_ATTR.RDONLY }, 'the last of rro/rrw wins');
  t.same(parseMountOptions(['rnoatime', 'rstrictatime']).recursive, { set: MOUNT_ATTR.STRICTATIME, clr: MOUNT_ATTR.ATIME_MASK }, 'one atime value');
  t.same(parseMountOptions(['rnosymfollow', 'rsuid']).recursive, { set: MOUNT_ATTR.NOSYMFOLLOW, clr: MOUNT_ATTR.NOSUID });
  t.equal(parseMountOptions(['ro']).recursive, undefined);
});

t.test('idmap and ridmap options', async (t) => {
  t.same(parseMountOptions(['bind', 'idmap']).idmap, { recursive: false });
  t.same(parseMountOptions(['rbind', 'ridmap']).idmap, { recursive: true });
  t.same(parseMountOptions(['bind', 'idmap']).data, [], 'not passed to the kernel as data');
});

t.test('features list the new mount options', async (t) => {
  for (const o of ['rro', 'rrw', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime', 'rrelatime', 'rstrictatime', 'rnosymfollow', 'idmap', 'ridmap']) {
    t.ok(MOUNT_OPTIONS.includes(o), o);
  }
});

t.test('plan: rro is one mount_setattr(AT_RECURSIVE) after the mount and its remount', async (t) => {
  const c = ctx((s) => {
    s.mounts = [{ destination: '/data', type: 'bind', source: '/src', options: ['rbind', 'nosuid', 'rro'] }];
  });
  const ops = buildPlan(c).ops.filter((o) => o.path.startsWith('mounts[0]'));
  t.same(ops.map((o) => o.op), ['MKDIR_IN_ROOT', 'MOUNT_IN_ROOT', 'REMOUNT_IN_ROOT', 'SETATTR_IN_ROOT']);
  t.same(ops[3]!.args, ['/data', MOUNT_ATTR.RDONLY, 0, AT_RECURSIVE]);
  t.equal(ops[3]!.path, 'mounts[0].options');
});

t.test('idmapped mounts: which mounts, with which mappings', async (t) => {
  const spec: any = defaultSpec();
  withUserNs(spec);
  const maps = [{ containerID: 2000, hostID: 100007, size: 1 }];
  spec.mounts = [
    { destination: '/a', type: 'bind', source: 'a', options: ['rbind'], uidMappings: maps, gidMappings: maps },
    { destination: '/b', type: 'bind', source: '/b', options: ['bind', 'ridmap'] },
    { destination: '/c', type: 'bind', source: '/c', options: ['bind'] },
  ];
  t.same(idmapMounts(spec, '/bundle'), [
    { index: 0, source: '/bundle/a', tree: true, recursive: false, uidMappings: maps, gidMappings: maps },
    { index: 1, source: '/b', tree: false, recursive: true, uidMappings: spec.linux.uidMappings, gidMappings: spec.linux.gidMappings },
  ]);
});

t.test('idmapped mounts: config errors name the mount', async (t) => {
  const maps = [{ containerID: 0, hostID: 1000, size: 1 }];
  const one = (m: any, userns = true) => {
    const spec: any = defaultSpec();
    if (userns) withUserNs(spec);
    spec.mounts = [m];
    return () => idmapMounts(spec, '/bundle');
  };
  t.throws(one({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }), { code: 'ERR_CONFIG_INVALID', message: /^mounts\[0\]\.type: idmapped mounts are only supported for bind mounts/ });
  t.throws(one({ destination: '/t', type: 'bind', source: '/s', uidMappings: maps }), { message: /^mounts\[0\]: an idmapped mount needs both uidMappings and gidMappings/ });
  t.throws(one({ destination: '/t', type: 'bind', source: '/s', options: ['idmap'] }, false), { message: /^mounts\[0\]\.options: idmap without/ });
});

t.test('plan: an idmapped mount attaches the prepared tree instead of binding', async (t) => {
  const maps = [{ containerID: 0, hostID: 1000, size: 1 }];
  const patch = (s: any) => {
    withUserNs(s);
    s.mounts = [{ destination: '/data', type: 'bind', source: '/src', options: ['rbind', 'ro', 'rnodev'], uidMappings: maps, gidMappings: maps }];
  };
  const ops = buildPlan(ctx(patch, { mountTrees: new Map([[0, 77]]) })).ops.filter((o) => o.path.startsWith('mounts[0]'));
  t.same(ops.map((o) => o.op), ['MKDIR_IN_ROOT', 'MOVE_MOUNT_IN_ROOT', 'REMOUNT_IN_ROOT', 'SETATTR_IN_ROOT']);
  t.same(ops[1]!.args, ['/data', 77]);
  t.same(ops[2]!.args, ['/data', MS.RDONLY]);
  t.same(ops[3]!.args, ['/data', MOUNT_ATTR.NODEV, 0, AT_RECURSIVE]);
  t.throws(() => buildPlan(ctx(patch)), /idmapped mount not prepared/, 'never a plain bind in its place');
});

t.test('a user namespace joined by path: cloned inside it, other namespaces new', async (t) => {
  const c = ctx((s) => {
    s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'user', path: '/proc/9/ns/user' }];
  }, { nsFds: new Map([[3, 42]]) });
  const plan = buildPlan(c);
  t.equal(plan.usernsFd, 42);
  t.notOk(plan.ops.some((o) => o.op === 'SETNS'), 'not joined by the init itself');
  t.equal(plan.cloneFlags, BigInt(CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS));
  const ops = plan.ops.map((o) => o.op);
  t.ok(ops.indexOf('SETRESUID') < ops.indexOf('OPEN_ROOT'), 'root in the joined namespace before the rootfs is set up');
  t.same(plan.ops.find((o) => o.op === 'SETRESUID')!.args, [0]);
});

t.test('setgroups: may be denied in a user namespace when there is nothing to set', async (t) => {
  const tolerant = (c: PlanContext) => buildPlan(c).ops.filter((o) => o.op === 'SETGROUPS').map((o) => o.args.length === 3);
  t.same(tolerant(ctx(withUserNs)), [true, true]);
  t.same(tolerant(ctx()), [false], 'no user namespace: setgroups must work');
  const withGids = ctx((s) => {
    withUserNs(s);
    s.process.user.additionalGids = [5];
  });
  t.same(tolerant(withGids), [true, false], 'asked-for groups fail loudly');
});

t.test('sysfs in a user namespace without its own network namespace is the host /sys bound', async (t) => {
  const c = ctx((s) => {
    withUserNs(s);
    s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'network');
  });
  const ops = buildPlan(c).ops.filter((o) => o.path === 'mounts[5]' || o.path === 'mounts[5].options');
  t.same(ops.map((o) => o.op), ['MOUNT_IN_ROOT', 'REMOUNT_IN_ROOT']);
  t.same(ops[0]!.args, ['/sys', '/sys', null, MS.BIND | MS.REC, null]);
  t.same(ops[1]!.args, ['/sys', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY]);
  const own = buildPlan(ctx(withUserNs)).ops.find((o) => o.path === 'mounts[5]' && o.op === 'MOUNT_IN_ROOT')!;
  t.equal(own.args[2], 'sysfs', 'with its own network namespace, a real sysfs');
});

t.test('exec into a user namespace: cloned inside it', async (t) => {
  const plan = buildExecPlan({ process: { ...defaultSpec().process!, terminal: false }, nsFds: new Map([['user', 5], ['mount', 6]]), preserveFds: 0 });
  t.equal(plan.usernsFd, 5);
  t.same(plan.ops.filter((o) => o.op === 'SETNS').map((o) => o.args), [[6, CLONE.NEWNS]]);
});

t.test('subordinate ids: /etc/subuid parsing and what newuidmap would refuse', async (t) => {
  const text = 'alice:100000:65536\n1001:300000:10\n#junk\nbob:200000:0\n';
  t.same(subordinateRanges(text, 'alice', 1000), [{ start: 100000, count: 65536 }]);
  t.same(subordinateRanges(text, 'carol', 1001), [{ start: 300000, count: 10 }], 'by uid');
  t.same(subordinateRanges(text, 'bob', 1002), [], 'empty ranges ignored');
  const bob = { uid: 1002, gid: 1002, name: 'bob' };
  const alice = { uid: 1000, gid: 1000, name: 'alice' };
  const own = [{ containerID: 0, hostID: 1002, size: 1 }];
  t.doesNotThrow(() => checkSubordinate('uid', own, bob, text), 'the own id needs no entry');
  t.throws(() => checkSubordinate('uid', [...own, { containerID: 1, hostID: 200000, size: 10 }], bob, text), {
    code: 'ERR_CONFIG_INVALID',
    message: 'linux.uidMappings: no subordinate uids for user bob in /etc/subuid',
  });
  t.throws(() => checkSubordinate('gid', [{ containerID: 0, hostID: 165000, size: 1000 }], alice, text), {
    message: "linux.gidMappings[0]: host gids 165000-165999 are not among user alice's subordinate gids in /etc/subgid (100000-165535)",
  });
  t.doesNotThrow(() => checkSubordinate('uid', [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }], alice, text));
  t.ok(ownIdOnly(own, 1002));
  t.notOk(ownIdOnly([{ containerID: 0, hostID: 1002, size: 2 }], 1002));
});

t.test('rootless cgroups: only real limits need a cgroup', async (t) => {
  t.notOk(wantsLimits(undefined));
  t.notOk(wantsLimits({ devices: [{ allow: false, access: 'rwm' }] }));
  t.ok(wantsLimits({ memory: { limit: 1 << 20 } }));
});
