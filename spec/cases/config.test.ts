// config.md / config-linux.md, checked from inside the container.
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, config, said, suite } from '../lib/runtime';

const test = suite(__filename);

const sh = (script: string) => config(['sh', '-c', script]);

function runIn(t: { teardown(fn: () => void): void }, cfg: any): { code: number; out: string[]; stderr: string } {
  const rt = new Runtime(t);
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), rt.id()]);
  return { code: r.code, out: r.stdout.trim().split('\n'), stderr: r.stderr };
}

test('process: args, env, cwd, user, additionalGids, umask, rlimits', async (t) => {
  const cfg = sh('echo "$A"; pwd; id -u; id -g; id -G; umask; ulimit -n');
  cfg.process.env.push('A=b c');
  cfg.process.cwd = '/tmp';
  cfg.process.user = { uid: 1000, gid: 1001, additionalGids: [5, 6], umask: 0o027 };
  cfg.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }];
  const r = runIn(t, cfg);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.same(r.out, ['b c', '/tmp', '1000', '1001', '1001 5 6', '0027', '100'], 'config.md "process": env, cwd, user.uid/gid, additionalGids, umask and rlimits as configured (echo $A; pwd; id -u; id -g; id -G; umask; ulimit -n)');
});

test('process: capabilities and noNewPrivileges', async (t) => {
  const r = runIn(t, sh('grep -E "^(CapEff|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status'));
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  // AUDIT_WRITE 29, KILL 5, NET_BIND_SERVICE 10
  const mask = ((1n << 29n) | (1n << 5n) | (1n << 10n)).toString(16).padStart(16, '0');
  t.same(r.out, [`CapEff:\t${mask}`, `CapBnd:\t${mask}`, 'CapAmb:\t0000000000000000', 'NoNewPrivs:\t1'], 'config.md "capabilities": exactly the configured sets, none ambient; noNewPrivileges sets NoNewPrivs');
});

test('process: oomScoreAdj', async (t) => {
  const cfg = sh('cat /proc/self/oom_score_adj');
  cfg.process.oomScoreAdj = 123;
  t.same(runIn(t, cfg).out, ['123'], 'config.md "oomScoreAdj": /proc/self/oom_score_adj holds the value');
});

test('root.readonly', async (t) => {
  const cfg = sh('touch /x 2>/dev/null && echo rw || echo ro; touch /tmp/y 2>/dev/null && echo tmp-rw || echo tmp-ro');
  cfg.root.readonly = true;
  t.same(runIn(t, cfg).out, ['ro', 'tmp-ro'], 'config.md "root.readonly": the root filesystem is read-only inside the container');
});

test('mounts: tmpfs with options, bind with ro, in order', async (t) => {
  const rt = new Runtime(t);
  const host = join(rt.dir, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'f'), 'from-host\n');
  const cfg = sh('grep " /scratch " /proc/self/mounts | cut -d" " -f3,4; cat /data/f; touch /data/g 2>/dev/null || echo ro; cat /scratch/data/f');
  cfg.mounts.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m', 'mode=700'] });
  cfg.mounts.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro'] });
  // A later mount lands inside an earlier one: order is the config's.
  cfg.mounts.push({ destination: '/scratch/data', type: 'bind', source: host, options: ['rbind'] });
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), rt.id()]);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.match(r.stdout, /^tmpfs rw,nosuid,[^\n]*size=1024k,mode=700[^\n]*\nfrom-host\nro\nfrom-host\n$/, 'config.md "mounts": options applied, ro bind read-only, mounts made in the listed order');
});

test('hostname and domainname need and get a UTS namespace', async (t) => {
  const cfg = sh('hostname; cat /proc/sys/kernel/domainname');
  cfg.hostname = 'spec-host';
  cfg.domainname = 'spec.domain';
  t.same(runIn(t, cfg).out, ['spec-host', 'spec.domain'], 'config.md "hostname"/"domainname": the container sees the configured names');
});

test('namespaces: a new pid namespace makes the process pid 1', async (t) => {
  t.same(runIn(t, sh('echo $$')).out, ['1'], 'config-linux.md "pid" namespace: the process is pid 1 in its new namespace');
});

test('maskedPaths and readonlyPaths', async (t) => {
  const cfg = sh('wc -c < /proc/keys; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo rw || echo ro');
  t.same(runIn(t, cfg).out, ['0', '0', 'ro'], 'config-linux.md: maskedPaths read empty, readonlyPaths are read-only');
});

test('default devices and /dev symlinks (config-linux.md "Default Devices")', async (t) => {
  const r = runIn(t, sh('for d in null zero full random urandom tty; do stat -c "%n %F %t:%T" /dev/$d; done; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done'));
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.same(r.out, [
    '/dev/null character special file 1:3',
    '/dev/zero character special file 1:5',
    '/dev/full character special file 1:7',
    '/dev/random character special file 1:8',
    '/dev/urandom character special file 1:9',
    '/dev/tty character special file 5:0',
    '/proc/self/fd',
    '/proc/self/fd/0',
    '/proc/self/fd/1',
    '/proc/self/fd/2',
    'pts/ptmx',
  ]);
});

test('linux.devices: mknod with type, numbers, mode and owner', async (t) => {
  const cfg = sh('stat -c "%F %t:%T %a %u:%g" /dev/spec-zero');
  cfg.linux.devices = [{ path: '/dev/spec-zero', type: 'c', major: 1, minor: 5, fileMode: 0o620, uid: 7, gid: 8 }];
  t.same(runIn(t, cfg).out, ['character special file 1:5 620 7:8'], 'config-linux.md "devices": type, major:minor, fileMode, uid:gid as configured');
});

test('linux.sysctl in the container\'s network namespace', async (t) => {
  const cfg = sh('cat /proc/sys/net/ipv4/ip_forward');
  cfg.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  const r = runIn(t, cfg);
  t.same(r.out, ['1'], `config-linux.md "sysctl": the value is set in the container's namespace ${r.stderr}`);
});

test('linux.seccomp: an errno action', async (t) => {
  const cfg = sh('mkdir /tmp/d 2>&1; grep ^Seccomp: /proc/self/status');
  cfg.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
  t.same(runIn(t, cfg).out, ["mkdir: can't create directory '/tmp/d': Operation not permitted", 'Seccomp:\t2'], 'config-linux.md "seccomp": SCMP_ACT_ERRNO with errnoRet 1 (EPERM), filter mode 2');
});

test('linux.personality LINUX32', async (t) => {
  const cfg = sh('uname -m');
  cfg.linux.personality = { domain: 'LINUX32' };
  t.same(runIn(t, cfg).out, ['i686'], 'config-linux.md "personality": LINUX32 makes uname -m report i686');
});

test('namespaces joined by path (config-linux.md "Namespaces": path)', async (t) => {
  const rt = new Runtime(t);
  const a = rt.id();
  const cfgA = config(['sleep', '60']);
  cfgA.hostname = 'first';
  t.equal(rt.run(['run', '-d', '--bundle', rt.bundle(cfgA), a]).code, 0);
  const pid = rt.state(a).pid;
  const cfgB = sh('hostname; readlink /proc/self/ns/net');
  delete cfgB.hostname;
  cfgB.linux.namespaces = cfgB.linux.namespaces.map((n: any) => (n.type === 'uts' || n.type === 'network' ? { type: n.type, path: `/proc/${pid}/ns/${n.type === 'network' ? 'net' : 'uts'}` } : n));
  const r = rt.run(['run', '--bundle', rt.bundle(cfgB), rt.id()]);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.same(r.stdout.trim().split('\n'), ['first', readlinkSync(`/proc/${pid}/ns/net`)], 'config-linux.md "path": the process is placed in the namespaces of that path');
});

test('user namespace with uid/gid mappings', async (t) => {
  const cfg = sh('id -u; cat /proc/self/uid_map | tr -s " " | sed "s/^ //"; cat /proc/self/gid_map | tr -s " " | sed "s/^ //"');
  cfg.linux.namespaces.push({ type: 'user' });
  cfg.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  cfg.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  // The mapped root cannot read the host-owned busybox tree unless it is world-readable, which it is.
  const r = runIn(t, cfg);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.same(r.out, ['0', '0 100000 65536', '0 100000 65536'], 'config-linux.md "uidMappings"/"gidMappings": the maps hold the configured ranges');
});

test('cgroup resources: what the container\'s cgroup files hold (v1 host view)', async (t) => {
  const rt = new Runtime(t);
  const id = rt.id();
  const path = `/spec-${process.pid}-${id}`;
  const cfg = config(['sleep', '60']);
  cfg.linux.cgroupsPath = path;
  cfg.linux.resources = { memory: { limit: 64 << 20 }, cpu: { shares: 512, quota: 50000, period: 100000 }, pids: { limit: 32 } };
  t.equal(rt.run(['create', '--bundle', rt.bundle(cfg), id]).code, 0);
  const read = (ctrl: string, file: string) => readFileSync(join('/sys/fs/cgroup', ctrl, path, file), 'utf8').trim();
  t.equal(read('memory', 'memory.limit_in_bytes'), String(64 << 20), 'config-linux.md "memory.limit"');
  t.equal(read('cpu', 'cpu.shares'), '512', 'config-linux.md "cpu.shares"');
  t.equal(read('cpu', 'cpu.cfs_quota_us'), '50000', 'config-linux.md "cpu.quota"');
  t.equal(read('pids', 'pids.max'), '32', 'config-linux.md "pids.limit"');
  t.ok(read('pids', 'cgroup.procs').split('\n').includes(String(rt.state(id).pid)), 'the init is in the cgroup');
  t.equal(rt.run(['delete', '--force', id]).code, 0);
  t.notOk(existsSync(join('/sys/fs/cgroup', 'pids', path)), 'delete removed the cgroup');
}, { skip: existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') ? undefined : 'host has no cgroup v1 memory controller' });

test('process.scheduler and ioPriority', async (t) => {
  const cfg = sh('grep policy /proc/self/sched | tr -s " "; cut -d" " -f19 /proc/self/stat; ionice -p $$');
  cfg.process.scheduler = { policy: 'SCHED_BATCH', nice: 3 };
  cfg.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 2 };
  t.same(runIn(t, cfg).out, ['policy : 3', '3', 'best-effort: prio 2'], 'config.md "scheduler" (SCHED_BATCH = 3, nice 3) and "ioPriority" (best-effort, 2)');
});

test('linux.rootfsPropagation slave', async (t) => {
  const cfg = sh('awk \'$5 == "/" { for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) s = 1 } END { print s ? "shared" : "not-shared" }\' /proc/self/mountinfo');
  cfg.linux.rootfsPropagation = 'slave';
  const r = runIn(t, cfg);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.same(r.out, ['not-shared'], 'config-linux.md "rootfsPropagation": a slave root is not a shared peer of the host');
});

for (const prop of ['unbindable', 'runbindable']) {
  test(`linux.rootfsPropagation ${prop}`, async (t) => {
    const cfg = sh('awk \'$5 == "/" { for (i = 7; $i != "-"; i++) if ($i == "unbindable") u = 1 } END { print u ? "unbindable" : "bindable" }\' /proc/self/mountinfo');
    cfg.linux.rootfsPropagation = prop;
    const r = runIn(t, cfg);
    t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
    t.same(r.out, ['unbindable'], `config-linux.md "rootfsPropagation": / is ${prop} in the container`);
  });
}

test('process.rlimits: soft and hard of each type (/proc/self/limits)', async (t) => {
  // Lines read "Max core file size  0  4096  bytes": the resource's first word, soft, hard.
  const cfg = sh('awk \'/^Max (open files|processes|core file size|msgqueue size)/ { print $2, $(NF - 2), $(NF - 1) }\' /proc/self/limits');
  cfg.process.rlimits = [
    { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 },
    { type: 'RLIMIT_NPROC', soft: 300, hard: 400 },
    { type: 'RLIMIT_CORE', soft: 0, hard: 4096 },
    { type: 'RLIMIT_MSGQUEUE', soft: 8192, hard: 16384 },
  ];
  const r = runIn(t, cfg);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  t.same(r.out, ['core 0 4096', 'processes 300 400', 'open 100 200', 'msgqueue 8192 16384'], 'config.md "rlimits": each type gets the configured soft and hard limits');
});
