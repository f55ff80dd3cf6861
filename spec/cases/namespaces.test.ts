// config-linux.md "Namespaces": ipc, cgroup and time — a namespace without a
// path is new (its inode differs from the runtime's), one with a path is that
// namespace (the same inode as the target's). "pid", "uts", "network" and
// "user" are in config.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
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
