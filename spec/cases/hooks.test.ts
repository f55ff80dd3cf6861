// config.md "POSIX-platform Hooks" and runtime.md lifecycle: the six kinds,
// their order, state on stdin, the namespace each runs in, failures.
import { chmodSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, config, said, suite } from '../lib/runtime';

const test = suite(__filename);

const KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

test('all six hooks run in order, with the state on stdin, in the right namespaces', async (t) => {
  const rt = new Runtime(t);
  const log = join(rt.dir, 'hooks');
  mkdirSync(log);
  // Host hooks: a host shell script. createContainer/startContainer run in the container's mount namespace: busybox sh there.
  const hostHook = join(rt.dir, 'hook.sh');
  writeFileSync(hostHook, `#!/bin/sh\nstate=$(cat)\necho "$1 $(readlink /proc/self/ns/mnt) $state" >> ${log}/log\n`);
  chmodSync(hostHook, 0o755);
  const cfg = config(['sh', '-c', `echo "main $(readlink /proc/self/ns/mnt)" >> ${log}/log`]);
  cfg.mounts.push({ destination: log, type: 'bind', source: log, options: ['rbind', 'rw'] });
  cfg.hooks = Object.fromEntries(
    KINDS.map((k) =>
      k === 'createContainer' || k === 'startContainer'
        ? [k, [{ path: '/bin/sh', args: ['sh', '-c', `state=$(cat); echo "${k} $(readlink /proc/self/ns/mnt) $state" >> ${log}/log`] }]]
        : [k, [{ path: hostHook, args: ['hook.sh', k] }]],
    ),
  );
  const id = rt.id();
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), id]);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  const lines = readFileSync(join(log, 'log'), 'utf8').trim().split('\n');
  const order = lines.map((l) => l.split(' ')[0]);
  t.same(order.filter((k) => k !== 'main' && k !== 'poststart'), ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststop'], 'runtime.md lifecycle: the hooks run in the spec\'s order');
  t.ok(order.indexOf('poststart') > order.indexOf('startContainer') && order.indexOf('poststart') < order.indexOf('poststop'), `runtime.md steps 7-9 and 13: poststart after startContainer, before poststop (order seen: ${order.join(' ')})`);
  const hostMnt = readlinkSync('/proc/self/ns/mnt');
  const mnt = Object.fromEntries(lines.map((l) => [l.split(' ')[0], l.split(' ')[1]]));
  for (const k of ['prestart', 'createRuntime', 'poststart', 'poststop']) t.equal(mnt[k], hostMnt, `${k} runs in the runtime's namespace`);
  for (const k of ['createContainer', 'startContainer']) t.equal(mnt[k], mnt['main'], `${k} runs in the container's mount namespace`);
  for (const l of lines.filter((x) => !x.startsWith('main'))) {
    const state = JSON.parse(l.slice(l.indexOf('{')));
    t.equal(state.id, id, `${l.split(' ')[0]}: state.id on stdin`);
  }
});

test('prestart, createRuntime and createContainer hooks see the status "created"', async (t) => {
  // runtime.md: "created" is the status once the create operation has made the environment
  // ("after step 2 in the lifecycle"); these hooks are steps 3-5, before start. crun 1.8.1
  // sends "created"; runc 1.1.5 sends "creating", which the spec keeps for step 2 itself.
  const rt = new Runtime(t);
  const log = join(rt.dir, 'status');
  mkdirSync(log);
  const hostHook = join(rt.dir, 'status.sh');
  writeFileSync(hostHook, `#!/bin/sh\necho "$1 $(cat)" >> ${log}/log\n`);
  chmodSync(hostHook, 0o755);
  const cfg = config(['true']);
  cfg.mounts.push({ destination: log, type: 'bind', source: log, options: ['rbind', 'rw'] });
  cfg.hooks = {
    prestart: [{ path: hostHook, args: ['status.sh', 'prestart'] }],
    createRuntime: [{ path: hostHook, args: ['status.sh', 'createRuntime'] }],
    createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `echo "createContainer $(cat)" >> ${log}/log`] }],
  };
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), rt.id()]);
  t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
  const lines = readFileSync(join(log, 'log'), 'utf8').trim().split('\n');
  t.equal(lines.length, 3, 'each hook ran once');
  for (const l of lines) t.equal(JSON.parse(l.slice(l.indexOf('{'))).status, 'created', `${l.split(' ')[0]}: state.status on stdin`);
});

test('a failing createRuntime hook fails create and leaves no container', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['true']);
  cfg.hooks = { createRuntime: [{ path: '/bin/false' }] };
  const id = rt.id();
  t.not(rt.run(['create', '--bundle', rt.bundle(cfg), id]).code, 0, 'runtime.md lifecycle step 4: a failing createRuntime hook is an error');
  t.same(rt.ids(), [], 'runtime.md "Errors": a failed create leaves no container (list is empty)');
});

test('a failing poststop hook does not stop delete', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['true']);
  cfg.hooks = { poststop: [{ path: '/bin/false' }] };
  const id = rt.id();
  t.equal(rt.run(['create', '--bundle', rt.bundle(cfg), id]).code, 0, 'runtime.md "Create": the operation succeeds');
  t.equal(rt.run(['start', id]).code, 0, 'runtime.md "Start": the operation succeeds');
  rt.waitStatus(id, 'stopped');
  t.equal(rt.run(['delete', id]).code, 0, 'poststop errors are logged, delete goes on');
  t.same(rt.ids(), [], 'runtime.md lifecycle step 13: a failing poststop hook is a warning, the container is deleted');
});

test('a hook past its timeout fails create', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['true']);
  cfg.hooks = { prestart: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] };
  const id = rt.id();
  const started = Date.now();
  t.not(rt.run(['create', '--bundle', rt.bundle(cfg), id]).code, 0, 'config.md "timeout": a hook past it fails create');
  t.ok(Date.now() - started < 8000, 'it did not wait for the hook to finish');
  t.same(rt.ids(), [], 'runtime.md "Errors": a failed create leaves no container (list is empty)');
});
