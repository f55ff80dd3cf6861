// config-linux.md "Namespaces": ipc, cgroup and time — a namespace without a
// path is new (its inode differs from the runtime's), one with a path is that
// namespace (the same inode as the target's). "pid", "uts", "network" and
// "user" are in config.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Runtime, config, said, suite } from '../lib/runtime';

const test = suite(__filename);

const NO_TIME_NS = existsSync('/proc/self/ns/time') ? undefined : 'kernel without time namespaces (no /proc/self/ns/time)';
const NO_CGROUP_NS = existsSync('/proc/self/ns/cgroup') ? undefined : 'kernel without cgroup namespaces (no /proc/self/ns/cgroup)';

/** The inode link of this (the runtime's) namespace of a kind. */
const host = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);

/**
 * Starts container A with the namespace new (plus `patch`); A writes what
 * `inside` prints to a shared directory. Then B joins A's by path; B prints its
 * own link of that kind and what `insideB` prints.
 */
function newAndJoined(t: Test, kind: string, inside: string, insideB = '', patch: (cfg: any) => void = () => undefined) {
  const rt = new Runtime(t);
  const shared = join(rt.dir, 'shared');
  mkdirSync(shared);
  const a = rt.id();
  const cfgA = config(['sh', '-c', `${inside} > /shared/tmp; mv /shared/tmp /shared/inside; exec sleep 60`]);
  cfgA.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
  if (!cfgA.linux.namespaces.some((n: any) => n.type === kind)) cfgA.linux.namespaces.push({ type: kind });
  patch(cfgA);
  const ra = rt.run(['run', '-d', '--bundle', rt.bundle(cfgA), a]);
  t.equal(ra.code, 0, `run -d with a new ${kind} namespace succeeds${said(ra)}`);
  if (ra.code !== 0) return undefined;
  const pid = rt.state(a).pid;
  const nsA = readlinkSync(`/proc/${pid}/ns/${kind}`);
  t.not(nsA, host(kind), `config-linux.md: no path → the runtime MUST create a new ${kind} namespace (the runtime's is ${host(kind)})`);
  for (let i = 0; i < 500 && !existsSync(join(shared, 'inside')); i++) spawnSync('sleep', ['0.01']);
  const insideA = existsSync(join(shared, 'inside')) ? readFileSync(join(shared, 'inside'), 'utf8').trim().split('\n') : [];

  const cfgB = config(['sh', '-c', `readlink /proc/self/ns/${kind}; ${insideB}`]);
  cfgB.linux.namespaces = cfgB.linux.namespaces.filter((n: any) => n.type !== kind).concat({ type: kind, path: `/proc/${pid}/ns/${kind}` });
  const rb = rt.run(['run', '--bundle', rt.bundle(cfgB), rt.id()]);
  t.equal(rb.code, 0, `run joining ${kind} by path succeeds${said(rb)}`);
  const out = rb.stdout.trim().split('\n');
  t.equal(out[0], nsA, `config-linux.md "path": the runtime MUST place the process in that ${kind} namespace`);
  return { insideA, insideB: out.slice(1) };
}

test('ipc: new, and joined by path', async (t) => {
  const r = newAndJoined(t, 'ipc', 'cat /proc/sysvipc/shm | wc -l');
  if (!r) return;
  t.equal(r.insideA[0], '1', 'a new ipc namespace starts with no SysV shared memory (only the header of /proc/sysvipc/shm)');
});

test('cgroup: new, and joined by path', async (t) => {
  const r = newAndJoined(t, 'cgroup', 'cat /proc/self/cgroup');
  if (!r) return;
  const paths = r.insideA.map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
  t.ok(paths.length > 0 && paths.every((p) => p === '/'), `config-linux.md "cgroup": an isolated view — the container's own cgroup is its root (saw ${paths.join(' ')})`);
}, { skip: NO_CGROUP_NS });

test('time: new with timeOffsets, and joined by path', async (t) => {
  const offsets = 'cat /proc/self/timens_offsets | tr -s " " | sort';
  const r = newAndJoined(t, 'time', offsets, offsets, (cfg) => {
    cfg.linux.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 172800, nanosecs: 500 } };
  });
  if (!r) return;
  const want = ['boottime 172800 500', 'monotonic 86400 0'];
  t.same(r.insideA, want, 'config-linux.md "timeOffsets": the new namespace has the configured clock offsets (/proc/self/timens_offsets)');
  t.same(r.insideB, want, 'a process joining it by path sees the same offsets');
}, { skip: NO_TIME_NS });

/** A process of the test's own in a new mount namespace (a copy of the runtime's), for a container to join; killed at teardown. */
function mountNsHolder(t: Test): number {
  const child = require('node:child_process').spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '120'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  for (let i = 0; i < 500 && readlinkSync(`/proc/${child.pid}/ns/mnt`) === host('mnt'); i++) spawnSync('sleep', ['0.01']);
  return child.pid as number;
}

/** A runtime that leaves mounts over the rootfs behind must not leave them to the next case. */
function detachLeftovers(rootfs: string, before: string): void {
  for (let i = 0; i < 10 && mountTable() !== before; i++) spawnSync('umount', ['-l', rootfs]);
}

const mountTable = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ').slice(4, 5).join()).sort().join('\n');

test('mount: joined by path, the bundle rootfs is set up inside it', async (t) => {
  const rt = new Runtime(t);
  const holder = mountNsHolder(t);
  const before = mountTable();
  const cfg = config(['sh', '-c', 'readlink /proc/self/ns/mnt; stat -c %i /; test -e /proc/self/status && echo proc']);
  cfg.linux.namespaces = cfg.linux.namespaces.filter((n: any) => n.type !== 'mount').concat({ type: 'mount', path: `/proc/${holder}/ns/mnt` });
  const bundle = rt.bundle(cfg);
  const r = rt.run(['run', '--bundle', bundle, rt.id()]);
  t.equal(r.code, 0, `run joining a mount namespace by path succeeds${said(r)}`);
  const out = r.stdout.trim().split('\n');
  t.equal(out[0], readlinkSync(`/proc/${holder}/ns/mnt`), 'config-linux.md "path": the process is in that mount namespace');
  const rootfsIno = String(statSync(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).root.path).ino);
  t.equal(out[1], rootfsIno, 'config.md "root": root.path is the container\'s / (runc and crun set it up in the joined namespace too)');
  t.equal(out[2], 'proc', 'config.md "mounts": the config\'s mounts are made in the joined namespace');
  t.equal(mountTable(), before, 'nothing was mounted in the runtime\'s own mount namespace');
});

test('uts: joined by path, hostname is set in it', async (t) => {
  const rt = new Runtime(t);
  const a = rt.id();
  const cfgA = config(['sleep', '60']);
  t.equal(rt.run(['run', '-d', '--bundle', rt.bundle(cfgA), a]).code, 0, 'a container with a new UTS namespace runs');
  const pid = rt.state(a).pid;
  const cfgB = config(['hostname']);
  cfgB.hostname = 'joined-uts';
  cfgB.linux.namespaces = cfgB.linux.namespaces.filter((n: any) => n.type !== 'uts').concat({ type: 'uts', path: `/proc/${pid}/ns/uts` });
  const r = rt.run(['run', '--bundle', rt.bundle(cfgB), rt.id()]);
  t.equal(r.code, 0, `config.md "hostname": a UTS namespace entry, new or joined, is what it needs${said(r)}`);
  t.equal(r.stdout.trim(), 'joined-uts', 'the hostname is set in the joined namespace');
  const seen = spawnSync('nsenter', ['-t', String(pid), '-u', 'hostname'], { encoding: 'utf8' }).stdout.trim();
  t.equal(seen, 'joined-uts', 'the first container sees it: the namespace is shared');
});

test('mount: none listed, the container runs chrooted in the runtime\'s mount namespace and delete removes its mounts', async (t) => {
  const rt = new Runtime(t);
  const before = mountTable();
  const cfg = config(['sh', '-c', 'stat -c %i /; readlink /proc/self/ns/mnt']);
  cfg.linux.namespaces = cfg.linux.namespaces.filter((n: any) => n.type !== 'mount');
  // runc refuses masked and read-only paths without a mount namespace ("unable to restrict sys entries"); runts applies them under the rootfs.
  delete cfg.linux.maskedPaths;
  delete cfg.linux.readonlyPaths;
  const id = rt.id();
  const bundle = rt.bundle(cfg);
  const rootfs = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).root.path;
  // A runtime that leaves its mounts behind must not leave them to the next case.
  t.teardown(() => detachLeftovers(rootfs, before));
  const r = rt.run(['run', '--bundle', bundle, id]);
  t.equal(r.code, 0, `config-linux.md "Namespaces": without a mount entry the container inherits the runtime's mount namespace${said(r)}`);
  const out = r.stdout.trim().split('\n');
  t.equal(out[0], String(statSync(rootfs).ino), 'config.md "root": / is the bundle rootfs');
  t.equal(out[1], host('mnt'), 'the process is in the runtime\'s mount namespace');
  // runc 1.1.5 leaves the rootfs bind and every config mount on the host after delete.
  t.equal(mountTable(), before, 'after delete the host mount table is as it was');
});

test('mount: none listed, exec runs chrooted too, and a failed create leaves no mount', async (t) => {
  const rt = new Runtime(t);
  const before = mountTable();
  const cfg = config(['sleep', '60']);
  cfg.linux.namespaces = cfg.linux.namespaces.filter((n: any) => n.type !== 'mount');
  delete cfg.linux.maskedPaths;
  delete cfg.linux.readonlyPaths;
  const bundle = rt.bundle(cfg);
  const rootfs = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).root.path;
  t.teardown(() => detachLeftovers(rootfs, before));
  const id = rt.id();
  t.equal(rt.run(['run', '-d', '--bundle', bundle, id]).code, 0, 'run -d succeeds');
  const e = rt.run(['exec', id, 'stat', '-c', '%i', '/']);
  t.equal(e.stdout.trim(), String(statSync(rootfs).ino), `runtime.md "exec" (runc's extension): the exec'd process sees the container's root${said(e)}`);
  t.equal(rt.run(['delete', '--force', id]).code, 0, 'delete --force succeeds');
  const bad = config(['true']);
  bad.linux.namespaces = bad.linux.namespaces.filter((n: any) => n.type !== 'mount');
  delete bad.linux.maskedPaths;
  delete bad.linux.readonlyPaths;
  bad.mounts.push({ destination: '/mnt', type: 'no-such-fs', source: 'none' });
  const r = rt.run(['run', '--bundle', rt.bundle(bad), rt.id()]);
  t.not(r.code, 0, 'a mount the kernel refuses fails create');
  t.equal(mountTable(), before, 'runtime.md "Errors": the failed create left no mount in the runtime\'s mount namespace');
});
